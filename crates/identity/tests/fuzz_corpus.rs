//! Replays the committed corpus of the `key_file` fuzz target through the
//! same harness (fuzz/harness/key_file.rs, docs/fuzzing.md): every input
//! loads or fails with the error the format predicts, never panics, and the
//! file is left byte-for-byte unchanged.

#[path = "../../../fuzz/harness/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/harness/key_file.rs"]
mod harness;

#[test]
fn key_file_corpus_loads_or_fails_typed_and_leaves_the_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    corpus::replay(env!("CARGO_MANIFEST_DIR"), "key_file", |data| {
        harness::run(dir.path(), data)
    });
}
