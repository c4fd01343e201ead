//! Greeting discovered peers: a signed HELLO to each new peer, or to a known
//! one whose addresses changed; a verified signed ACK marks its entry
//! verified (`docs/wire.md` §3.6).

use std::net::SocketAddr;

use tazcom_identity::PeerId;
use tazcom_registry::PeerEntry;
use tazcom_transport::{Greeting, TransportError};
use tracing::Instrument;

use crate::event::NodeEvent;
use crate::metrics::Counters;
use crate::shared::SharedRef;

/// Starts greeting `peer` at `addrs` unless it was already greeted at this
/// exact address set.
pub(crate) fn greet_if_new(shared: &SharedRef, peer: PeerId, addrs: &[SocketAddr]) {
    if addrs.is_empty() || shared.departing.is_cancelled() {
        return;
    }
    {
        let mut greeted = shared.greeted();
        if greeted.get(&peer).is_some_and(|a| a == addrs) {
            return;
        }
        greeted.insert(peer, addrs.to_vec());
    }
    let (task_shared, addrs) = (SharedRef::clone(shared), addrs.to_vec());
    let span = tracing::debug_span!(parent: shared.tasks.span(), "greet", peer = %peer.short());
    shared.tasks.spawn(
        async move {
            let departing = task_shared.departing.clone();
            tokio::select! {
                () = greet(&task_shared, peer, &addrs) => {}
                () = departing.cancelled() => {}
            }
        }
        .instrument(span),
    );
}

/// Forgets that `peer` was greeted (it left; greet it again if it returns).
pub(crate) fn forget(shared: &SharedRef, peer: &PeerId) {
    shared.greeted().remove(peer);
}

/// Tries each address in turn, for up to `attempts` rounds.
async fn greet(shared: &SharedRef, peer: PeerId, addrs: &[SocketAddr]) {
    let policy = shared.greeting;
    let mut last_error = String::from("no address");
    for round in 0..policy.attempts.max(1) {
        if round > 0 {
            tokio::time::sleep(policy.backoff * round).await;
        }
        for &addr in addrs {
            Counters::inc(&shared.counters.hellos_sent);
            match shared.greeter.greet(addr, &peer).await {
                Ok(greeting) => {
                    acknowledged(shared, peer, addr, greeting).await;
                    return;
                }
                Err(e) => {
                    log_failure(peer, addr, round, &e);
                    last_error = e.to_string();
                }
            }
        }
    }
    Counters::inc(&shared.counters.hellos_failed);
    tracing::warn!(peer = %peer, error = %last_error, "could not greet peer");
    shared.emit(NodeEvent::HelloFailed {
        peer,
        reason: last_error,
    });
}

/// Counts and reports an acknowledged greeting; a verified one first marks
/// the peer's entry verified.
pub(crate) async fn acknowledged(
    shared: &SharedRef,
    peer: PeerId,
    addr: SocketAddr,
    greeting: Greeting,
) {
    shared.heard().answered(peer, &shared.liveness);
    Counters::inc(&shared.counters.hellos_acked);
    let verified = greeting.is_verified();
    if verified {
        Counters::inc(&shared.counters.hellos_verified);
        mark_verified(shared, peer, addr).await;
    }
    let rtt = greeting.rtt;
    tracing::debug!(peer = %peer, %addr, rtt_us = rtt.as_micros() as u64, verified, "hello acked");
    shared.emit(NodeEvent::HelloAcked {
        peer,
        addr,
        rtt,
        verified,
    });
}

/// Sets `verified` on `peer`'s entry if it still lists `addr`, the address
/// that proved the key (discovery may have moved or removed the peer since
/// the greeting started; then the proof is for an address it no longer has).
pub(crate) async fn mark_verified(shared: &SharedRef, peer: PeerId, addr: SocketAddr) {
    let _writes = shared.registry_writes.lock().await;
    let Some(known) = shared.registry.get(&peer) else {
        return;
    };
    if known.verified || !known.addrs.contains(&addr) {
        return;
    }
    let verified = PeerEntry {
        verified: true,
        ..(*known).clone()
    };
    if let Err(e) = shared.registry.upsert(verified).await {
        Counters::inc(&shared.counters.registry_errors);
        tracing::warn!(peer = %peer, error = %e, "registry refused to mark a peer verified");
    }
}

/// Logs a failed attempt: a refused proof of identity at `warn` (someone
/// else answers at the peer's address), other failures at `debug`.
fn log_failure(peer: PeerId, addr: SocketAddr, round: u32, error: &TransportError) {
    match error {
        TransportError::AckRejected { .. } => {
            tracing::warn!(peer = %peer, %addr, %error, round, "hello answered by the wrong key");
        }
        _ => tracing::debug!(peer = %peer, %addr, %error, round, "hello failed"),
    }
}
