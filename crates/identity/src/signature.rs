//! [`Signature`], and signature verification against a [`PeerId`].

use std::fmt;

use crate::domain::Domain;
use crate::error::IdentityError;
use crate::peer_id::PeerId;

/// Length of an Ed25519 signature in bytes (RFC 8032 §5.1.6).
pub const SIGNATURE_LEN: usize = ed25519_dalek::SIGNATURE_LENGTH;

/// An Ed25519 signature: the 64 bytes `R || S` of RFC 8032 §5.1.6.
///
/// Made by [`Identity::sign`](crate::Identity::sign), checked by [`verify`]
/// or [`KeyCache::verify`]. Any 64 bytes make a `Signature`; whether they
/// are a valid one is only known when verifying.
///
/// `Debug` prints `Signature(<128 lowercase hex>)`.
///
/// ```
/// use tazcom_identity::{Domain, Identity, Signature};
///
/// let sig = Identity::generate().sign(&Domain::new(b"example/1\0"), b"hello");
/// assert_eq!(Signature::from_bytes(sig.to_bytes()), sig);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; SIGNATURE_LEN]);

impl Signature {
    /// Wraps 64 raw signature bytes (no validation).
    pub const fn from_bytes(bytes: [u8; SIGNATURE_LEN]) -> Signature {
        Signature(bytes)
    }

    /// The 64 raw signature bytes.
    pub const fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0
    }

    /// The 64 raw signature bytes, borrowed.
    pub const fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }

    fn to_dalek(self) -> ed25519_dalek::Signature {
        ed25519_dalek::Signature::from_bytes(&self.0)
    }
}

impl From<[u8; SIGNATURE_LEN]> for Signature {
    fn from(bytes: [u8; SIGNATURE_LEN]) -> Signature {
        Signature(bytes)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

/// Checks that `sig` is `peer`'s signature of `msg` in `domain` (over
/// `domain ‖ msg`, as [`Identity::sign`](crate::Identity::sign) makes it).
///
/// Uses strict verification (ed25519-dalek `verify_strict`): besides the
/// RFC 8032 §5.1.7 check it rejects weak (small-order) public keys and
/// non-canonical signatures, so a signature cannot be malleated into a second
/// valid one.
///
/// # Errors
///
/// - [`IdentityError::InvalidPeerId`] when `peer` is not a valid Ed25519 public key.
/// - [`IdentityError::BadSignature`] when the signature does not verify.
pub fn verify(
    peer: &PeerId,
    domain: &Domain,
    msg: &[u8],
    sig: &Signature,
) -> Result<(), IdentityError> {
    let key = peer.verifying_key()?;
    key.verify_strict(&domain.message(msg), &sig.to_dalek())
        .map_err(|_| IdentityError::BadSignature {
            peer: peer.to_string(),
        })
}

/// Decoded verifying keys of recently seen peers, so that verifying another
/// signature from the same peer skips decompressing its key (an Ed25519
/// point decompression; see `docs/performance.md`, "Greeting round trip").
///
/// Its [`verify`](Self::verify) is RFC 8032 §5.1.7 verification (s must be
/// canonical) with weak, small-order keys refused once, when a key is
/// decoded. Unlike [`verify`] (`verify_strict`), it does not
/// decompress the signature's R to refuse a small-order R, which saves a
/// point decompression per check. Such an R does not let anyone but the key
/// holder make a valid signature. It only allows more than one valid
/// signature for a message, which a protocol that, like the greeting,
/// identifies messages by nonce and not by signature bytes, can ignore.
///
/// Bounded: it holds at most `capacity` keys and starts over when full, so a
/// flood of new peer ids costs memory for at most `capacity` entries.
#[derive(Debug)]
pub struct KeyCache {
    keys: std::sync::Mutex<std::collections::HashMap<PeerId, ed25519_dalek::VerifyingKey>>,
    capacity: usize,
}

impl KeyCache {
    /// A cache of at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            keys: std::sync::Mutex::new(std::collections::HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Checks that `sig` is `peer`'s signature of `msg` in `domain`, with
    /// `peer`'s decoded key taken from the cache (see the type docs for how
    /// this differs from [`verify`]).
    ///
    /// # Errors
    /// [`IdentityError::InvalidPeerId`] when `peer` is not a valid Ed25519
    /// key or is a weak (small-order) one; [`IdentityError::BadSignature`]
    /// when the signature does not verify.
    pub fn verify(
        &self,
        peer: &PeerId,
        domain: &Domain,
        msg: &[u8],
        sig: &Signature,
    ) -> Result<(), IdentityError> {
        use ed25519_dalek::Verifier;
        self.key(peer)?
            .verify(&domain.message(msg), &sig.to_dalek())
            .map_err(|_| IdentityError::BadSignature {
                peer: peer.to_string(),
            })
    }

    fn key(&self, peer: &PeerId) -> Result<ed25519_dalek::VerifyingKey, IdentityError> {
        let lock = || {
            self.keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(key) = lock().get(peer) {
            return Ok(*key);
        }
        // Decoded outside the lock: it is the slow part.
        let key = peer.verifying_key()?;
        if key.is_weak() {
            return Err(crate::error::PeerIdError::InvalidKey {
                peer: peer.to_string(),
            }
            .into());
        }
        let mut keys = lock();
        if keys.len() >= self.capacity {
            keys.clear();
        }
        keys.insert(*peer, key);
        Ok(key)
    }
}
