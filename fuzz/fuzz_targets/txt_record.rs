//! A resolved DNS-SD record (name, port, addresses, TXT RDATA) turned into a
//! `PeerInfo` or a rejection.
#![no_main]

#[path = "../harness/txt_record.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
