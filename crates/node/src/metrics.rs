//! Node counters and the metrics snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use tazcom_discovery::DiscoveryStats;
use tazcom_registry::RegistryStats;
use tazcom_transport::session::SessionStats;
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
    pub peers_from_greetings: AtomicU64,
    pub probe_hints: AtomicU64,
    pub probe_hints_confirmed: AtomicU64,
    pub probe_hints_unconfirmed: AtomicU64,
    pub probe_hints_dropped: AtomicU64,
    pub pings_sent: AtomicU64,
    pub keepalives_sent: AtomicU64,
    pub withdrawals_checked: AtomicU64,
    pub legacy_hellos_ignored: AtomicU64,
    pub greeting_peers_refused: AtomicU64,
    pub checks_deferred: AtomicU64,
    pub candidate_addresses: AtomicU64,
    pub address_mismatches: AtomicU64,
    pub proofs_failed: AtomicU64,
    pub pings_received: AtomicU64,
    pub peers_unreachable: AtomicU64,
    pub byes_sent: AtomicU64,
    pub byes_acked: AtomicU64,
    pub byes_received: AtomicU64,
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
    /// HELLOs received from a peer id the registry did not hold. A
    /// verified signed one registers the sender (`peers_from_greetings`);
    /// a legacy one is only reported.
    pub hellos_from_unknown: u64,
    /// Discovery announcements rejected (bad TXT id…).
    pub discovery_rejected: u64,
    /// Registry commits that failed (a critical observer refused).
    pub registry_errors: u64,
    /// Peers registered from their verified signed HELLO or PING before
    /// discovery reported them.
    pub peers_from_greetings: u64,
    /// mDNS probe hints received (`DiscoveryEvent::Probing`).
    pub probe_hints: u64,
    /// Probers registered because their signed ACK proved the hinted key.
    pub probe_hints_confirmed: u64,
    /// Hint greetings that got no answer (left to DNS-SD).
    pub probe_hints_unconfirmed: u64,
    /// Hints ignored because 32 hint greetings were already in flight
    /// (`docs/security.md`, "Limits"); DNS-SD still reports those probers.
    pub probe_hints_dropped: u64,
    /// Liveness PINGs sent over TCP (one per address tried).
    pub pings_sent: u64,
    /// Liveness checks sent as keep-alive frames over an open session
    /// (instead of a TCP PING).
    pub keepalives_sent: u64,
    /// DNS-SD withdrawals (goodbye or expiry) of a verified peer turned
    /// into a liveness check instead of a removal (anyone can send a
    /// goodbye; the peer is removed only if the check fails).
    pub withdrawals_checked: u64,
    /// Legacy (unsigned) HELLOs naming a known peer that refreshed nothing:
    /// the peer is verified, or the HELLO came from none of its addresses
    /// (still reported as `HelloReceived`).
    pub legacy_hellos_ignored: u64,
    /// Peers that proved their key by greeting us (verified HELLO or PING,
    /// or a session) but were not stored: their source IP already has 8
    /// such peers, or 256 are stored in all (`docs/security.md`, "Limits").
    pub greeting_peers_refused: u64,
    /// Due liveness checks put off to a later tick because 64 were in
    /// flight.
    pub checks_deferred: u64,
    /// Announcements that named new addresses for a verified peer: held as
    /// candidates (greeted), the verified addresses kept until the peer
    /// proves its key at one of them (issue 13, forged announcement).
    pub candidate_addresses: u64,
    /// Signed ACKs not taken as proof because the session handshake at
    /// the same address found other addresses signed: a relay between us
    /// and the peer (`docs/wire.md` §3.8.5).
    pub address_mismatches: u64,
    /// Signed ACKs not taken as proof because no session handshake at the
    /// same address succeeded for another reason (timeout, refusal,
    /// `max_sessions` reached).
    pub proofs_failed: u64,
    /// Verified PINGs received.
    pub pings_received: u64,
    /// Peers removed because they failed their liveness check.
    pub peers_unreachable: u64,
    /// BYEs sent at shutdown (one per address tried).
    pub byes_sent: u64,
    /// Of `byes_sent`, those acknowledged with a signed ACK.
    pub byes_acked: u64,
    /// Verified BYEs received.
    pub byes_received: u64,
    /// The transport's counters: the TCP server's (HELLOs rejected by
    /// reason, `rejected_*`) and the greeting client's (signed ACKs refused
    /// by reason, `acks_rejected_*`).
    pub transport: TransportStats,
    /// Each discovery source's counters, by source name.
    pub discovery: Vec<(String, DiscoveryStats)>,
    /// The registry's statistics.
    pub registry: RegistryStats,
    /// The message layer's counters over all sessions (`docs/wire.md` §3.9).
    pub sessions: SessionStats,
}

impl NodeMetrics {
    pub(crate) fn new(
        c: &Counters,
        transport: TransportStats,
        discovery: Vec<(String, DiscoveryStats)>,
        registry: RegistryStats,
        sessions: SessionStats,
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
            peers_from_greetings: c.peers_from_greetings.load(Relaxed),
            probe_hints: c.probe_hints.load(Relaxed),
            probe_hints_confirmed: c.probe_hints_confirmed.load(Relaxed),
            probe_hints_unconfirmed: c.probe_hints_unconfirmed.load(Relaxed),
            probe_hints_dropped: c.probe_hints_dropped.load(Relaxed),
            pings_sent: c.pings_sent.load(Relaxed),
            keepalives_sent: c.keepalives_sent.load(Relaxed),
            withdrawals_checked: c.withdrawals_checked.load(Relaxed),
            legacy_hellos_ignored: c.legacy_hellos_ignored.load(Relaxed),
            greeting_peers_refused: c.greeting_peers_refused.load(Relaxed),
            checks_deferred: c.checks_deferred.load(Relaxed),
            candidate_addresses: c.candidate_addresses.load(Relaxed),
            address_mismatches: c.address_mismatches.load(Relaxed),
            proofs_failed: c.proofs_failed.load(Relaxed),
            pings_received: c.pings_received.load(Relaxed),
            peers_unreachable: c.peers_unreachable.load(Relaxed),
            byes_sent: c.byes_sent.load(Relaxed),
            byes_acked: c.byes_acked.load(Relaxed),
            byes_received: c.byes_received.load(Relaxed),
            transport,
            discovery,
            registry,
            sessions,
        }
    }
}
