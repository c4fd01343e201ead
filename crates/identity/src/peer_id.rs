//! [`PeerId`]: the public identity of a node, its Ed25519 verifying key.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;

use crate::error::PeerIdError;

/// Length of a peer id in bytes (an Ed25519 public key, RFC 8032 §5.1.5).
pub const PEER_ID_LEN: usize = 32;

/// Length of the wire form of a peer id in characters (lowercase hex of the
/// 32 bytes).
pub const PEER_ID_HEX_LEN: usize = 2 * PEER_ID_LEN;

/// Number of hex characters in [`PeerId::short`].
pub const PEER_ID_SHORT_LEN: usize = 8;

/// The identity of a node: the 32 bytes of its Ed25519 verifying (public) key
/// in the compressed Edwards-y encoding of RFC 8032 §5.1.5.
///
/// Wire form ([`Display`](fmt::Display) / [`FromStr`], and serde): exactly
/// 64 lowercase hex characters. Parsing accepts only that form, so every peer
/// has one canonical string (uppercase is rejected rather than normalised).
///
/// A `PeerId` built with [`PeerId::from_bytes`] or parsed from a string is not
/// checked to be a valid curve point; [`PeerId::validate`] does that check.
///
/// Ordering is the byte-wise (equivalently hex-string) order.
///
/// ```
/// use tazcom_identity::PeerId;
///
/// let id = PeerId::from_bytes([0xab; 32]);
/// assert_eq!(id.to_string(), "ab".repeat(32));
/// assert_eq!(id.short(), "abababab");
/// assert_eq!(format!("{id:?}"), "PeerId(abababab…)");
/// assert_eq!(id.to_string().parse::<PeerId>()?, id);
///
/// // Only the canonical form parses.
/// assert!("AB".repeat(32).parse::<PeerId>().is_err());
/// assert!("ab".repeat(31).parse::<PeerId>().is_err());
/// # Ok::<(), tazcom_identity::PeerIdError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId([u8; PEER_ID_LEN]);

impl PeerId {
    /// Wraps 32 raw public key bytes (no validation; see [`PeerId::validate`]).
    pub const fn from_bytes(bytes: [u8; PEER_ID_LEN]) -> PeerId {
        PeerId(bytes)
    }

    /// The 32 raw public key bytes.
    pub const fn as_bytes(&self) -> &[u8; PEER_ID_LEN] {
        &self.0
    }

    /// The first 8 lowercase hex characters (4 bytes) of the wire form.
    ///
    /// Used for human-facing labels such as the DNS-SD instance name
    /// `TAZCOM Node <short>`; not unique, never use it as an identifier.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..PEER_ID_SHORT_LEN / 2])
    }

    /// Checks that the bytes are the encoding of an Ed25519 public key, so
    /// that signatures can be verified against this id.
    ///
    /// # Errors
    ///
    /// [`PeerIdError::InvalidKey`] when the 32 bytes are not the encoding of a
    /// point on the curve (not every 32-byte string is).
    pub fn validate(&self) -> Result<(), PeerIdError> {
        self.verifying_key().map(|_| ())
    }

    /// Decodes the bytes as an Ed25519 public key (crate-private: the
    /// `ed25519-dalek` type is not part of the public API).
    pub(crate) fn verifying_key(&self) -> Result<VerifyingKey, PeerIdError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| PeerIdError::InvalidKey {
            peer: self.to_string(),
        })
    }

    /// The peer id of a verifying key.
    pub(crate) fn from_verifying_key(key: &VerifyingKey) -> PeerId {
        PeerId(key.to_bytes())
    }
}

impl From<[u8; PEER_ID_LEN]> for PeerId {
    fn from(bytes: [u8; PEER_ID_LEN]) -> PeerId {
        PeerId(bytes)
    }
}

impl AsRef<[u8]> for PeerId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Prints `PeerId(<first 8 hex>…)`, short enough for logs of structs.
impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({}…)", self.short())
    }
}

/// Prints the wire form: 64 lowercase hex characters.
impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; PEER_ID_HEX_LEN];
        // Cannot fail: the buffer has exactly twice the input length.
        hex::encode_to_slice(self.0, &mut buf).map_err(|_| fmt::Error)?;
        let s = std::str::from_utf8(&buf).map_err(|_| fmt::Error)?;
        f.pad(s)
    }
}

/// Parses the wire form: exactly 64 lowercase hex characters.
///
/// Errors: [`PeerIdError::WrongLength`] (length in characters),
/// [`PeerIdError::NonHex`] or [`PeerIdError::Uppercase`] (first offending
/// character and its 0-based position). Length is checked first.
impl FromStr for PeerId {
    type Err = PeerIdError;

    fn from_str(s: &str) -> Result<PeerId, PeerIdError> {
        let found = s.chars().count();
        if found != PEER_ID_HEX_LEN {
            return Err(PeerIdError::WrongLength { found });
        }
        for (position, character) in s.chars().enumerate() {
            match character {
                '0'..='9' | 'a'..='f' => {}
                'A'..='F' => {
                    return Err(PeerIdError::Uppercase {
                        position,
                        character,
                    })
                }
                _ => {
                    return Err(PeerIdError::NonHex {
                        position,
                        character,
                    })
                }
            }
        }
        // All 64 characters are ASCII lowercase hex here, so this cannot fail;
        // still map the error rather than panic.
        let mut bytes = [0u8; PEER_ID_LEN];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| PeerIdError::WrongLength { found })?;
        Ok(PeerId(bytes))
    }
}

impl serde::Serialize for PeerId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PeerId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<PeerId, D::Error> {
        deserializer.deserialize_str(PeerIdVisitor)
    }
}

/// Accepts borrowed and owned strings, so both `&str` and `String` sources work.
struct PeerIdVisitor;

impl serde::de::Visitor<'_> for PeerIdVisitor {
    type Value = PeerId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a peer id: 64 lowercase hex characters")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PeerId, E> {
        v.parse().map_err(E::custom)
    }
}
