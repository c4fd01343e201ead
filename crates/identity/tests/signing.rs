//! Identity, signing and strict verification.

use tazcom_identity::{verify, Domain, Identity, IdentityError, PeerId, PeerIdError, Signature};

/// The signing context of these tests.
const TEST: Domain = Domain::new(b"tazcom/test/1\0");

#[test]
fn same_seed_same_peer_id() {
    let a = Identity::from_seed([3; 32]);
    let b = Identity::from_seed([3; 32]);
    let c = Identity::from_seed([4; 32]);
    assert_eq!(a.peer_id(), b.peer_id());
    assert_ne!(a.peer_id(), c.peer_id());
    assert_eq!(a.peer_id().validate(), Ok(()));
}

#[test]
fn generate_gives_distinct_identities() {
    assert_ne!(
        Identity::generate().peer_id(),
        Identity::generate().peer_id()
    );
}

#[test]
fn sign_then_verify_ok() {
    let id = Identity::generate();
    let sig = id.sign(&TEST, b"greeting");
    assert_eq!(verify(&id.peer_id(), &TEST, b"greeting", &sig), Ok(()));
}

#[test]
fn tampered_message_signature_or_signer_is_rejected() {
    let id = Identity::from_seed([1; 32]);
    let other = Identity::from_seed([2; 32]);
    let sig = id.sign(&TEST, b"greeting");
    let bad = IdentityError::BadSignature {
        peer: id.peer_id().to_string(),
    };

    assert_eq!(
        verify(&id.peer_id(), &TEST, b"greetinG", &sig),
        Err(bad.clone())
    );

    let mut bytes = sig.to_bytes();
    bytes[0] ^= 1;
    assert_eq!(
        verify(
            &id.peer_id(),
            &TEST,
            b"greeting",
            &Signature::from_bytes(bytes)
        ),
        Err(bad)
    );

    assert_eq!(
        verify(&other.peer_id(), &TEST, b"greeting", &sig),
        Err(IdentityError::BadSignature {
            peer: other.peer_id().to_string()
        })
    );
}

#[test]
fn non_point_peer_id_is_an_error_not_a_panic() {
    let mut bytes = [0u8; 32];
    bytes[0] = 2; // y = 2 has no x on the curve
    let peer = PeerId::from_bytes(bytes);
    let sig = Identity::generate().sign(&TEST, b"x");
    assert_eq!(
        verify(&peer, &TEST, b"x", &sig),
        Err(IdentityError::InvalidPeerId(PeerIdError::InvalidKey {
            peer: peer.to_string()
        }))
    );
}

#[test]
fn weak_identity_point_key_is_rejected() {
    // The identity point (y = 1) is a valid encoding but a weak key:
    // verify_strict must refuse it whatever the signature.
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    let peer = PeerId::from_bytes(bytes);
    assert!(peer.validate().is_ok());
    let sig = Signature::from_bytes([0u8; 64]);
    assert!(matches!(
        verify(&peer, &TEST, b"x", &sig),
        Err(IdentityError::BadSignature { .. })
    ));
}

#[test]
fn debug_does_not_leak_the_secret() {
    let seed = [0x5a; 32];
    let id = Identity::from_seed(seed);
    let dbg = format!("{id:?}");
    assert!(dbg.contains(&id.peer_id().short()), "{dbg}");
    assert!(!dbg.contains(&hex::encode(seed)), "{dbg}");
    assert!(!dbg.contains("5a, 5a") && !dbg.contains("90, 90"), "{dbg}");
}

#[test]
fn key_cache_verifies_like_verify_and_stays_bounded() {
    use tazcom_identity::KeyCache;
    let cache = KeyCache::new(2);
    let signers: Vec<Identity> = (0..5).map(|_| Identity::generate()).collect();
    for round in 0..2 {
        for (i, signer) in signers.iter().enumerate() {
            let msg = format!("round {round} signer {i}");
            let sig = signer.sign(&TEST, msg.as_bytes());
            assert!(cache
                .verify(&signer.peer_id(), &TEST, msg.as_bytes(), &sig)
                .is_ok());
            let other = &signers[(i + 1) % signers.len()];
            assert!(
                cache
                    .verify(&other.peer_id(), &TEST, msg.as_bytes(), &sig)
                    .is_err(),
                "a cached key must not accept another signer's signature"
            );
        }
    }
    let not_a_point = tazcom_identity::PeerId::from_bytes([0xff; 32]);
    let sig = signers[0].sign(&TEST, b"x");
    assert!(cache.verify(&not_a_point, &TEST, b"x", &sig).is_err());
    // The identity point (a weak, small-order key) is refused when decoded.
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;
    let weak = tazcom_identity::PeerId::from_bytes(identity_point);
    assert!(matches!(
        cache.verify(&weak, &TEST, b"x", &sig),
        Err(IdentityError::InvalidPeerId(PeerIdError::InvalidKey { .. }))
    ));
}

#[test]
fn signature_bytes_round_trip_and_debug_is_hex() {
    let sig = Identity::from_seed([5; 32]).sign(&TEST, b"bytes");
    let bytes = sig.to_bytes();
    assert_eq!(bytes.len(), tazcom_identity::SIGNATURE_LEN);
    assert_eq!(Signature::from_bytes(bytes), sig);
    assert_eq!(sig.as_bytes(), &bytes);
    assert_eq!(format!("{sig:?}"), format!("Signature({})", hex_of(&bytes)));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issue 13: a signature is made in a domain and verifies only in it, so a
/// signature for one kind of message cannot pass as another's; the bytes
/// signed are `prefix ‖ msg`.
#[test]
fn a_signature_verifies_only_in_its_own_domain() {
    const OTHER: Domain = Domain::new(b"tazcom/other/1\0");
    let id = Identity::from_seed([8; 32]);
    let sig = id.sign(&TEST, b"same bytes");
    assert_eq!(verify(&id.peer_id(), &TEST, b"same bytes", &sig), Ok(()));
    assert!(verify(&id.peer_id(), &OTHER, b"same bytes", &sig).is_err());
    // Moving bytes between the prefix and the message changes nothing only
    // when the concatenation is equal: the prefix is part of what is signed.
    const SHORT: Domain = Domain::new(b"tazcom/test/1");
    assert_eq!(verify(&id.peer_id(), &SHORT, b"\0same bytes", &sig), Ok(()));
}
