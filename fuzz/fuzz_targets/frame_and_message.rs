//! Bytes from a TCP peer: framing by `FrameReader`, then `ParsedLine`.
#![no_main]

#[path = "../harness/frame_and_message.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
