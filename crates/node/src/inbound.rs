//! Inbound greetings: report them and refresh the sender's entry; a
//! verified signed HELLO also marks it verified. Connections the transport
//! rejected are reported as [`NodeEvent::Rejected`].

use std::net::SocketAddr;

use tazcom_identity::PeerId;
use tazcom_registry::{unix_ms, PeerEntry};
use tazcom_transport::InboundEvent;

use crate::event::NodeEvent;
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
    }
    let known_now = shared.registry.contains(&from);
    if !known_now {
        // Not stored: discovery adds peers (a HELLO carries no announcement).
        Counters::inc(&shared.counters.hellos_from_unknown);
        tracing::debug!(peer = %from, %remote, verified, "hello from a peer not (yet) discovered");
    }
    shared.emit(NodeEvent::HelloReceived {
        peer: from,
        remote,
        verified,
    });
    if !known_now {
        return;
    }
    // The address the sender signed: its IP as seen by us, its listen port.
    let proven_addr = listen_port
        .filter(|_| verified)
        .map(|port| SocketAddr::new(remote.ip(), port));
    refresh(shared, from, proven_addr).await;
}

/// Refreshes `last_seen_ms`; also sets `verified` when the sender proved its
/// key from `proven_addr` and the entry lists that address.
async fn refresh(shared: &SharedRef, from: PeerId, proven_addr: Option<SocketAddr>) {
    let _writes = shared.registry_writes.lock().await;
    // Read again under the lock: discovery may have changed or removed the
    // entry meanwhile (then there is nothing to refresh).
    let Some(known) = shared.registry.get(&from) else {
        return;
    };
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
