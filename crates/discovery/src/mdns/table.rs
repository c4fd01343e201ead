//! [`PeerTable`]: remembers what each service instance was last reported as,
//! so that repeated resolutions become `Updated` only on real changes and
//! removals can name the peer id. Pure state, no I/O: unit-testable.

use std::collections::HashMap;
use std::sync::Arc;

use mdns_sd::ResolvedService;
use tazcom_identity::PeerId;
use tracing::{debug, info, warn};

use super::convert::{instance_label, peer_info};
use crate::error::Chain;
use crate::event::{DiscoveryEvent, PeerInfo, RejectReason};
use crate::stats::StatsCounter;

/// What an instance was last reported as.
#[derive(Debug)]
enum Known {
    Peer(PeerInfo),
    Rejected(RejectReason),
}

/// Known service instances of one service type, keyed by instance label.
#[derive(Debug)]
pub(crate) struct PeerTable {
    own_id: PeerId,
    own_instance: String,
    service_type: String,
    known: HashMap<String, Known>,
    stats: Arc<StatsCounter>,
}

impl PeerTable {
    pub(crate) fn new(
        own_id: PeerId,
        own_instance: String,
        service_type: String,
        stats: Arc<StatsCounter>,
    ) -> Self {
        PeerTable {
            own_id,
            own_instance,
            service_type,
            known: HashMap::new(),
            stats,
        }
    }

    /// Events for a (re-)resolved instance: `Discovered` for a new one,
    /// `Updated` when addresses/port/TXT changed, nothing when unchanged,
    /// `Rejected` for bad data (once per instance and reason, plus `Removed`
    /// if it was a peer before).
    pub(crate) fn on_resolved(&mut self, resolved: &ResolvedService) -> Vec<DiscoveryEvent> {
        let instance = instance_label(&resolved.fullname, &self.service_type).to_string();
        let events = match peer_info(resolved, &self.service_type) {
            Ok(peer) if peer.peer_id == self.own_id => {
                self.on_self(&peer);
                Vec::new()
            }
            Ok(peer) => self.on_peer(peer),
            Err(reason) => self.on_rejected(instance, reason),
        };
        self.count(&events);
        events
    }

    /// The event for a removed instance: `Removed` when it had been reported
    /// (peer id filled for peers), nothing for ourself or unknown instances.
    pub(crate) fn on_removed(&mut self, fullname: &str) -> Option<DiscoveryEvent> {
        let instance = instance_label(fullname, &self.service_type).to_string();
        let event = match self.known.remove(&instance)? {
            Known::Peer(old) => {
                info!(peer = %old.peer_id.short(), instance = %instance, "mDNS peer removed");
                removed(instance, Some(old.peer_id))
            }
            Known::Rejected(_) => removed(instance, None),
        };
        self.stats.count(&event);
        Some(event)
    }

    fn on_rejected(&mut self, instance: String, reason: RejectReason) -> Vec<DiscoveryEvent> {
        let previous = self
            .known
            .insert(instance.clone(), Known::Rejected(reason.clone()));
        let mut events = Vec::new();
        match previous {
            Some(Known::Rejected(old)) if old == reason => {
                debug!(instance = %instance, reason = %Chain(&reason), "mDNS service still rejected");
                return events;
            }
            Some(Known::Peer(old)) => events.push(removed(instance.clone(), Some(old.peer_id))),
            Some(Known::Rejected(_)) | None => {}
        }
        warn!(instance = %instance, reason = %Chain(&reason), "mDNS service rejected");
        events.insert(
            0,
            DiscoveryEvent::Rejected {
                instance_name: instance,
                reason,
            },
        );
        events
    }

    fn on_self(&self, peer: &PeerInfo) {
        self.stats.count_self_ignored();
        if peer.instance_name == self.own_instance {
            debug!(instance = %peer.instance_name, "ignored our own announcement");
        } else {
            warn!(
                instance = %peer.instance_name,
                addrs = ?peer.addrs,
                "another service instance announces our own peer id; ignored"
            );
        }
    }

    fn on_peer(&mut self, peer: PeerInfo) -> Vec<DiscoveryEvent> {
        let instance = peer.instance_name.clone();
        let previous = self
            .known
            .insert(instance.clone(), Known::Peer(peer.clone()));
        match previous {
            Some(Known::Peer(old)) if old == peer => Vec::new(),
            Some(Known::Peer(old)) if old.peer_id == peer.peer_id => {
                info!(peer = %peer.peer_id.short(), instance = %instance, addrs = ?peer.addrs, "mDNS peer updated");
                vec![DiscoveryEvent::Updated(peer)]
            }
            Some(Known::Peer(old)) => {
                info!(
                    old = %old.peer_id.short(),
                    new = %peer.peer_id.short(),
                    instance = %instance,
                    "mDNS instance changed its peer id"
                );
                vec![
                    removed(instance, Some(old.peer_id)),
                    DiscoveryEvent::Discovered(peer),
                ]
            }
            Some(Known::Rejected(_)) | None => {
                info!(peer = %peer.peer_id.short(), instance = %instance, addrs = ?peer.addrs, "mDNS peer discovered");
                vec![DiscoveryEvent::Discovered(peer)]
            }
        }
    }

    fn count(&self, events: &[DiscoveryEvent]) {
        for event in events {
            self.stats.count(event);
        }
    }
}

fn removed(instance_name: String, peer_id: Option<PeerId>) -> DiscoveryEvent {
    DiscoveryEvent::Removed {
        instance_name,
        peer_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdns_sd::ServiceInfo;

    const TY: &str = "_tazcom._tcp.local.";

    fn id(byte: u8) -> PeerId {
        PeerId::from_bytes([byte; 32])
    }

    fn table() -> PeerTable {
        PeerTable::new(
            id(0),
            "TAZCOM Node 00000000".into(),
            TY.into(),
            Arc::default(),
        )
    }

    fn service(instance: &str, id_txt: &str, ip: &str, port: u16) -> ResolvedService {
        ServiceInfo::new(TY, instance, "h.local.", ip, port, &[("id", id_txt)][..])
            .unwrap()
            .as_resolved_service()
    }

    fn full(instance: &str) -> String {
        format!("{instance}.{TY}")
    }

    #[test]
    fn new_changed_unchanged_and_removed() {
        let mut t = table();
        let peer = id(1).to_string();
        let first = t.on_resolved(&service("p", &peer, "10.0.0.1", 4000));
        assert!(matches!(&first[..], [DiscoveryEvent::Discovered(i)] if i.peer_id == id(1)));

        assert!(t
            .on_resolved(&service("p", &peer, "10.0.0.1", 4000))
            .is_empty());

        let moved = t.on_resolved(&service("p", &peer, "10.0.0.1", 4001));
        assert!(
            matches!(&moved[..], [DiscoveryEvent::Updated(i)] if i.addrs == vec!["10.0.0.1:4001".parse().unwrap()])
        );

        let readdressed = t.on_resolved(&service("p", &peer, "10.0.0.7", 4001));
        assert!(matches!(&readdressed[..], [DiscoveryEvent::Updated(_)]));

        assert_eq!(
            t.on_removed(&full("p")),
            Some(removed("p".into(), Some(id(1))))
        );
        assert_eq!(t.on_removed(&full("p")), None, "removed only once");

        let stats = t.stats.snapshot();
        assert_eq!((stats.discovered, stats.updated, stats.removed), (1, 2, 1));
    }

    #[test]
    fn ourself_is_ignored_and_counted() {
        let mut t = table();
        let own = id(0).to_string();
        assert!(t
            .on_resolved(&service("TAZCOM Node 00000000", &own, "10.0.0.1", 4000))
            .is_empty());
        assert!(t
            .on_resolved(&service("impostor", &own, "10.0.0.9", 4000))
            .is_empty());
        assert_eq!(t.on_removed(&full("TAZCOM Node 00000000")), None);
        assert_eq!(t.stats.snapshot().self_ignored, 2);
    }

    #[test]
    fn rejection_is_reported_counted_and_can_recover() {
        let mut t = table();
        let bad = t.on_resolved(&service("p", "nothex", "10.0.0.1", 4000));
        assert!(matches!(
            &bad[..],
            [DiscoveryEvent::Rejected { instance_name, reason: RejectReason::InvalidId { .. } }] if instance_name == "p"
        ));
        let again = t.on_resolved(&service("p", "nothex", "10.0.0.2", 4000));
        assert!(again.is_empty(), "same reason is reported once: {again:?}");

        let fixed = t.on_resolved(&service("p", &id(1).to_string(), "10.0.0.1", 4000));
        assert!(matches!(&fixed[..], [DiscoveryEvent::Discovered(_)]));

        let broken = t.on_resolved(&service("p", "", "10.0.0.1", 4000));
        assert!(matches!(
            &broken[..],
            [DiscoveryEvent::Rejected { .. }, DiscoveryEvent::Removed { peer_id: Some(p), .. }] if *p == id(1)
        ));
        assert_eq!(t.on_removed(&full("p")), Some(removed("p".into(), None)));
        assert_eq!(t.stats.snapshot().rejected, 2);
    }

    #[test]
    fn a_new_peer_id_under_the_same_instance_replaces_the_old_peer() {
        let mut t = table();
        t.on_resolved(&service("p", &id(1).to_string(), "10.0.0.1", 4000));
        let events = t.on_resolved(&service("p", &id(2).to_string(), "10.0.0.1", 4000));
        assert!(matches!(
            &events[..],
            [DiscoveryEvent::Removed { peer_id: Some(old), .. }, DiscoveryEvent::Discovered(new)]
                if *old == id(1) && new.peer_id == id(2)
        ));
    }
}
