//! An mDNS announcement whose TXT `id` is not a peer id is rejected by the
//! node: reported, counted, not stored.
//!
//! NETWORK SAFETY: multicast; see `common::assert_private_network`.

mod common;

use common::{assert_private_network, builder, mdns_config, unique_service_type, EventLog};
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use tazcom_discovery::RejectReason;
use tazcom_node::{NodeEvent, Rejection};

/// A plain mdns-sd daemon on loopback only, on the node's mDNS port,
/// publishing what a broken or hostile peer would.
fn raw_daemon(mdns_port: u16) -> ServiceDaemon {
    let daemon = ServiceDaemon::new_with_port(mdns_port).expect("raw mDNS daemon");
    daemon.disable_interface(IfKind::All).expect("disable all");
    daemon.enable_interface("lo").expect("enable lo");
    daemon
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_with_a_bad_id_is_rejected_and_counted() {
    assert_private_network();
    let ty = unique_service_type();
    let config = mdns_config(&ty);
    let raw = raw_daemon(config.mdns_port);
    let node = builder().mdns(config).start().await.expect("start");
    let mut events = EventLog::of(&node);

    let service = ServiceInfo::new(
        &ty,
        "bad peer",
        "bad-peer.local.",
        "127.0.0.1",
        4999,
        &[("id", "NOT-HEX")][..],
    )
    .expect("service info");
    raw.register(service).expect("register");

    let rejected = events
        .expect("Rejected", common::DISCOVERY_WAIT, |e| {
            matches!(e, NodeEvent::Rejected { .. })
        })
        .await;
    let NodeEvent::Rejected(Rejection::Discovery { instance, reason }) = rejected else {
        panic!("a discovery rejection expected: {rejected:?}");
    };
    assert_eq!(instance, "bad peer", "names the instance");
    assert!(
        matches!(&reason, RejectReason::InvalidId { value, .. } if value == "NOT-HEX"),
        "quotes the bad id: {reason:?}"
    );

    let metrics = node.metrics();
    assert!(metrics.discovery_rejected >= 1, "{metrics:?}");
    assert!(
        metrics.discovery.iter().any(|(_, s)| s.rejected >= 1),
        "{:?}",
        metrics.discovery
    );
    assert!(node.peers().is_empty(), "a rejected instance was stored");
    assert!(
        !events
            .seen
            .iter()
            .any(|e| matches!(e, NodeEvent::Discovered { .. })),
        "{:?}",
        events.seen
    );

    node.shutdown().await.expect("shutdown");
    let exit = raw.shutdown().expect("raw daemon shutdown");
    exit.recv_async().await.expect("raw daemon exit");
}
