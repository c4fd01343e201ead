//! PeerId wire form: Display/FromStr, serde, Debug, short, curve-point check.

use proptest::prelude::*;
use tazcom_identity::{Identity, PeerId, PeerIdError};

/// Bytes that do not decode to an Ed25519 point (y = 2 has no x on the curve).
const NOT_A_POINT: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 2;
    b
};

fn sample() -> PeerId {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(5);
    }
    PeerId::from_bytes(bytes)
}

#[test]
fn display_is_64_lowercase_hex_and_round_trips() {
    let id = sample();
    let s = id.to_string();
    assert_eq!(s.len(), 64);
    assert!(s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(s, hex::encode(id.as_bytes()));
    assert_eq!(s.parse::<PeerId>(), Ok(id));
}

#[test]
fn short_is_first_8_hex_and_debug_uses_it() {
    let id = sample();
    assert_eq!(id.short(), id.to_string()[..8]);
    assert_eq!(format!("{id:?}"), format!("PeerId({}…)", id.short()));
}

#[test]
fn rejects_wrong_lengths() {
    let s = sample().to_string();
    assert_eq!(
        s[..63].parse::<PeerId>(),
        Err(PeerIdError::WrongLength { found: 63 })
    );
    assert_eq!(
        format!("{s}0").parse::<PeerId>(),
        Err(PeerIdError::WrongLength { found: 65 })
    );
    assert_eq!(
        "".parse::<PeerId>(),
        Err(PeerIdError::WrongLength { found: 0 })
    );
    // Length counts characters, so a multi-byte character is not a panic.
    let multibyte = format!("{}é", &s[..63]);
    assert_eq!(
        multibyte.parse::<PeerId>(),
        Err(PeerIdError::NonHex {
            position: 63,
            character: 'é'
        })
    );
}

#[test]
fn rejects_uppercase_with_position() {
    let s = "ab".repeat(32);
    let upper = format!("{}B{}", &s[..5], &s[6..]);
    assert_eq!(
        upper.parse::<PeerId>(),
        Err(PeerIdError::Uppercase {
            position: 5,
            character: 'B'
        })
    );
    let err = upper
        .parse::<PeerId>()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("uppercase") && err.contains("position 5"),
        "{err}"
    );
}

#[test]
fn rejects_non_hex_with_position() {
    let s = format!("{}g{}", "0".repeat(10), "0".repeat(53));
    assert_eq!(
        s.parse::<PeerId>(),
        Err(PeerIdError::NonHex {
            position: 10,
            character: 'g'
        })
    );
    let with_space = format!(" {}", "0".repeat(63));
    assert_eq!(
        with_space.parse::<PeerId>(),
        Err(PeerIdError::NonHex {
            position: 0,
            character: ' '
        })
    );
}

#[test]
fn serde_json_round_trip_as_string() {
    let id = sample();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, format!("\"{id}\""));
    assert_eq!(serde_json::from_str::<PeerId>(&json).unwrap(), id);
    // Owned strings (e.g. via serde_json::Value) deserialize too.
    let value = serde_json::to_value(id).unwrap();
    assert_eq!(serde_json::from_value::<PeerId>(value).unwrap(), id);
}

#[test]
fn serde_rejects_non_canonical_strings() {
    let upper = format!("\"{}\"", "AB".repeat(32));
    let err = serde_json::from_str::<PeerId>(&upper)
        .unwrap_err()
        .to_string();
    assert!(err.contains("uppercase"), "{err}");
    assert!(serde_json::from_str::<PeerId>("\"abc\"").is_err());
    assert!(serde_json::from_str::<PeerId>("42").is_err());
}

#[test]
fn real_keys_validate() {
    let id = Identity::from_seed([9; 32]).peer_id();
    assert_eq!(id.validate(), Ok(()));
    assert_eq!(PeerId::from_bytes(*id.as_bytes()).validate(), Ok(()));
}

#[test]
fn validate_rejects_non_point_without_panic() {
    let id = PeerId::from_bytes(NOT_A_POINT);
    assert_eq!(
        id.validate(),
        Err(PeerIdError::InvalidKey {
            peer: id.to_string()
        })
    );
}

#[test]
fn order_matches_hex_string_order() {
    let a = PeerId::from_bytes([1; 32]);
    let b = PeerId::from_bytes([2; 32]);
    assert!(a < b);
    assert!(a.to_string() < b.to_string());
}

proptest! {
    #[test]
    fn display_from_str_round_trip(bytes in any::<[u8; 32]>()) {
        let id = PeerId::from_bytes(bytes);
        let parsed: PeerId = id.to_string().parse().unwrap();
        prop_assert_eq!(parsed, id);
        prop_assert_eq!(parsed.as_bytes(), &bytes);
    }

    #[test]
    fn from_str_never_panics(s in "\\PC{0,70}") {
        let _ = s.parse::<PeerId>();
    }
}
