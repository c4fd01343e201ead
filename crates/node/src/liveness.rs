//! Liveness: a known peer not heard from for [`LivenessPolicy::interval`]
//! gets a signed PING (`docs/wire.md` §3.7); a peer that answers none of the
//! rounds is removed. Without it a crashed peer stays until its mDNS records
//! expire (SRV TTL 120 s, RFC 6762 §10) — the prototype keeps one for its
//! 4500 s PTR TTL.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use tazcom_identity::PeerId;
use tazcom_registry::{PeerEntry, Source};
use tokio::time::{timeout, Instant, MissedTickBehavior};
use tracing::Instrument;

use crate::event::{NodeEvent, RemovalReason};
use crate::greeting;
use crate::metrics::Counters;
use crate::shared::SharedRef;

/// How a node checks that the peers it knows are still there
/// ([`NodeBuilder::liveness`](crate::NodeBuilder::liveness), `docs/node.md`
/// "Liveness").
///
/// Anything heard from a peer (a HELLO or PING from it, an ACK to ours)
/// counts. A node that was checked waits a quarter interval longer than the
/// one that checked it, so one side keeps the initiative and two nodes
/// exchange about one PING per `interval` between them, not two. A process
/// that dies on a live host (its port then refuses connections) is removed
/// within `interval × 1.45` + 0.5 s + `retry_after` at worst (6.55 s with
/// the defaults; the checking side ≤ 5.55 s); a host that vanishes, within
/// that plus `attempts × timeout`. Static peers are checked but never
/// removed (they are configured, not discovered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LivenessPolicy {
    /// Whether to check at all. Default `true`.
    pub enabled: bool,
    /// A peer not heard from for this long (plus a random 0–20 %) is
    /// checked. Default 4000 ms: about 15 PING/ACK exchanges per peer per
    /// minute (`docs/node.md` gives the bytes).
    pub interval: Duration,
    /// Rounds of PINGs over the peer's addresses before it is declared
    /// unreachable. Default 2.
    pub attempts: u32,
    /// Bound on one PING: connect, send, signed ACK. Default 1000 ms.
    pub timeout: Duration,
    /// Pause between rounds. Default 250 ms.
    pub retry_after: Duration,
}

impl Default for LivenessPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(4),
            attempts: 2,
            timeout: Duration::from_secs(1),
            retry_after: Duration::from_millis(250),
        }
    }
}

impl LivenessPolicy {
    /// No checks: peers leave only by goodbye, BYE or record expiry.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets [`interval`](Self::interval).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets [`attempts`](Self::attempts) and [`timeout`](Self::timeout).
    pub fn with_attempts(mut self, attempts: u32, timeout: Duration) -> Self {
        self.attempts = attempts;
        self.timeout = timeout;
        self
    }

    /// How often the node looks for peers that are due: a quarter of the
    /// interval, at most 500 ms, at least 10 ms.
    fn tick(&self) -> Duration {
        (self.interval / 4).clamp(Duration::from_millis(10), Duration::from_millis(500))
    }

    /// When a peer heard from now is next due: after `interval` plus a
    /// random 0–20 % of it if we checked it (`initiative`), a quarter
    /// interval later if it checked us.
    fn next_due(&self, now: Instant, initiative: bool) -> Instant {
        let spread = u64::try_from(self.interval.as_millis() / 5).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(OsRng.next_u64() % spread.saturating_add(1));
        let wait = if initiative {
            self.interval
        } else {
            self.interval + self.interval / 4
        };
        now + wait + jitter
    }
}

/// When each peer was last heard from and is next due, and which peers are
/// being checked.
#[derive(Debug, Default)]
pub(crate) struct Heard {
    peers: HashMap<PeerId, Seen>,
    checking: HashSet<PeerId>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    last: Instant,
    due: Instant,
}

impl Heard {
    /// `peer` contacted us now (a HELLO or PING): it has the initiative.
    pub(crate) fn heard(&mut self, peer: PeerId, policy: &LivenessPolicy) {
        self.heard_at(peer, Instant::now(), policy, false);
    }

    /// `peer` answered us now (an ACK to our HELLO or PING).
    pub(crate) fn answered(&mut self, peer: PeerId, policy: &LivenessPolicy) {
        self.heard_at(peer, Instant::now(), policy, true);
    }

    fn heard_at(&mut self, peer: PeerId, now: Instant, policy: &LivenessPolicy, initiative: bool) {
        let due = policy.next_due(now, initiative);
        self.peers.insert(peer, Seen { last: now, due });
    }

    /// `peer` left: nothing to check any more.
    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    /// Whether `peer` was heard from after `since`.
    fn heard_after(&self, peer: &PeerId, since: Instant) -> bool {
        self.peers.get(peer).is_some_and(|s| s.last > since)
    }

    /// Marks `peer` as being checked if it is due and not already being
    /// checked. A peer never heard of starts its clock now.
    fn start_check(&mut self, peer: PeerId, now: Instant, policy: &LivenessPolicy) -> bool {
        let Some(seen) = self.peers.get(&peer) else {
            self.heard_at(peer, now, policy, true);
            return false;
        };
        now >= seen.due && self.checking.insert(peer)
    }

    fn finish_check(&mut self, peer: &PeerId) {
        self.checking.remove(peer);
    }
}

/// Starts the sweep that checks due peers (nothing when disabled).
pub(crate) fn spawn(shared: &SharedRef) {
    if !shared.liveness.enabled {
        return;
    }
    let task_shared = SharedRef::clone(shared);
    shared.tasks.spawn(async move {
        let departing = task_shared.departing.clone();
        let mut ticker = tokio::time::interval(task_shared.liveness.tick());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = departing.cancelled() => break,
                _ = ticker.tick() => sweep(&task_shared),
            }
        }
    });
}

/// Starts a check of every peer that is due.
fn sweep(shared: &SharedRef) {
    let now = Instant::now();
    for entry in shared.registry.snapshot() {
        if entry.addrs.is_empty() {
            continue;
        }
        if !shared
            .heard()
            .start_check(entry.peer_id, now, &shared.liveness)
        {
            continue;
        }
        let task_shared = SharedRef::clone(shared);
        let span = tracing::debug_span!(parent: shared.tasks.span(), "liveness", peer = %entry.peer_id.short());
        shared.tasks.spawn(
            async move {
                let departing = task_shared.departing.clone();
                tokio::select! {
                    () = check(&task_shared, entry, now) => {}
                    () = departing.cancelled() => {}
                }
            }
            .instrument(span),
        );
    }
}

/// PINGs `entry`; removes it if it answers none of the rounds and nothing
/// else was heard from it meanwhile.
async fn check(shared: &SharedRef, entry: Arc<PeerEntry>, started: Instant) {
    let peer = entry.peer_id;
    match ping(shared, &entry).await {
        Ok(()) => shared.heard().answered(peer, &shared.liveness),
        Err(reason) => unreachable(shared, &entry, started, reason).await,
    }
    shared.heard().finish_check(&peer);
}

/// Up to `attempts` rounds over the entry's addresses. A verified entry
/// must answer with a signed ACK (someone else may hold its old address);
/// an unverified one (a prototype) with any ACK.
async fn ping(shared: &SharedRef, entry: &PeerEntry) -> Result<(), String> {
    let policy = shared.liveness;
    let mut last_error = String::from("no address");
    for round in 0..policy.attempts.max(1) {
        if round > 0 {
            tokio::time::sleep(policy.retry_after).await;
        }
        for &addr in &entry.addrs {
            Counters::inc(&shared.counters.pings_sent);
            match timeout(policy.timeout, shared.greeter.ping(addr, &entry.peer_id)).await {
                Ok(Ok(reply)) if reply.is_verified() || !entry.verified => return Ok(()),
                Ok(Ok(_)) => last_error = format!("{addr} answered without proving the key"),
                Ok(Err(e)) => last_error = format!("{addr}: {e}"),
                Err(_) => {
                    last_error = format!("{addr}: no answer within {:?}", policy.timeout);
                }
            }
        }
    }
    Err(last_error)
}

/// Removes a peer that failed its check, unless it changed meanwhile (new
/// addresses, or heard from since the check started) or is static.
async fn unreachable(shared: &SharedRef, checked: &PeerEntry, started: Instant, reason: String) {
    let peer = checked.peer_id;
    let _writes = shared.registry_writes.lock().await;
    let current = shared.registry.get(&peer);
    let unchanged = current.is_some_and(|e| e.addrs == checked.addrs);
    if !unchanged || shared.heard().heard_after(&peer, started) {
        return;
    }
    if checked.source == Source::Static {
        tracing::warn!(peer = %peer, %reason, "static peer does not answer; kept (it is configured)");
        return;
    }
    match shared.registry.remove(&peer).await {
        Ok(Some(_)) => {
            Counters::inc(&shared.counters.peers_unreachable);
            tracing::info!(peer = %peer, %reason, "peer unreachable; removed");
            forget(shared, &peer);
            shared.emit(NodeEvent::Removed {
                peer,
                reason: RemovalReason::Unreachable,
            });
        }
        Ok(None) => {}
        Err(e) => {
            Counters::inc(&shared.counters.registry_errors);
            tracing::warn!(peer = %peer, error = %e, "registry refused to remove an unreachable peer");
        }
    }
}

/// Forgets everything the node keeps about a peer that left (greeted
/// addresses, liveness clock), so it is greeted again if it returns.
pub(crate) fn forget(shared: &SharedRef, peer: &PeerId) {
    greeting::forget(shared, peer);
    shared.heard().forget(peer);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(byte: u8) -> PeerId {
        PeerId::from_bytes([byte; 32])
    }

    #[test]
    fn a_peer_is_due_after_the_interval_plus_jitter_and_checked_once() {
        let policy = LivenessPolicy::default().with_interval(Duration::from_secs(5));
        let mut heard = Heard::default();
        let start = Instant::now();
        assert!(
            !heard.start_check(peer(1), start, &policy),
            "first sight starts the clock"
        );
        assert!(!heard.start_check(peer(1), start + Duration::from_millis(4_999), &policy));
        let late = start + Duration::from_millis(6_001);
        assert!(heard.start_check(peer(1), late, &policy));
        assert!(
            !heard.start_check(peer(1), late, &policy),
            "already being checked"
        );
        heard.finish_check(&peer(1));
        assert!(heard.start_check(peer(1), late, &policy));
    }

    #[test]
    fn hearing_from_a_peer_postpones_its_check() {
        let policy = LivenessPolicy::default();
        let mut heard = Heard::default();
        let start = Instant::now();
        heard.heard_at(peer(2), start, &policy, true);
        assert!(!heard.heard_after(&peer(2), start));
        heard.heard_at(peer(2), start + Duration::from_secs(3), &policy, true);
        assert!(heard.heard_after(&peer(2), start));
        let at = start + Duration::from_millis(6_900);
        assert!(
            !heard.start_check(peer(2), at, &policy),
            "answered at 3 s: due at 7 s or later"
        );
        assert!(heard.start_check(peer(2), start + Duration::from_millis(7_801), &policy));
        heard.forget(&peer(2));
        assert!(!heard.heard_after(&peer(2), start));
    }

    #[test]
    fn a_peer_that_checked_us_is_due_a_quarter_interval_later() {
        let policy = LivenessPolicy::default();
        let mut heard = Heard::default();
        let start = Instant::now();
        heard.heard_at(peer(3), start, &policy, false);
        assert!(
            !heard.start_check(peer(3), start + Duration::from_millis(4_999), &policy),
            "it has the initiative: due at 5 s or later"
        );
        assert!(heard.start_check(peer(3), start + Duration::from_millis(5_801), &policy));
    }

    #[test]
    fn the_sweep_tick_is_a_quarter_interval_within_bounds() {
        let tick = |ms| {
            LivenessPolicy::default()
                .with_interval(Duration::from_millis(ms))
                .tick()
        };
        assert_eq!(tick(5_000), Duration::from_millis(500));
        assert_eq!(tick(1_000), Duration::from_millis(250));
        assert_eq!(tick(8), Duration::from_millis(10));
    }
}
