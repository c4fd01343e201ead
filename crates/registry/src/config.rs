//! Observer registry configuration.

use std::time::Duration;

use crate::error::RegistryError;

/// Configuration of a [`PeerRegistry`](crate::PeerRegistry)'s observer
/// registry: public fields, [`Default`] with the documented values and
/// `with_*` setters. [`PeerRegistry::with_config`](crate::PeerRegistry::with_config)
/// runs [`validate`](Self::validate) on it.
///
/// ```
/// use std::time::Duration;
/// use tazcom_registry::{ObserverRegistryConfig, PeerRegistry, RegistryError};
///
/// let config = ObserverRegistryConfig::default()
///     .with_max_observers(8)
///     .with_default_async_timeout(Duration::from_millis(200));
/// assert!(PeerRegistry::with_config(config).is_ok());
/// assert!(matches!(
///     PeerRegistry::with_config(ObserverRegistryConfig::default().with_max_observers(0)),
///     Err(RegistryError::InvalidConfig { field: "max_observers", .. })
/// ));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObserverRegistryConfig {
    /// Most observers registered at once; registering one more fails with
    /// [`RegistryError::ObserverLimit`]. Observers, ≥ 1. Default 50.
    pub max_observers: usize,
    /// An observer that fails (error or timeout) this many deliveries in a
    /// row is unregistered and reported in
    /// [`RegistryStats::evicted`](crate::RegistryStats::evicted).
    /// Deliveries, ≥ 1. Default 3.
    pub max_consecutive_failures: u32,
    /// Timeout of an [`AsyncObserver`](crate::AsyncObserver) delivery when
    /// its options name none. > 0. Default 1000 ms.
    pub default_async_timeout: Duration,
    /// Per-observer latency of sync observers is measured on one commit in
    /// this many (a clock read costs about as much as ten sync deliveries).
    /// Async deliveries are always measured. Commits, ≥ 1 (1 measures every
    /// commit). Default 64.
    pub latency_sample_interval: u32,
    /// How many evicted observers [`RegistryStats::evicted`](crate::RegistryStats::evicted)
    /// remembers (the most recent ones). Observers, any value (0 remembers
    /// none; evictions are still counted). Default 32.
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
    /// Sets [`max_observers`](Self::max_observers).
    pub fn with_max_observers(mut self, observers: usize) -> Self {
        self.max_observers = observers;
        self
    }

    /// Sets [`max_consecutive_failures`](Self::max_consecutive_failures).
    pub fn with_max_consecutive_failures(mut self, failures: u32) -> Self {
        self.max_consecutive_failures = failures;
        self
    }

    /// Sets [`default_async_timeout`](Self::default_async_timeout).
    pub fn with_default_async_timeout(mut self, timeout: Duration) -> Self {
        self.default_async_timeout = timeout;
        self
    }

    /// Sets [`latency_sample_interval`](Self::latency_sample_interval).
    pub fn with_latency_sample_interval(mut self, commits: u32) -> Self {
        self.latency_sample_interval = commits;
        self
    }

    /// Sets [`eviction_log_len`](Self::eviction_log_len).
    pub fn with_eviction_log_len(mut self, observers: usize) -> Self {
        self.eviction_log_len = observers;
        self
    }

    /// Checks every field's documented range; the first one out of range is
    /// the error. Run by [`PeerRegistry::with_config`](crate::PeerRegistry::with_config).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to a valid config, and the field its error must name.
    type Case = (
        fn(ObserverRegistryConfig) -> ObserverRegistryConfig,
        &'static str,
    );

    #[test]
    fn each_out_of_range_setting_is_refused() {
        assert_eq!(ObserverRegistryConfig::default().validate(), Ok(()));
        let cases: [Case; 4] = [
            (|c| c.with_max_observers(0), "max_observers"),
            (
                |c| c.with_max_consecutive_failures(0),
                "max_consecutive_failures",
            ),
            (
                |c| c.with_default_async_timeout(Duration::ZERO),
                "default_async_timeout",
            ),
            (
                |c| c.with_latency_sample_interval(0),
                "latency_sample_interval",
            ),
        ];
        for (change, field) in cases {
            assert!(matches!(
                change(ObserverRegistryConfig::default()).validate(),
                Err(RegistryError::InvalidConfig { field: f, .. }) if f == field
            ));
        }
        let no_log = ObserverRegistryConfig::default().with_eviction_log_len(0);
        assert_eq!(no_log.validate(), Ok(()));
    }
}
