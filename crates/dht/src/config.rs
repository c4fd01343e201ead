//! Routing table configuration.

use crate::error::DhtError;

/// The Kademlia paper's bucket size k (Maymounkov & Mazières 2002, §2.2:
/// "k is chosen such that any given k nodes are very unlikely to fail within
/// an hour of each other"; the paper and libp2p-kad both use 20).
pub const DEFAULT_K: usize = 20;

/// Configuration of a [`RoutingTable`](crate::RoutingTable): public fields,
/// [`Default`] with the documented values and `with_*` setters.
/// [`RoutingTable::new`](crate::RoutingTable::new) (and so
/// [`DhtObserver::new`](crate::DhtObserver::new)) runs
/// [`validate`](Self::validate) on it.
///
/// ```
/// use tazcom_dht::{DhtConfig, DhtError, PeerId, RoutingTable};
///
/// let config = DhtConfig::default().with_k(8).with_replacement_cache(0);
/// assert_eq!((config.k, config.replacement_cache), (8, 0));
/// let local = PeerId::from_bytes([0; 32]);
/// assert!(RoutingTable::new(local, config).is_ok());
/// assert!(matches!(
///     RoutingTable::new(local, DhtConfig::default().with_k(0)),
///     Err(DhtError::InvalidConfig { field: "k", .. })
/// ));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DhtConfig {
    /// Most entries per k-bucket (the paper's k), entries, ≥ 1. Default
    /// [`DEFAULT_K`] (20).
    pub k: usize,
    /// Most newcomers parked per bucket while it is full (the paper's
    /// replacement cache, §4.1), entries, any value. Default 20 (= the
    /// default `k`; [`with_k`](Self::with_k) keeps the two equal). 0
    /// disables the cache: a newcomer to a full bucket is then discarded.
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
    /// Sets [`k`](Self::k), and [`replacement_cache`](Self::replacement_cache)
    /// to the same value (the default pairing); call
    /// [`with_replacement_cache`](Self::with_replacement_cache) after it for
    /// another cache size.
    pub fn with_k(mut self, k: usize) -> Self {
        self.k = k;
        self.replacement_cache = k;
        self
    }

    /// Sets [`replacement_cache`](Self::replacement_cache).
    pub fn with_replacement_cache(mut self, entries: usize) -> Self {
        self.replacement_cache = entries;
        self
    }

    /// Checks every field's documented range (only `k` has one). Run by
    /// [`RoutingTable::new`](crate::RoutingTable::new).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to a valid config, and the field its error must name.
    type Case = (fn(DhtConfig) -> DhtConfig, &'static str);

    #[test]
    fn each_out_of_range_setting_is_refused() {
        assert_eq!(DhtConfig::default().validate(), Ok(()));
        let cases: [Case; 1] = [(|c| c.with_k(0), "k")];
        for (change, field) in cases {
            assert!(matches!(
                change(DhtConfig::default()).validate(),
                Err(DhtError::InvalidConfig { field: f, .. }) if f == field
            ));
        }
    }

    #[test]
    fn with_k_keeps_the_cache_equal_unless_set_after() {
        let c = DhtConfig::default().with_k(3);
        assert_eq!((c.k, c.replacement_cache), (3, 3));
        let c = c.with_replacement_cache(0);
        assert_eq!((c.k, c.replacement_cache), (3, 0));
        assert_eq!(c.validate(), Ok(()));
    }
}
