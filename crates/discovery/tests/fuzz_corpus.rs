//! Replays the committed corpora of the discovery fuzz targets through the
//! same harnesses (fuzz/harness/, docs/fuzzing.md): resolved DNS-SD records
//! become a `PeerInfo` or a rejection (`txt_record`), raw mDNS packets
//! become well-formed probe hints or nothing (`probe_packet`), never a
//! panic. The other corpora, read as probe inputs, go through the probe
//! parser too.

#[path = "../../../fuzz/harness/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/harness/probe_packet.rs"]
mod probe_harness;
#[path = "../../../fuzz/harness/txt_record.rs"]
mod txt_harness;

#[test]
fn txt_record_corpus_converts_or_rejects_without_panic() {
    corpus::replay(env!("CARGO_MANIFEST_DIR"), "txt_record", txt_harness::run);
}

#[test]
fn probe_packet_corpus_gives_well_formed_hints_without_panic() {
    corpus::replay(
        env!("CARGO_MANIFEST_DIR"),
        "probe_packet",
        probe_harness::run,
    );
}

#[test]
fn other_corpora_as_probe_inputs_parse_or_fail_without_panic() {
    for target in ["txt_record", "frame_and_message"] {
        corpus::replay(env!("CARGO_MANIFEST_DIR"), target, probe_harness::run);
    }
}
