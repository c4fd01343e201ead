//! Inbound requests. A HELLO is reported and refreshes the sender's entry;
//! a verified signed HELLO or PING from a peer discovery has not reported
//! yet registers it at once (its IP as seen, the listen port it signed) and
//! is greeted back; a verified BYE removes the sender (`docs/wire.md` §3.6,
//! §3.7). Connections the transport rejected are reported as
//! [`NodeEvent::Rejected`].

use std::net::SocketAddr;

use tazcom_identity::PeerId;
use tazcom_registry::{unix_ms, PeerEntry, Source, Upsert};
use tazcom_transport::InboundEvent;

use crate::event::{NodeEvent, RemovalReason};
use crate::greeting;
use crate::liveness;
use crate::metrics::Counters;
use crate::shared::SharedRef;

/// Handles one inbound transport event.
pub(crate) async fn handle(shared: &SharedRef, event: InboundEvent) {
    match event {
        InboundEvent::Hello {
            from,
            remote,
            verified,
            listen_port,
            ..
        } => hello(shared, from, remote, verified, listen_port).await,
        InboundEvent::Ping {
            from,
            remote,
            listen_port,
            ..
        } => ping(shared, from, remote, listen_port).await,
        InboundEvent::Bye { from, remote, .. } => bye(shared, from, remote).await,
        // Already counted in the transport's stats (`rejected_<reason>`).
        InboundEvent::Rejected { remote, reason, .. } => shared.emit(NodeEvent::Rejected {
            reason: format!("transport: {reason} from {remote}"),
        }),
        other => tracing::debug!(event = ?other, "inbound event ignored"),
    }
}

async fn hello(
    shared: &SharedRef,
    from: PeerId,
    remote: SocketAddr,
    verified: bool,
    listen_port: Option<u16>,
) {
    // Counters first: whoever sees the event sees them updated.
    Counters::inc(&shared.counters.hellos_received);
    if verified {
        Counters::inc(&shared.counters.hellos_received_verified);
        shared.departed().clear(&from);
    }
    // The address the sender signed: its IP as seen by us, its listen port.
    let proven_addr = listen_port
        .filter(|_| verified)
        .map(|port| SocketAddr::new(remote.ip(), port));
    let known = shared.registry.contains(&from);
    if !known {
        Counters::inc(&shared.counters.hellos_from_unknown);
    }
    let added = match proven_addr {
        Some(addr) if !known => register(shared, from, addr).await,
        _ => false,
    };
    if !known && !added {
        // A legacy HELLO proves nothing and names no port: not stored.
        tracing::debug!(peer = %from, %remote, verified, "hello from a peer not (yet) discovered");
    }
    shared.emit(NodeEvent::HelloReceived {
        peer: from,
        remote,
        verified,
    });
    if known {
        refresh(shared, from, proven_addr, verified).await;
    }
}

/// A verified liveness check from `from`: it is alive. Registers it if it
/// is unknown (it may have been dropped while unreachable for a moment).
async fn ping(shared: &SharedRef, from: PeerId, remote: SocketAddr, listen_port: Option<u16>) {
    Counters::inc(&shared.counters.pings_received);
    shared.departed().clear(&from);
    if shared.registry.contains(&from) {
        shared.heard().heard(from, &shared.liveness);
    } else if let Some(port) = listen_port {
        register(shared, from, SocketAddr::new(remote.ip(), port)).await;
    }
}

/// A verified BYE: the sender is shutting down.
async fn bye(shared: &SharedRef, from: PeerId, remote: SocketAddr) {
    Counters::inc(&shared.counters.byes_received);
    let _writes = shared.registry_writes.lock().await;
    shared.departed().mark(from);
    match shared.registry.remove(&from).await {
        Ok(Some(_)) => {
            tracing::info!(peer = %from, %remote, "peer said BYE; removed");
            liveness::forget(shared, &from);
            shared.emit(NodeEvent::Removed {
                peer: from,
                reason: RemovalReason::Bye,
            });
        }
        Ok(None) => tracing::debug!(peer = %from, "BYE from a peer not in the registry"),
        Err(e) => {
            Counters::inc(&shared.counters.registry_errors);
            tracing::warn!(peer = %from, error = %e, "registry refused to remove a peer that said BYE");
        }
    }
}

/// Stores a peer that proved its key at `addr` before discovery reported
/// it, then greets it back so that both sides have greeted. True if added.
async fn register(shared: &SharedRef, peer: PeerId, addr: SocketAddr) -> bool {
    if shared.departing.is_cancelled() {
        return false;
    }
    {
        let _writes = shared.registry_writes.lock().await;
        // Discovery may have added it meanwhile: then it is not ours to add.
        if shared.registry.contains(&peer) {
            return false;
        }
        let mut entry = PeerEntry::new(peer, Source::Greeting);
        entry.addrs = vec![addr];
        entry.verified = true;
        match shared.registry.upsert(entry).await {
            Ok(Upsert::Added) => {}
            Ok(_) => return false,
            Err(e) => {
                Counters::inc(&shared.counters.registry_errors);
                tracing::warn!(peer = %peer, error = %e, "registry refused a peer that greeted us");
                return false;
            }
        }
        Counters::inc(&shared.counters.peers_from_greetings);
        shared.heard().heard(peer, &shared.liveness);
        tracing::debug!(peer = %peer, %addr, "registered from its verified greeting");
        shared.emit(NodeEvent::Discovered {
            peer,
            addrs: vec![addr],
            source: Source::Greeting,
        });
    }
    greeting::greet_if_new(shared, peer, &[addr]);
    true
}

/// Refreshes `last_seen_ms` (and the liveness clock); also sets `verified`
/// when the sender proved its key from `proven_addr` and the entry lists
/// that address.
async fn refresh(
    shared: &SharedRef,
    from: PeerId,
    proven_addr: Option<SocketAddr>,
    verified: bool,
) {
    let _writes = shared.registry_writes.lock().await;
    // Read again under the lock: discovery may have changed or removed the
    // entry meanwhile (then there is nothing to refresh).
    let Some(known) = shared.registry.get(&from) else {
        return;
    };
    // A legacy HELLO naming a verified peer is a claim anyone can make.
    if verified || !known.verified {
        shared.heard().heard(from, &shared.liveness);
    }
    let proven = proven_addr.is_some_and(|addr| known.addrs.contains(&addr));
    if proven_addr.is_some() && !proven {
        tracing::debug!(peer = %from, addr = ?proven_addr, "verified hello from an address the registry does not list; entry left unverified");
    }
    let refreshed = PeerEntry {
        last_seen_ms: unix_ms(),
        verified: known.verified || proven,
        ..(*known).clone()
    };
    if let Err(e) = shared.registry.upsert(refreshed).await {
        Counters::inc(&shared.counters.registry_errors);
        tracing::warn!(peer = %from, error = %e, "registry refused a refresh");
    }
}
