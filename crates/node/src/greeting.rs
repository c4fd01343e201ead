//! Greeting discovered peers: a HELLO to each new peer, or to a known one
//! whose addresses changed.

use std::net::SocketAddr;

use tazcom_identity::PeerId;
use tazcom_transport::send_hello;
use tracing::Instrument;

use crate::event::NodeEvent;
use crate::metrics::Counters;
use crate::shared::SharedRef;

/// Starts greeting `peer` at `addrs` unless it was already greeted at this
/// exact address set.
pub(crate) fn greet_if_new(shared: &SharedRef, peer: PeerId, addrs: &[SocketAddr]) {
    if addrs.is_empty() {
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
            let cancel = task_shared.cancel.clone();
            tokio::select! {
                () = greet(&task_shared, peer, &addrs) => {}
                () = cancel.cancelled() => {}
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
            match send_hello(addr, &shared.peer_id, &shared.transport).await {
                Ok(rtt) => {
                    Counters::inc(&shared.counters.hellos_acked);
                    tracing::debug!(peer = %peer, %addr, rtt_us = rtt.as_micros() as u64, "hello acked");
                    shared.emit(NodeEvent::HelloAcked { peer, addr, rtt });
                    return;
                }
                Err(e) => {
                    tracing::debug!(peer = %peer, %addr, error = %e, round, "hello failed");
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
