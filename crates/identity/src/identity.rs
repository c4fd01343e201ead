//! [`Identity`]: a node's Ed25519 keypair.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};
use rand_core::OsRng;

use crate::domain::Domain;
use crate::peer_id::PeerId;
use crate::signature::Signature;

/// Length of an Ed25519 secret seed in bytes (RFC 8032 §5.1.5).
pub const SEED_LEN: usize = ed25519_dalek::SECRET_KEY_LENGTH;

/// A node's long-term Ed25519 keypair. Its public half is the node's
/// [`PeerId`].
///
/// Persist it with [`Identity::load_or_generate`] (see `docs/identity.md`).
/// `Debug` prints only the peer id, never the secret. The secret is wiped
/// from memory when the `Identity` is dropped (ed25519-dalek zeroizes its
/// signing key).
#[derive(Clone)]
pub struct Identity {
    signing_key: SigningKey,
}

impl Identity {
    /// Generates a fresh keypair from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// Only if the operating system's random source fails, which leaves no
    /// safe way to make a key.
    pub fn generate() -> Identity {
        Identity {
            signing_key: SigningKey::generate(&mut OsRng),
        }
    }

    /// Rebuilds a keypair from its 32-byte secret seed (RFC 8032 §5.1.5).
    /// The same seed always gives the same peer id.
    pub fn from_seed(seed: [u8; SEED_LEN]) -> Identity {
        Identity {
            signing_key: SigningKey::from_bytes(&seed),
        }
    }

    /// This node's peer id (its public key bytes).
    pub fn peer_id(&self) -> PeerId {
        PeerId::from_verifying_key(&self.signing_key.verifying_key())
    }

    /// Signs `domain ‖ msg` (pure Ed25519, RFC 8032 §5.1.6, over the
    /// domain's prefix then `msg`; deterministic: the same input always
    /// gives the same 64-byte signature). Check it with
    /// [`verify`](crate::verify) in the same domain. Raw bytes cannot be
    /// signed: a signature always says what it is for ([`Domain`]).
    pub fn sign(&self, domain: &Domain, msg: &[u8]) -> Signature {
        let signed = domain.message(msg);
        Signature::from_bytes(self.signing_key.sign(&signed).to_bytes())
    }

    /// The 32-byte secret seed, for writing the key file only.
    pub(crate) fn seed_bytes(&self) -> &[u8; SEED_LEN] {
        self.signing_key.as_bytes()
    }
}

/// Prints `Identity { peer_id: PeerId(<first 8 hex>…) }`; the secret is never printed.
impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id())
            .finish_non_exhaustive()
    }
}
