//! Routing table configuration.

use crate::error::DhtError;

/// The Kademlia paper's bucket size k (Maymounkov & Mazières 2002, §2.2:
/// "k is chosen such that any given k nodes are very unlikely to fail within
/// an hour of each other"; the paper and libp2p-kad both use 20).
pub const DEFAULT_K: usize = 20;

/// Configuration of a [`RoutingTable`](crate::RoutingTable). Build it with
/// struct update syntax over `Default`; [`RoutingTable::new`](crate::RoutingTable::new)
/// validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhtConfig {
    /// Most entries per k-bucket (the paper's k). Default [`DEFAULT_K`] (20);
    /// must be ≥ 1.
    pub k: usize,
    /// Most newcomers parked per bucket while it is full (the paper's
    /// replacement cache, §4.1). Default = `k` (20). 0 disables the cache:
    /// a newcomer to a full bucket is then discarded.
    pub replacement_cache: usize,
}

impl Default for DhtConfig {
    fn default() -> Self {
        Self {
            k: DEFAULT_K,
            replacement_cache: DEFAULT_K,
        }
    }
}

impl DhtConfig {
    /// The default configuration with bucket size `k` and a replacement
    /// cache of the same size (not validated here).
    pub fn with_k(k: usize) -> Self {
        Self {
            k,
            replacement_cache: k,
        }
    }

    /// Checks every field's documented range.
    ///
    /// # Errors
    /// [`DhtError::InvalidConfig`] naming the first field out of range
    /// (`k` = 0).
    pub fn validate(&self) -> Result<(), DhtError> {
        if self.k == 0 {
            return Err(DhtError::InvalidConfig {
                field: "k",
                rule: "must be at least 1 (the Kademlia paper uses 20)",
            });
        }
        Ok(())
    }
}
