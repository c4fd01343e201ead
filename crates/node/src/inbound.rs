//! Inbound greetings: report them and refresh the sender's entry.

use tazcom_registry::{unix_ms, PeerEntry};
use tazcom_transport::InboundEvent;

use crate::event::NodeEvent;
use crate::metrics::Counters;
use crate::shared::SharedRef;

/// Handles one inbound transport event.
pub(crate) async fn handle(shared: &SharedRef, event: InboundEvent) {
    match event {
        InboundEvent::Hello { from, remote } => {
            // Counters first: whoever sees the event sees them updated.
            Counters::inc(&shared.counters.hellos_received);
            let known_now = shared.registry.contains(&from);
            if !known_now {
                // Not stored: the claim is unauthenticated and the sender's
                // listening address is unknown; discovery will add it.
                Counters::inc(&shared.counters.hellos_from_unknown);
                tracing::debug!(peer = %from, %remote, "hello from a peer not (yet) discovered");
            }
            shared.emit(NodeEvent::HelloReceived {
                peer: from,
                remote,
                verified: false,
            });
            if !known_now {
                return;
            }
            let _writes = shared.registry_writes.lock().await;
            // Read again under the lock: discovery may have changed or
            // removed the entry meanwhile (then there is nothing to refresh).
            let Some(known) = shared.registry.get(&from) else {
                return;
            };
            let refreshed = PeerEntry {
                last_seen_ms: unix_ms(),
                ..(*known).clone()
            };
            if let Err(e) = shared.registry.upsert(refreshed).await {
                Counters::inc(&shared.counters.registry_errors);
                tracing::warn!(peer = %from, error = %e, "registry refused a refresh");
            }
        }
        other => tracing::debug!(event = ?other, "inbound event ignored"),
    }
}
