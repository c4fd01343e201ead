//! Replays the committed corpus of the `frame_and_message` fuzz target
//! through the same harness (fuzz/harness/frame_and_message.rs,
//! docs/fuzzing.md): framing loses no byte, parsing never panics.

#[path = "../../../fuzz/harness/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/harness/frame_and_message.rs"]
mod harness;

#[test]
fn frame_and_message_corpus_frames_and_parses_without_panic() {
    corpus::replay(
        env!("CARGO_MANIFEST_DIR"),
        "frame_and_message",
        harness::run,
    );
}
