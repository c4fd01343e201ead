//! Signature verification against a [`PeerId`].

use ed25519_dalek::Signature;

use crate::error::IdentityError;
use crate::peer_id::PeerId;

/// Checks that `sig` is `peer`'s signature of `msg`.
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
pub fn verify(peer: &PeerId, msg: &[u8], sig: &Signature) -> Result<(), IdentityError> {
    let key = peer.verifying_key()?;
    key.verify_strict(msg, sig)
        .map_err(|_| IdentityError::BadSignature {
            peer: peer.to_string(),
        })
}
