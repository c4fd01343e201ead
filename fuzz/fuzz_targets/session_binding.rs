//! A received binding payload (Noise handshake messages 2 and 3): decoded,
//! re-encoded and checked.
#![no_main]

#[path = "../harness/session_binding.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
