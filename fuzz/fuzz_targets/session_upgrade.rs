//! A received `SESSION` upgrade line, parsed and re-encoded.
#![no_main]

#[path = "../harness/session_upgrade.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
