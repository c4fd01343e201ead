//! Which registry peers count as validators.

use tazcom_identity::PeerId;
use tazcom_registry::PeerEntry;

/// Which peers the [`ValidatorObserver`](crate::ValidatorObserver) counts as
/// validators.
///
/// A registry peer is a member when its entry has
/// `capabilities.validator` set (from the TXT key `caps=validator`,
/// `docs/wire.md` §2, or later from the authenticated greeting) and, if
/// [`require_verified`](Self::require_verified) is set, `verified` too.
///
/// **Without verification anyone can claim to be a validator**: a TXT record
/// or a static entry is a claim, not a proof. So `require_verified` is on by
/// default: a peer counts only once the authenticated greeting
/// (`docs/wire.md` §3.6) proved it holds its key. Turn it off only to accept
/// legacy (prototype) peers, whose greeting proves nothing.
///
/// ```
/// use tazcom_identity::Identity;
/// use tazcom_validators::ValidatorPolicy;
///
/// let me = Identity::generate().peer_id();
/// let policy = ValidatorPolicy::default().with_local(me);
/// assert!(policy.require_verified); // the default
/// assert!(!policy.with_require_verified(false).require_verified);
/// assert_eq!(policy.include_local, Some(me));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatorPolicy {
    /// Count only peers whose identity is verified (`PeerEntry::verified`).
    /// Default `true` (see the type docs for why).
    pub require_verified: bool,
    /// The local node's peer id when the local node is itself a validator.
    /// The registry never holds the local node, so the set would otherwise
    /// miss it. It is a member from epoch 0 on, whatever the registry says;
    /// a registry entry with this id, should one appear, is ignored.
    /// Default `None`.
    pub include_local: Option<PeerId>,
}

impl Default for ValidatorPolicy {
    /// Verified peers only, local node not included.
    fn default() -> Self {
        Self {
            require_verified: true,
            include_local: None,
        }
    }
}

impl ValidatorPolicy {
    /// The same policy with [`require_verified`](Self::require_verified) set
    /// to `yes`.
    pub fn with_require_verified(mut self, yes: bool) -> Self {
        self.require_verified = yes;
        self
    }

    /// The same policy with the local node `local` counted as a validator
    /// ([`include_local`](Self::include_local)).
    pub fn with_local(mut self, local: PeerId) -> Self {
        self.include_local = Some(local);
        self
    }

    /// Whether `entry` counts as a validator: the validator capability, and
    /// `verified` when required. Always `false` for the local node's id
    /// (its membership is fixed by `include_local`, not by the registry).
    pub fn admits(&self, entry: &PeerEntry) -> bool {
        entry.capabilities.validator
            && (entry.verified || !self.require_verified)
            && !self.is_local(&entry.peer_id)
    }

    /// Whether `peer` is the local node named by `include_local`.
    pub fn is_local(&self, peer: &PeerId) -> bool {
        self.include_local.as_ref() == Some(peer)
    }
}

#[cfg(test)]
mod tests {
    use tazcom_registry::Source;

    use super::*;

    fn entry(validator: bool, verified: bool) -> PeerEntry {
        let mut e = PeerEntry::new(PeerId::from_bytes([7; 32]), Source::Mdns);
        e.capabilities.validator = validator;
        e.verified = verified;
        e
    }

    #[test]
    fn default_counts_only_verified_validators() {
        let p = ValidatorPolicy::default();
        assert!(p.require_verified);
        assert_eq!(p.include_local, None);
        assert!(!p.admits(&entry(true, false)));
        assert!(p.admits(&entry(true, true)));
        assert!(!p.admits(&entry(false, true)));
    }

    #[test]
    fn without_verification_claims_count() {
        let p = ValidatorPolicy::default().with_require_verified(false);
        assert!(p.admits(&entry(true, false)));
        assert!(p.admits(&entry(true, true)));
        assert!(!p.admits(&entry(false, true)));
        assert!(!p.admits(&entry(false, false)));
    }

    #[test]
    fn require_verified_counts_only_verified_validators() {
        let p = ValidatorPolicy::default().with_require_verified(true);
        assert!(!p.admits(&entry(true, false)));
        assert!(p.admits(&entry(true, true)));
        assert!(!p.admits(&entry(false, true)));
    }

    #[test]
    fn the_local_id_is_never_admitted_from_the_registry() {
        let p = ValidatorPolicy::default().with_local(PeerId::from_bytes([7; 32]));
        assert!(p.is_local(&PeerId::from_bytes([7; 32])));
        assert!(!p.admits(&entry(true, true)));
        let other = ValidatorPolicy::default().with_local(PeerId::from_bytes([8; 32]));
        assert!(other.admits(&entry(true, true)));
    }
}
