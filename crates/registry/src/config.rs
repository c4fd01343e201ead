//! Observer registry configuration.

use std::time::Duration;

use crate::error::RegistryError;

/// Configuration of a [`PeerRegistry`](crate::PeerRegistry)'s observer
/// registry. Build it with struct update syntax over `Default` and pass it to
/// [`PeerRegistry::with_config`](crate::PeerRegistry::with_config), which
/// validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverRegistryConfig {
    /// Most observers registered at once; registering one more fails with
    /// [`RegistryError::ObserverLimit`]. Default 50; must be ≥ 1.
    pub max_observers: usize,
    /// An observer that fails (error or timeout) this many deliveries in a
    /// row is unregistered and reported in
    /// [`RegistryStats::evicted`](crate::RegistryStats::evicted).
    /// Default 3; must be ≥ 1.
    pub max_consecutive_failures: u32,
    /// Timeout of an [`AsyncObserver`](crate::AsyncObserver) delivery when
    /// its options name none. Default 1000 ms; must be > 0.
    pub default_async_timeout: Duration,
    /// Per-observer latency of sync observers is measured on one commit in
    /// this many (a clock read costs about as much as ten sync deliveries).
    /// Async deliveries are always measured. Default 64; 1 measures every
    /// commit; must be ≥ 1.
    pub latency_sample_interval: u32,
    /// How many evicted observers [`RegistryStats::evicted`](crate::RegistryStats::evicted)
    /// remembers (the most recent ones). Default 32.
    pub eviction_log_len: usize,
}

impl Default for ObserverRegistryConfig {
    fn default() -> Self {
        Self {
            max_observers: 50,
            max_consecutive_failures: 3,
            default_async_timeout: Duration::from_millis(1000),
            latency_sample_interval: 64,
            eviction_log_len: 32,
        }
    }
}

impl ObserverRegistryConfig {
    /// Checks every field's documented range.
    ///
    /// # Errors
    /// [`RegistryError::InvalidConfig`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), RegistryError> {
        let bad = |field: &'static str, rule: &'static str| {
            Err(RegistryError::InvalidConfig { field, rule })
        };
        if self.max_observers == 0 {
            return bad("max_observers", "must be at least 1");
        }
        if self.max_consecutive_failures == 0 {
            return bad("max_consecutive_failures", "must be at least 1");
        }
        if self.default_async_timeout.is_zero() {
            return bad("default_async_timeout", "must be greater than zero");
        }
        if self.latency_sample_interval == 0 {
            return bad("latency_sample_interval", "must be at least 1");
        }
        Ok(())
    }
}
