//! The registry's statistics: [`RegistryStats`] (also at the crate root),
//! the snapshot [`PeerRegistry::stats`](crate::PeerRegistry::stats)
//! returns, and the types it carries: [`ObserverStats`] per registered
//! observer with its [`LatencyStats`], and [`EvictedObserver`] for each
//! observer the registry removed. A user reads them through
//! `RegistryStats`; they are named here for code that keeps or compares
//! them (metrics exporters, tests). The counters are explained in
//! `docs/registry.md`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::observer::{Criticality, ObserverHandle};

/// Adds to a counter that only the holder of the commit lock writes: a
/// plain load and store, no atomic read-modify-write on the commit path.
/// Every counter in this module is written that way; readers
/// ([`crate::PeerRegistry::stats`]) see values at most one commit old.
#[inline]
pub(crate) fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Relaxed).wrapping_add(by), Relaxed);
}

/// Registry-wide counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub commits: AtomicU64,
    pub deliveries: AtomicU64,
    pub failures: AtomicU64,
    pub timeouts: AtomicU64,
    pub rollbacks: AtomicU64,
    pub rollback_failures: AtomicU64,
    pub pruned: AtomicU64,
    pub evictions: AtomicU64,
    /// Phase passes per class (`Criticality as usize`): each pass counts as
    /// one delivery to every observer of the class, so the hot path counts
    /// nothing per observer (see [`ObserverCounters::missed`]).
    pub passes: [AtomicU64; 2],
}

/// One observer's counters, shared between the dispatcher (writer) and
/// [`crate::PeerRegistry::stats`] (reader).
#[derive(Debug)]
pub(crate) struct ObserverCounters {
    pub handle: ObserverHandle,
    pub name: String,
    pub criticality: Criticality,
    pub is_async: bool,
    pub registered_at: Instant,
    /// `passes[class]` when the observer was registered.
    pub pass_base: u64,
    /// Deliveries outside passes: the replay, rollbacks.
    pub extra_deliveries: AtomicU64,
    /// Passes that stopped before reaching this observer (aborted commits).
    pub missed: AtomicU64,
    pub failures: AtomicU64,
    pub timeouts: AtomicU64,
    pub consecutive_failures: AtomicU64,
    pub latency_samples: AtomicU64,
    pub latency_total_ns: AtomicU64,
    pub latency_max_ns: AtomicU64,
}

impl ObserverCounters {
    pub(crate) fn new(
        handle: ObserverHandle,
        name: &str,
        criticality: Criticality,
        is_async: bool,
        pass_base: u64,
    ) -> Self {
        Self {
            handle,
            name: name.to_owned(),
            criticality,
            is_async,
            registered_at: Instant::now(),
            pass_base,
            extra_deliveries: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            latency_samples: AtomicU64::new(0),
            latency_total_ns: AtomicU64::new(0),
            latency_max_ns: AtomicU64::new(0),
        }
    }

    pub(crate) fn record_latency(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        bump(&self.latency_samples, 1);
        bump(&self.latency_total_ns, ns);
        if ns > self.latency_max_ns.load(Relaxed) {
            self.latency_max_ns.store(ns, Relaxed);
        }
    }

    pub(crate) fn snapshot(&self, counters: &Counters) -> ObserverStats {
        let passes = counters.passes[self.criticality as usize].load(Relaxed);
        let deliveries = passes.saturating_sub(self.pass_base)
            + self.extra_deliveries.load(Relaxed)
            - self
                .missed
                .load(Relaxed)
                .min(passes.saturating_sub(self.pass_base));
        let samples = self.latency_samples.load(Relaxed);
        let total = self.latency_total_ns.load(Relaxed);
        ObserverStats {
            handle: self.handle,
            name: self.name.clone(),
            criticality: self.criticality,
            is_async: self.is_async,
            age: self.registered_at.elapsed(),
            deliveries,
            failures: self.failures.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            consecutive_failures: self.consecutive_failures.load(Relaxed),
            latency: LatencyStats {
                samples,
                mean: Duration::from_nanos(total.checked_div(samples).unwrap_or(0)),
                max: Duration::from_nanos(self.latency_max_ns.load(Relaxed)),
            },
        }
    }
}

/// Dispatch latency of one observer, over the measured deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyStats {
    /// Deliveries measured (all async ones; sync ones on sampled commits,
    /// see [`ObserverRegistryConfig::latency_sample_interval`](crate::ObserverRegistryConfig::latency_sample_interval)).
    pub samples: u64,
    /// Mean time in the observer's `on_event`.
    pub mean: Duration,
    /// Longest time in the observer's `on_event`.
    pub max: Duration,
}

/// One registered observer's statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverStats {
    /// Its handle.
    pub handle: ObserverHandle,
    /// Its name.
    pub name: String,
    /// Critical or best-effort.
    pub criticality: Criticality,
    /// Registered as an [`AsyncObserver`](crate::AsyncObserver).
    pub is_async: bool,
    /// Time since it was registered (its lifetime so far).
    pub age: Duration,
    /// Events delivered to it, including replays and rollbacks.
    pub deliveries: u64,
    /// Deliveries that returned an error.
    pub failures: u64,
    /// Deliveries that ran out of time.
    pub timeouts: u64,
    /// Failures and timeouts since its last success.
    pub consecutive_failures: u64,
    /// Time spent in its `on_event`.
    pub latency: LatencyStats,
}

/// An observer that was unregistered because it kept failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvictedObserver {
    /// Its handle.
    pub handle: ObserverHandle,
    /// Its name.
    pub name: String,
    /// How long it had been registered.
    pub lifetime: Duration,
    /// Consecutive failures (errors or timeouts) that caused the eviction.
    pub consecutive_failures: u64,
    /// The last failure.
    pub last_error: String,
}

/// A snapshot of the registry's statistics ([`crate::PeerRegistry::stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryStats {
    /// Peers stored.
    pub peers: usize,
    /// Observers registered (owners may have dropped some since the last
    /// commit; those are pruned at the next one).
    pub observers: usize,
    /// Commits that changed the registry (each dispatched one event).
    pub commits: u64,
    /// Event deliveries to observers (events × observers), all origins.
    pub deliveries: u64,
    /// Deliveries that returned an error.
    pub failures: u64,
    /// Deliveries that ran out of time.
    pub timeouts: u64,
    /// Commits aborted by a critical observer and rolled back.
    pub rollbacks: u64,
    /// Rollback deliveries that failed: that observer may now disagree with
    /// the registry (it is also counted towards its eviction).
    pub rollback_failures: u64,
    /// Observers pruned because their owner dropped them.
    pub pruned: u64,
    /// Observers evicted after too many consecutive failures.
    pub evictions: u64,
    /// The most recent evictions, oldest first.
    pub evicted: Vec<EvictedObserver>,
    /// Each registered observer, critical ones first, in registration order.
    pub per_observer: Vec<ObserverStats>,
}

impl RegistryStats {
    /// Mean age of the registered observers, `None` when there are none.
    pub fn average_observer_age(&self) -> Option<Duration> {
        let n = u32::try_from(self.per_observer.len())
            .ok()
            .filter(|n| *n > 0)?;
        let total: Duration = self.per_observer.iter().map(|o| o.age).sum();
        Some(total / n)
    }
}
