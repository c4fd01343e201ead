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
    /// `Probing` events emitted (probe hints, after de-duplication).
    pub probe_hints: u64,
    /// Service records in received mDNS probes that gave no hint: another
    /// service type, a missing or invalid TXT `id`, SRV port 0, a non-UTF-8
    /// instance label, or our own peer id (we hear our own probes).
    pub probe_hints_ignored: u64,
    /// Packets received by the probe listener that are not valid DNS
    /// messages (RFC 1035 §4); logged at `debug`.
    pub probe_packets_malformed: u64,
    /// Failures of the probe listener's socket: creating, binding or
    /// joining it on an interface (one count per interface), or receiving.
    /// Logged at `warn`; discovery goes on without (some) hints.
    pub probe_socket_errors: u64,
}

/// Shared, lock-free counters behind [`DiscoveryStats`].
#[derive(Debug, Default)]
pub(crate) struct StatsCounter {
    discovered: AtomicU64,
    updated: AtomicU64,
    removed: AtomicU64,
    rejected: AtomicU64,
    self_ignored: AtomicU64,
    probe_hints: AtomicU64,
    probe_hints_ignored: AtomicU64,
    probe_packets_malformed: AtomicU64,
    probe_socket_errors: AtomicU64,
}

impl StatsCounter {
    /// Counts one emitted event.
    pub(crate) fn count(&self, event: &DiscoveryEvent) {
        let counter = match event {
            DiscoveryEvent::Discovered(_) => &self.discovered,
            DiscoveryEvent::Updated(_) => &self.updated,
            DiscoveryEvent::Removed { .. } => &self.removed,
            DiscoveryEvent::Rejected { .. } => &self.rejected,
            DiscoveryEvent::Probing(_) => &self.probe_hints,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one ignored announcement of our own id.
    pub(crate) fn count_self_ignored(&self) {
        self.self_ignored.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` service records in probes that gave no hint.
    pub(crate) fn count_probe_hints_ignored(&self, n: u64) {
        self.probe_hints_ignored.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one packet on the probe socket that is not DNS.
    pub(crate) fn count_probe_packet_malformed(&self) {
        self.probe_packets_malformed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failure of the probe socket.
    pub(crate) fn count_probe_socket_error(&self) {
        self.probe_socket_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads all counters (each is read atomically, not all together).
    pub(crate) fn snapshot(&self) -> DiscoveryStats {
        DiscoveryStats {
            discovered: self.discovered.load(Ordering::Relaxed),
            updated: self.updated.load(Ordering::Relaxed),
            removed: self.removed.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            self_ignored: self.self_ignored.load(Ordering::Relaxed),
            probe_hints: self.probe_hints.load(Ordering::Relaxed),
            probe_hints_ignored: self.probe_hints_ignored.load(Ordering::Relaxed),
            probe_packets_malformed: self.probe_packets_malformed.load(Ordering::Relaxed),
            probe_socket_errors: self.probe_socket_errors.load(Ordering::Relaxed),
        }
    }
}
