//! Replays the committed corpus of the `txt_record` fuzz target through the
//! same harness (fuzz/harness/txt_record.rs, docs/fuzzing.md): resolved
//! DNS-SD records become a `PeerInfo` or a rejection, never a panic. The
//! same inputs, read as raw mDNS packets, go through the probe parser.

#[path = "../../../fuzz/harness/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/harness/txt_record.rs"]
mod harness;

use std::net::{IpAddr, Ipv4Addr};

use tazcom_discovery::fuzzing::{probe_hints, PROBE_OWN_ID};
use tazcom_discovery::wire::TXT_ID_KEY;

#[test]
fn txt_record_corpus_converts_or_rejects_without_panic() {
    corpus::replay(env!("CARGO_MANIFEST_DIR"), "txt_record", harness::run);
}

/// Runs one input through the probe parser and checks the hints' shape.
fn probe_run(data: &[u8]) {
    let source = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    for hint in probe_hints(data, source).unwrap_or_default() {
        assert_ne!(hint.peer_id, PROBE_OWN_ID, "own id hinted");
        assert_eq!(hint.txt.get(TXT_ID_KEY), Some(&hint.peer_id.to_string()));
        assert!(!hint.addrs.is_empty(), "no address");
        assert!(hint.addrs.windows(2).all(|w| w[0] < w[1]), "not sorted");
        assert!(hint.addrs.iter().all(|a| a.port() != 0), "port 0");
    }
}

#[test]
fn corpora_as_mdns_packets_parse_or_fail_without_panic() {
    for target in ["txt_record", "frame_and_message"] {
        corpus::replay(env!("CARGO_MANIFEST_DIR"), target, probe_run);
    }
}
