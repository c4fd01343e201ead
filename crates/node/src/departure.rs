//! Leaving: a signed BYE (`docs/wire.md` §3.7) to every verified peer, so
//! they drop this node at once instead of after the mDNS goodbye (which
//! receivers hold for 1 s, RFC 6762 §10.1) — or never, for peers that
//! found this node by its greeting alone. And the other side: a peer that
//! said BYE is not brought back by a late announcement of its own.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tazcom_identity::PeerId;
use tokio::task::JoinSet;

use crate::metrics::Counters;
use crate::shared::SharedRef;

/// How long a peer that said BYE stays departed: longer than an mDNS
/// announcement in flight, plus the 1 s its goodbye is held (RFC 6762
/// §10.1).
pub(crate) const DEPARTED_FOR: Duration = Duration::from_secs(5);

/// Peers that said BYE recently. Discovery does not re-add them (a cached
/// or late announcement is not a sign of life) until their discovery
/// source withdraws them, they prove they are back with a verified
/// greeting, or [`DEPARTED_FOR`] passes.
#[derive(Debug, Default)]
pub(crate) struct Departed(HashMap<PeerId, Instant>);

impl Departed {
    /// `peer` said BYE now; also forgets entries older than
    /// [`DEPARTED_FOR`], which keeps the map bounded by the BYE rate.
    pub(crate) fn mark(&mut self, peer: PeerId) {
        let now = Instant::now();
        self.0
            .retain(|_, at| now.duration_since(*at) < DEPARTED_FOR);
        self.0.insert(peer, now);
    }

    /// `peer` is back (verified greeting) or withdrawn by discovery.
    pub(crate) fn clear(&mut self, peer: &PeerId) {
        self.0.remove(peer);
    }

    /// Whether `peer` said BYE less than [`DEPARTED_FOR`] ago.
    pub(crate) fn contains(&self, peer: &PeerId) -> bool {
        self.0
            .get(peer)
            .is_some_and(|at| at.elapsed() < DEPARTED_FOR)
    }
}

/// Bound on all BYEs together (they go out in parallel); a peer that does
/// not answer in time still has the mDNS goodbye and its liveness check.
pub(crate) const BYE_BUDGET: Duration = Duration::from_millis(500);

/// Sends a BYE to each peer that may hold this node (prototypes do not
/// understand it) and waits for their ACKs, at most [`BYE_BUDGET`].
/// Returns how many peers acknowledged with a signed ACK.
pub(crate) async fn say_bye(shared: &SharedRef) -> usize {
    let mut byes = JoinSet::new();
    for (peer, addrs) in targets(shared) {
        let task_shared = SharedRef::clone(shared);
        byes.spawn(async move { bye(&task_shared, peer, &addrs).await });
    }
    let sent = byes.len();
    let mut acked = 0;
    let all = async {
        while let Some(result) = byes.join_next().await {
            acked += usize::from(matches!(result, Ok(true)));
        }
    };
    if tokio::time::timeout(BYE_BUDGET, all).await.is_err() {
        byes.abort_all();
    }
    tracing::debug!(sent, acked, "BYE sent to verified peers");
    acked
}

/// Who may hold this node: every verified peer, and every peer greeted or
/// being greeted (a signed HELLO of ours may have registered us there even
/// if its ACK never came back), by peer id.
fn targets(shared: &SharedRef) -> BTreeMap<PeerId, Vec<SocketAddr>> {
    let mut targets: BTreeMap<PeerId, Vec<SocketAddr>> = shared
        .registry
        .snapshot()
        .iter()
        .filter(|e| e.verified && !e.addrs.is_empty())
        .map(|e| (e.peer_id, e.addrs.clone()))
        .collect();
    let greeted = shared.greeted().clone();
    let hinted = shared.hinted().clone();
    for (peer, addrs) in greeted.into_iter().chain(hinted) {
        if shared.registry.get(&peer).is_some_and(|e| !e.verified) {
            continue; // a prototype: it would not understand a BYE
        }
        let known = targets.entry(peer).or_default();
        for addr in addrs {
            if !known.contains(&addr) {
                known.push(addr);
            }
        }
    }
    targets
}

/// One BYE, to each address in turn until one acknowledges with a signed
/// ACK.
async fn bye(shared: &SharedRef, peer: PeerId, addrs: &[SocketAddr]) -> bool {
    for &addr in addrs {
        Counters::inc(&shared.counters.byes_sent);
        match shared.greeter.bye(addr, &peer).await {
            Ok(reply) if reply.is_verified() => {
                Counters::inc(&shared.counters.byes_acked);
                return true;
            }
            Ok(_) => tracing::debug!(peer = %peer, %addr, "BYE answered without proof"),
            Err(e) => tracing::debug!(peer = %peer, %addr, error = %e, "BYE failed"),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_departed_peer_stays_departed_until_cleared() {
        let (a, b) = (PeerId::from_bytes([1; 32]), PeerId::from_bytes([2; 32]));
        let mut departed = Departed::default();
        departed.mark(a);
        assert!(departed.contains(&a));
        assert!(!departed.contains(&b));
        departed.clear(&a);
        assert!(!departed.contains(&a));
    }
}
