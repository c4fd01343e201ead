//! A raw mDNS packet, from a chosen source address, read by the probe
//! parser into probe hints.
#![no_main]

#[path = "../harness/probe_packet.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
