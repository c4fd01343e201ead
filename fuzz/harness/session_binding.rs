//! Harness of the `session_binding` fuzz target, shared with the corpus
//! regression test `crates/transport/tests/fuzz_corpus.rs` (docs/fuzzing.md).
//!
//! The input is a received binding payload (`docs/wire.md` §3.8.4), decoded
//! with [`BindingPayload::decode`]. On `Ok`, [`BindingPayload::encode`]
//! gives back exactly the input (the wire form is canonical and decode is
//! exact-length), and [`BindingPayload::check`] against the test vector's
//! Noise key, peer id and addresses returns `Ok` or one of the check errors
//! of §3.8.5 (4–6) consistent with the payload. On `Err`, the error is
//! `BadPayload` with one of the documented reasons.

use std::net::{IpAddr, SocketAddr};

use tazcom_identity::{Identity, PeerId};
use tazcom_transport::session::{encode_address, BindingPayload, HandshakeError};

/// The Noise static key of the test vector (`11` × 32).
pub(crate) const NOISE_STATIC: [u8; 32] = [0x11; 32];
/// The test vector's sender's own end, `192.0.2.1:4000`, i.e. this side's
/// socket peer address.
pub(crate) const OUR_PEER: &str = "192.0.2.1:4000";
/// The test vector's `remote`, `192.0.2.2:50000`: this side's socket local
/// address.
pub(crate) const OUR_LOCAL: &str = "192.0.2.2:50000";

/// Every `reason` `BindingPayload::decode` may give.
const DECODE_REASONS: &[&str] = &[
    "empty payload",
    "unsupported payload version",
    "truncated peer id",
    "truncated address",
    "truncated listen port",
    "unknown address family",
    "IPv4-mapped address encoded as IPv6",
    "truncated signature",
    "trailing bytes after the signature",
    "invalid verifying key",
];

/// The expected peer: the test vector's (Ed25519 seed `07` × 32).
pub(crate) fn expected_peer() -> PeerId {
    Identity::from_seed([7; 32]).peer_id()
}

/// Runs one input; see the module docs.
pub(crate) fn run(data: &[u8]) {
    let payload = match BindingPayload::decode(data) {
        Ok(payload) => payload,
        Err(HandshakeError::BadPayload { reason }) => {
            assert!(DECODE_REASONS.contains(&reason), "undocumented {reason:?}");
            return;
        }
        Err(other) => panic!("decode gave {other:?}"),
    };
    assert_eq!(payload.encode(), data, "encode(decode(x)) != x");
    assert!(
        matches!(data.len(), 113 | 125 | 137),
        "{} bytes",
        data.len()
    );
    for addr in [payload.local, payload.remote] {
        assert!(!is_v4_mapped(addr), "{addr} decoded as IPv6");
    }
    let (expected, our_local, our_peer): (PeerId, SocketAddr, SocketAddr) = (
        expected_peer(),
        OUR_LOCAL.parse().expect("a socket address"),
        OUR_PEER.parse().expect("a socket address"),
    );
    match payload.check(&NOISE_STATIC, &expected, our_local, our_peer) {
        Ok(()) => {
            assert_eq!(payload.peer, expected);
            assert_eq!(encode_address(payload.local), encode_address(our_peer));
            assert_eq!(encode_address(payload.remote), encode_address(our_local));
        }
        Err(HandshakeError::BadSignature) => {}
        Err(HandshakeError::WrongPeer {
            expected: named,
            found,
        }) => assert_eq!((named, found), (expected, payload.peer)),
        Err(HandshakeError::AddressMismatch { expected, got }) => {
            assert_eq!(payload.peer, expected_peer());
            assert!(
                [(our_peer, payload.local), (our_local, payload.remote)].contains(&(expected, got)),
                "mismatch {expected} / {got} not from the payload"
            );
        }
        Err(other) => panic!("check gave {other:?}"),
    }
}

/// `::ffff:a.b.c.d`, which the wire form carries as IPv4 only.
fn is_v4_mapped(addr: SocketAddr) -> bool {
    matches!(addr.ip(), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
}
