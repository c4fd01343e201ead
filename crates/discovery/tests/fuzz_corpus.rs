//! Replays the committed corpus of the `txt_record` fuzz target through the
//! same harness (fuzz/harness/txt_record.rs, docs/fuzzing.md): resolved
//! DNS-SD records become a `PeerInfo` or a rejection, never a panic.

#[path = "../../../fuzz/harness/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/harness/txt_record.rs"]
mod harness;

#[test]
fn txt_record_corpus_converts_or_rejects_without_panic() {
    corpus::replay(env!("CARGO_MANIFEST_DIR"), "txt_record", harness::run);
}
