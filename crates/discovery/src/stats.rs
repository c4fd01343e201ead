//! Counters of what a discovery source has reported: [`DiscoveryStats`].

use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::DiscoveryEvent;

/// A snapshot of a source's counters since it was created (they survive a
/// shutdown and restart). All counts are event counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoveryStats {
    /// `Discovered` events emitted.
    pub discovered: u64,
    /// `Updated` events emitted.
    pub updated: u64,
    /// `Removed` events emitted.
    pub removed: u64,
    /// Instances refused (`Rejected` events emitted).
    pub rejected: u64,
    /// Announcements of our own peer id that were ignored (self-filtering).
    pub self_ignored: u64,
}

/// Shared, lock-free counters behind [`DiscoveryStats`].
#[derive(Debug, Default)]
pub(crate) struct StatsCounter {
    discovered: AtomicU64,
    updated: AtomicU64,
    removed: AtomicU64,
    rejected: AtomicU64,
    self_ignored: AtomicU64,
}

impl StatsCounter {
    /// Counts one emitted event.
    pub(crate) fn count(&self, event: &DiscoveryEvent) {
        let counter = match event {
            DiscoveryEvent::Discovered(_) => &self.discovered,
            DiscoveryEvent::Updated(_) => &self.updated,
            DiscoveryEvent::Removed { .. } => &self.removed,
            DiscoveryEvent::Rejected { .. } => &self.rejected,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one ignored announcement of our own id.
    pub(crate) fn count_self_ignored(&self) {
        self.self_ignored.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads all counters (each is read atomically, not all together).
    pub(crate) fn snapshot(&self) -> DiscoveryStats {
        DiscoveryStats {
            discovered: self.discovered.load(Ordering::Relaxed),
            updated: self.updated.load(Ordering::Relaxed),
            removed: self.removed.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            self_ignored: self.self_ignored.load(Ordering::Relaxed),
        }
    }
}
