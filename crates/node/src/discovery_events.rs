//! Turning discovery events into registry changes, node events and greetings.

use std::net::SocketAddr;
use std::sync::Arc;

use tazcom_discovery::{DiscoveryEvent, PeerInfo};
use tazcom_identity::PeerId;
use tazcom_registry::{PeerEntry, Source, Upsert};

use crate::caps;
use crate::event::{NodeEvent, RemovalReason};
use crate::greeting;
use crate::hints;
use crate::liveness;
use crate::metrics::Counters;
use crate::shared::SharedRef;

/// Handles one event from a discovery source of kind `source`.
pub(crate) async fn handle(shared: &SharedRef, source: Source, event: DiscoveryEvent) {
    if let DiscoveryEvent::Probing(info) = event {
        // A hint, not an announcement: checked by a greeting before it
        // changes the registry.
        return hints::on_probe(shared, info);
    }
    let _writes = shared.registry_writes.lock().await;
    match event {
        DiscoveryEvent::Discovered(info) | DiscoveryEvent::Updated(info) => {
            seen(shared, source, info).await;
        }
        DiscoveryEvent::Removed {
            instance_name,
            peer_id,
        } => removed(shared, &instance_name, peer_id).await,
        DiscoveryEvent::Rejected {
            instance_name,
            reason,
        } => {
            Counters::inc(&shared.counters.discovery_rejected);
            shared.emit(NodeEvent::Rejected {
                reason: format!("discovery: instance '{instance_name}': {reason}"),
            });
        }
        other => tracing::debug!(event = ?other, "discovery event ignored"),
    }
}

/// A peer was announced: store it, report it, greet it if new or moved.
async fn seen(shared: &SharedRef, source: Source, info: PeerInfo) {
    if info.peer_id == shared.peer_id {
        return;
    }
    if shared.departed().contains(&info.peer_id) {
        tracing::debug!(peer = %info.peer_id, "announcement of a peer that said BYE; ignored");
        return;
    }
    let addrs = ordered(info.addrs);
    let previous = shared.registry.get(&info.peer_id);
    let mut entry = PeerEntry::new(info.peer_id, source);
    entry.addrs = addrs.clone();
    entry.instance_name = Some(Arc::from(info.instance_name.as_str()));
    entry.capabilities = caps::from_txt(&info.txt);
    // A proof of identity holds for the addresses it was made at: new
    // addresses are unverified until the greeting that follows proves them.
    entry.verified = previous
        .as_ref()
        .is_some_and(|p| p.verified && p.addrs == addrs);
    let peer = info.peer_id;
    match shared.registry.upsert(entry).await {
        Ok(Upsert::Added) => {
            shared.heard().heard(peer, &shared.liveness);
            shared.emit(NodeEvent::Discovered {
                peer,
                addrs: addrs.clone(),
                source,
            });
        }
        Ok(Upsert::Updated) => shared.emit(NodeEvent::Updated {
            peer,
            addrs: addrs.clone(),
        }),
        Ok(Upsert::Unchanged) => {}
        Err(e) => {
            Counters::inc(&shared.counters.registry_errors);
            tracing::warn!(peer = %peer, error = %e, "registry refused a discovered peer");
            return;
        }
    }
    greeting::greet_if_new(shared, peer, &addrs);
}

/// A DNS-SD instance left: remove whoever holds its name.
async fn removed(shared: &SharedRef, instance_name: &str, peer_id: Option<PeerId>) {
    if let Some(id) = &peer_id {
        shared.departed().clear(id);
    }
    let result = match shared.registry.remove_by_instance(instance_name).await {
        Ok(None) => match peer_id {
            // The name index moved to another peer; remove by id only if that
            // entry still carries this instance name.
            Some(id)
                if shared
                    .registry
                    .get(&id)
                    .is_some_and(|e| e.instance_name.as_deref() == Some(instance_name)) =>
            {
                shared.registry.remove(&id).await
            }
            _ => Ok(None),
        },
        other => other,
    };
    match result {
        Ok(Some(entry)) => {
            liveness::forget(shared, &entry.peer_id);
            shared.emit(NodeEvent::Removed {
                peer: entry.peer_id,
                reason: RemovalReason::Withdrawn,
            });
        }
        Ok(None) => tracing::debug!(instance = instance_name, "removal of an unknown instance"),
        Err(e) => {
            Counters::inc(&shared.counters.registry_errors);
            tracing::warn!(instance = instance_name, error = %e, "registry refused a removal");
        }
    }
}

/// IPv4 addresses first (the prototype listens on IPv4), order otherwise kept.
pub(crate) fn ordered(mut addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    addrs.sort_by_key(SocketAddr::is_ipv6);
    addrs.dedup();
    addrs
}
