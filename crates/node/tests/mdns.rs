//! Two nodes on loopback find each other over mDNS, greet each other, read
//! each other's capabilities, and drop each other on shutdown.
//!
//! NETWORK SAFETY: multicast. Each test asserts it runs in a private network
//! namespace (see `common::assert_private_network`) and uses its own service
//! type, so parallel tests never see each other.

mod common;

use common::{
    assert_private_network, builder, eventually, mdns_config, unique_service_type, EventLog,
    DISCOVERY_WAIT, REMOVAL_WAIT, WAIT,
};
use tazcom_node::Node;
use tazcom_registry::Source;

/// Starts a node announcing itself on `service_type` over loopback mDNS.
async fn mdns_node(service_type: &str, validator: bool) -> Node {
    builder()
        .mdns(mdns_config(service_type))
        .validator(validator)
        .start()
        .await
        .expect("start a node with mDNS on lo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_discover_and_greet_each_other_with_capabilities() {
    assert_private_network();
    let ty = unique_service_type();
    let a = mdns_node(&ty, true).await;
    let b = mdns_node(&ty, false).await;
    let (mut a_events, mut b_events) = (EventLog::of(&a), EventLog::of(&b));
    let (a_id, b_id) = (a.peer_id(), b.peer_id());

    a_events
        .expect(
            "A: Discovered B",
            DISCOVERY_WAIT,
            common::is_discovered(b_id),
        )
        .await;
    b_events
        .expect(
            "B: Discovered A",
            DISCOVERY_WAIT,
            common::is_discovered(a_id),
        )
        .await;
    a_events
        .expect("A: HelloAcked by B", WAIT, common::is_hello_acked(b_id))
        .await;
    b_events
        .expect("B: HelloAcked by A", WAIT, common::is_hello_acked(a_id))
        .await;
    a_events
        .expect(
            "A: HelloReceived from B",
            WAIT,
            common::is_hello_received(b_id),
        )
        .await;

    // The greeting proved B's key at its announced address. Not necessarily
    // the first one: a later address record (e.g. ::1) resets `verified`
    // until the greeting of the new address set proves it again.
    let verified = eventually(WAIT, || a.registry().get(&b_id).is_some_and(|e| e.verified)).await;
    assert!(
        verified,
        "A never verified B: {:?}",
        a.registry().get(&b_id)
    );

    // A peer that greets first is stored from its greeting (no instance
    // name, no capabilities); its DNS-SD records fill both in once resolved.
    let resolved = |node: &Node, peer| {
        node.registry()
            .get(&peer)
            .is_some_and(|e| e.instance_name.is_some() && e.capabilities.protocol_version == 1)
    };
    assert!(
        eventually(DISCOVERY_WAIT, || resolved(&a, b_id) && resolved(&b, a_id)).await,
        "DNS-SD never completed the entries: {:?} {:?}",
        a.peers(),
        b.peers()
    );

    // What A stores about B: a plain node, protocol version 1.
    let b_entry = a.registry().get(&b_id).expect("A stores B");
    assert_eq!(b_entry.source, Source::Mdns, "DNS-SD took the entry over");
    assert_eq!(
        b_entry.instance_name.as_deref(),
        Some(format!("TAZCOM Node {}", b_id.short()).as_str())
    );
    assert!(b_entry.addrs.contains(&b.local_addr()), "{b_entry:?}");
    assert_eq!(b_entry.capabilities.protocol_version, 1);
    assert!(!b_entry.capabilities.validator);

    // What B stores about A: a validator.
    let a_entry = b.registry().get(&a_id).expect("B stores A");
    assert_eq!(
        a_entry.instance_name.as_deref(),
        Some(format!("TAZCOM Node {}", a_id.short()).as_str())
    );
    assert_eq!(a_entry.capabilities.protocol_version, 1);
    assert!(a_entry.capabilities.validator, "{a_entry:?}");

    // Neither stores itself (mDNS loops our own announcement back).
    assert_eq!(a.peers().len(), 1, "{:?}", a.peers());
    assert_eq!(b.peers().len(), 1, "{:?}", b.peers());
    // The entry may have been filled in from B's probe (it carries the same
    // instance name and TXT): wait for DNS-SD's own report too.
    let reported = |node: &Node| {
        node.metrics()
            .discovery
            .first()
            .is_some_and(|(name, stats)| name == "mdns" && stats.discovered >= 1)
    };
    assert!(
        eventually(DISCOVERY_WAIT, || reported(&a)).await,
        "{:?}",
        a.metrics().discovery
    );
    let metrics = a.metrics();
    // At least one: a later address record (e.g. ::1) re-greets B.
    assert!(metrics.hellos_acked >= 1, "{metrics:?}");

    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_shuts_down_is_removed_by_its_peer() {
    assert_private_network();
    let ty = unique_service_type();
    let a = mdns_node(&ty, false).await;
    let b = mdns_node(&ty, false).await;
    let mut a_events = EventLog::of(&a);
    let b_id = b.peer_id();
    a_events
        .expect(
            "A: Discovered B",
            DISCOVERY_WAIT,
            common::is_discovered(b_id),
        )
        .await;

    // Shutdown starts with the BYE (then the mDNS goodbye), so A hears it.
    b.shutdown().await.expect("B shutdown");
    a_events
        .expect("A: Removed B", REMOVAL_WAIT, common::is_removed(b_id))
        .await;
    assert!(
        !a.registry().contains(&b_id),
        "{:?} after {:?}",
        a.peers(),
        a_events.seen
    );
    assert!(a.peers().is_empty());

    a.shutdown().await.expect("A shutdown");
}
