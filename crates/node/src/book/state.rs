//! What the book keeps about one peer, and about peers that said BYE.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tazcom_identity::PeerId;
use tazcom_registry::{Capabilities, PeerEntry};

/// Everything the node knows about one peer. A peer whose state is empty
/// ([`is_empty`](Self::is_empty)) is dropped from the book.
#[derive(Debug, Default)]
pub(super) struct PeerState {
    /// The peer's registry entry, as last committed (`None`: not stored).
    pub entry: Option<PeerEntry>,
    /// The address set the peer was last greeted at: greeted once per set.
    pub greeted: Option<Vec<SocketAddr>>,
    /// Token of the greeting in flight; a result with another token is stale.
    pub greeting: Option<u64>,
    /// The probe-hint greeting in flight (one at a time per peer).
    pub hint: Option<Hint>,
    /// The liveness schedule (kept for stored peers only).
    pub clock: Option<Clock>,
    /// The liveness check in flight.
    pub check: Option<InFlightCheck>,
    /// Addresses announced for a verified peer, kept aside until the peer
    /// proves its key at one of them (issue 13, forged announcement).
    pub candidate: Option<Vec<SocketAddr>>,
}

impl PeerState {
    pub(super) fn is_empty(&self) -> bool {
        self.entry.is_none()
            && self.greeted.is_none()
            && self.greeting.is_none()
            && self.hint.is_none()
            && self.check.is_none()
    }
}

/// A probe hint being checked by a greeting: what the probe proposed.
#[derive(Debug, Clone)]
pub(super) struct Hint {
    pub token: u64,
    pub addrs: Vec<SocketAddr>,
    pub instance: Arc<str>,
    pub capabilities: Capabilities,
}

/// When a peer was last heard from and when it is next due for a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Clock {
    pub last: Instant,
    pub due: Instant,
}

/// A liveness check in flight: when it started and the addresses checked.
#[derive(Debug, Clone)]
pub(super) struct InFlightCheck {
    pub started: Instant,
    pub addrs: Vec<SocketAddr>,
    /// Started (or joined) by a withdrawal of the peer's DNS-SD record: a
    /// failure removes it as `Withdrawn`, not `Unreachable`.
    pub withdrawn: bool,
}

/// How long a peer that said BYE stays departed: longer than an mDNS
/// announcement in flight, plus the 1 s its goodbye is held (RFC 6762
/// §10.1).
pub(crate) const DEPARTED_FOR: Duration = Duration::from_secs(5);

/// Peers that said BYE recently. Neither discovery nor a greeting re-adds
/// them (a cached or late announcement is not a sign of life, nor is a
/// HELLO or PING it signed before its BYE and that arrived after it) until
/// their discovery source withdraws them, they prove they are back with a
/// verified HELLO or PING signed after the BYE, or [`DEPARTED_FOR`] passes.
#[derive(Debug, Default)]
pub(super) struct Departed(HashMap<PeerId, Bye>);

/// When a BYE arrived (our clock) and when it was signed (the peer's).
#[derive(Debug, Clone, Copy)]
struct Bye {
    at: Instant,
    sent_ms: u64,
}

impl Departed {
    /// `peer` said BYE at `now`, signed at `sent_ms` by its clock; also
    /// forgets entries older than [`DEPARTED_FOR`], which keeps the map
    /// bounded by the BYE rate.
    pub(super) fn mark(&mut self, peer: PeerId, now: Instant, sent_ms: u64) {
        self.0
            .retain(|_, bye| now.saturating_duration_since(bye.at) < DEPARTED_FOR);
        self.0.insert(peer, Bye { at: now, sent_ms });
    }

    /// `peer` was withdrawn by discovery.
    pub(super) fn clear(&mut self, peer: &PeerId) {
        self.0.remove(peer);
    }

    /// `peer` proved it is back with a message it signed at `sent_ms`:
    /// clears the mark only if that is later than its BYE (the same clock).
    pub(super) fn back(&mut self, peer: &PeerId, sent_ms: u64) {
        if self.0.get(peer).is_some_and(|bye| sent_ms > bye.sent_ms) {
            self.0.remove(peer);
        }
    }

    /// Whether `peer` said BYE less than [`DEPARTED_FOR`] before `now`.
    pub(super) fn contains(&self, peer: &PeerId, now: Instant) -> bool {
        self.0
            .get(peer)
            .is_some_and(|bye| now.saturating_duration_since(bye.at) < DEPARTED_FOR)
    }
}
