//! Replays the committed corpora of the transport's fuzz targets through the
//! same harnesses (fuzz/harness/, docs/fuzzing.md): `frame_and_message`
//! (line framing loses no byte, parsing never panics), `session_binding`,
//! `session_upgrade` and `session_frames` (docs/wire.md §3.8).

#[path = "../../../fuzz/harness/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/harness/frame_and_message.rs"]
mod harness;
#[path = "../../../fuzz/harness/session_binding.rs"]
mod session_binding;
#[path = "../../../fuzz/harness/session_frames.rs"]
mod session_frames;
#[path = "../../../fuzz/harness/session_upgrade.rs"]
mod session_upgrade;

#[test]
fn frame_and_message_corpus_frames_and_parses_without_panic() {
    corpus::replay(
        env!("CARGO_MANIFEST_DIR"),
        "frame_and_message",
        harness::run,
    );
}

#[test]
fn session_binding_corpus_decodes_canonically_and_checks() {
    corpus::replay(
        env!("CARGO_MANIFEST_DIR"),
        "session_binding",
        session_binding::run,
    );
}

#[test]
fn session_upgrade_corpus_parses_and_round_trips() {
    corpus::replay(
        env!("CARGO_MANIFEST_DIR"),
        "session_upgrade",
        session_upgrade::run,
    );
}

#[test]
fn session_frames_corpus_splits_exactly() {
    corpus::replay(
        env!("CARGO_MANIFEST_DIR"),
        "session_frames",
        session_frames::run,
    );
}

/// The test vector of docs/wire.md §3.8.4 passes every check of the
/// `session_binding` harness (so the harness's fixed key, peer and
/// addresses are the vector's).
#[test]
fn session_binding_harness_accepts_the_test_vector() {
    let id = tazcom_identity::Identity::from_seed([7; 32]);
    let payload = tazcom_transport::session::BindingPayload::sign(
        &id,
        &session_binding::NOISE_STATIC,
        session_binding::OUR_PEER.parse().unwrap(),
        session_binding::OUR_LOCAL.parse().unwrap(),
        4000,
    );
    assert_eq!(id.peer_id(), session_binding::expected_peer());
    let bytes = payload.encode();
    session_binding::run(&bytes);
    payload
        .check(
            &session_binding::NOISE_STATIC,
            &session_binding::expected_peer(),
            session_binding::OUR_LOCAL.parse().unwrap(),
            session_binding::OUR_PEER.parse().unwrap(),
        )
        .unwrap();
}
