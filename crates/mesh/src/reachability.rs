//! When a registry peer counts as a direct neighbour of the local node.

use tazcom_registry::PeerEntry;

/// The rule that decides whether a peer in the registry is linked to the
/// local node. A peer that is in the registry but not reachable stays a
/// vertex of the mesh, without a link to the local node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reachability {
    /// Reachable when the entry has at least one socket address
    /// ([`PeerEntry::addrs`] is not empty): the local node knows where to
    /// connect. The default.
    #[default]
    AnyAddress,
    /// Reachable when the entry has at least one address and is
    /// [`verified`](PeerEntry::verified): the peer proved its key in an
    /// authenticated greeting, so the link is known to work.
    VerifiedWithAddress,
}

impl Reachability {
    /// Whether `entry` is reachable under this rule.
    pub fn is_reachable(&self, entry: &PeerEntry) -> bool {
        let has_address = !entry.addrs.is_empty();
        match self {
            Reachability::AnyAddress => has_address,
            Reachability::VerifiedWithAddress => has_address && entry.verified,
        }
    }
}
