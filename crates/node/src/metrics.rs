//! Node counters and the metrics snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use tazcom_discovery::DiscoveryStats;
use tazcom_registry::RegistryStats;
use tazcom_transport::TransportStats;

/// Counters the node itself keeps (layers keep their own).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub hellos_sent: AtomicU64,
    pub hellos_acked: AtomicU64,
    pub hellos_verified: AtomicU64,
    pub hellos_failed: AtomicU64,
    pub hellos_received: AtomicU64,
    pub hellos_received_verified: AtomicU64,
    pub hellos_from_unknown: AtomicU64,
    pub discovery_rejected: AtomicU64,
    pub registry_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }
}

/// A snapshot of a node's counters and of each layer's statistics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeMetrics {
    /// HELLO attempts sent (one per address tried).
    pub hellos_sent: u64,
    /// HELLOs acknowledged (a signed ACK that passed every check, or a
    /// plain `ACK` from a peer that cannot sign, e.g. the prototype).
    pub hellos_acked: u64,
    /// Of `hellos_acked`, those answered by a verified signed ACK: the peer
    /// proved its id.
    pub hellos_verified: u64,
    /// Peers whose greeting failed on every attempt.
    pub hellos_failed: u64,
    /// HELLOs received (legacy and verified signed ones; rejected lines are
    /// counted in `transport`).
    pub hellos_received: u64,
    /// Of `hellos_received`, signed HELLOs that passed every check.
    pub hellos_received_verified: u64,
    /// HELLOs received from a peer id the registry does not hold (counted
    /// and reported, not stored: peers are added by discovery).
    pub hellos_from_unknown: u64,
    /// Discovery announcements rejected (bad TXT id…).
    pub discovery_rejected: u64,
    /// Registry commits that failed (a critical observer refused).
    pub registry_errors: u64,
    /// The transport's counters: the TCP server's (HELLOs rejected by
    /// reason, `rejected_*`) and the greeting client's (signed ACKs refused
    /// by reason, `acks_rejected_*`).
    pub transport: TransportStats,
    /// Each discovery source's counters, by source name.
    pub discovery: Vec<(String, DiscoveryStats)>,
    /// The registry's statistics.
    pub registry: RegistryStats,
}

impl NodeMetrics {
    pub(crate) fn new(
        c: &Counters,
        transport: TransportStats,
        discovery: Vec<(String, DiscoveryStats)>,
        registry: RegistryStats,
    ) -> Self {
        Self {
            hellos_sent: c.hellos_sent.load(Relaxed),
            hellos_acked: c.hellos_acked.load(Relaxed),
            hellos_verified: c.hellos_verified.load(Relaxed),
            hellos_failed: c.hellos_failed.load(Relaxed),
            hellos_received: c.hellos_received.load(Relaxed),
            hellos_received_verified: c.hellos_received_verified.load(Relaxed),
            hellos_from_unknown: c.hellos_from_unknown.load(Relaxed),
            discovery_rejected: c.discovery_rejected.load(Relaxed),
            registry_errors: c.registry_errors.load(Relaxed),
            transport,
            discovery,
            registry,
        }
    }
}
