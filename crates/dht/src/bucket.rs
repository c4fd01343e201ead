//! k-buckets: what one bucket holds, and the read-only view of it.

use std::net::SocketAddr;

use tazcom_identity::PeerId;

/// One peer the routing table knows: the Kademlia paper's contact
/// (§2.2 stores ⟨IP address, UDP port, Node ID⟩; TAZCOM peers may listen on
/// several TCP addresses).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    /// The peer id; its 32 bytes are the peer's 256-bit Kademlia key.
    pub peer_id: PeerId,
    /// The addresses the peer was last seen at, as given to the latest
    /// [`insert`](crate::RoutingTable::insert) of this peer.
    pub addrs: Vec<SocketAddr>,
}

/// The state of one k-bucket: its entries and its replacement cache, both
/// ordered least-recently-seen first (index 0 = the oldest).
///
/// Invariant kept by [`RoutingTable`](crate::RoutingTable): `pending` is
/// non-empty only while `entries` holds k contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KBucket {
    pub(crate) entries: Vec<Contact>,
    pub(crate) pending: Vec<Contact>,
}

impl KBucket {
    pub(crate) fn entry_position(&self, peer: &PeerId) -> Option<usize> {
        self.entries.iter().position(|c| c.peer_id == *peer)
    }

    pub(crate) fn pending_position(&self, peer: &PeerId) -> Option<usize> {
        self.pending.iter().position(|c| c.peer_id == *peer)
    }

    pub(crate) fn view(&self, index: usize) -> BucketView {
        BucketView {
            index,
            entries: self.entries.clone(),
            pending: self.pending.clone(),
        }
    }
}

/// A copy of one k-bucket, for inspection and printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketView {
    /// The bucket index, 0..=255: the bucket holds the contacts whose XOR
    /// distance to the local id lies in `[2^index, 2^(index+1))`
    /// (see [`Distance::bucket_index`](crate::Distance::bucket_index)).
    pub index: usize,
    /// The bucket's contacts, least recently seen first (the head,
    /// `entries[0]`, is the one a node would ping before evicting; §2.2).
    /// At most [`DhtConfig::k`](crate::DhtConfig::k) long.
    pub entries: Vec<Contact>,
    /// The replacement cache: contacts seen while the bucket was full, least
    /// recently seen first. At most
    /// [`DhtConfig::replacement_cache`](crate::DhtConfig::replacement_cache) long.
    pub pending: Vec<Contact>,
}
