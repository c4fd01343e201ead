//! The bytes of an established session, split into frames as
//! `Session::recv` does.
#![no_main]

#[path = "../harness/session_frames.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
