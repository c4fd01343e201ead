//! What the node does with each discovery event, driven by a scripted
//! source (no multicast): store, update, greet, remove, ignore, reject.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::{builder, closed_port, EventLog, ScriptedDiscovery, WAIT};
use tazcom_discovery::{DiscoveryEvent, PeerInfo, RejectReason};
use tazcom_identity::{Identity, PeerId};
use tazcom_node::{GreetingPolicy, Node, NodeEvent};
use tazcom_registry::Source;
use tokio::sync::mpsc::Sender;

/// One attempt, so a refused greeting fails at once.
fn one_attempt() -> GreetingPolicy {
    GreetingPolicy::default().with_attempts(1, Duration::from_millis(10))
}

fn info(peer: PeerId, addrs: Vec<SocketAddr>, txt: &[(&str, &str)]) -> PeerInfo {
    PeerInfo {
        peer_id: peer,
        addrs,
        instance_name: format!("TAZCOM Node {}", peer.short()),
        txt: txt
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("id".to_owned(), peer.to_string())])
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A node fed by a scripted source whose peers are stored as `Source::Mdns`.
async fn scripted_node() -> (Node, Sender<DiscoveryEvent>, EventLog) {
    let (source, script, _local) = ScriptedDiscovery::new();
    let node = builder()
        .greeting(one_attempt())
        .discovery(source, Source::Mdns)
        .start()
        .await
        .expect("start");
    let events = EventLog::of(&node);
    (node, script, events)
}

async fn send(script: &Sender<DiscoveryEvent>, event: DiscoveryEvent) {
    script.send(event).await.expect("the node reads its source");
}

/// Events are handled in order: once the node reports this rejection, every
/// event sent before it has been handled.
async fn barrier(script: &Sender<DiscoveryEvent>, events: &mut EventLog, name: &str) {
    send(
        script,
        DiscoveryEvent::Rejected {
            instance_name: name.to_owned(),
            reason: RejectReason::MissingId,
        },
    )
    .await;
    events
        .expect("barrier", WAIT, common::is_rejected_instance(name))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_publishes_its_port_and_capabilities() {
    let (source, _script, mut published) = ScriptedDiscovery::new();
    let node = builder()
        .validator(true)
        .discovery(source, Source::Mdns)
        .start()
        .await
        .expect("start");
    let local = published.try_recv().expect("the source was started");
    assert_eq!(local.peer_id, node.peer_id());
    assert_eq!(local.port, node.local_addr().port());
    let txt: Vec<(&str, &str)> = local
        .txt_extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(txt, [("caps", "validator,session"), ("v", "1")]);
    node.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_replaces_the_entry_and_greets_the_new_address() {
    let target = builder().start().await.expect("start target");
    let (node, script, mut events) = scripted_node().await;
    // The announced id is the target's: the signed greeting checks it.
    let peer = target.peer_id();

    // First seen where nobody listens: stored, greeting fails.
    let dead = closed_port();
    send(
        &script,
        DiscoveryEvent::Discovered(info(peer, vec![dead], &[])),
    )
    .await;
    events
        .expect(
            "HelloFailed",
            WAIT,
            |e| matches!(e, NodeEvent::HelloFailed { peer: p, .. } if *p == peer),
        )
        .await;
    let first = node.registry().get(&peer).expect("stored");
    assert_eq!(first.addrs, vec![dead]);
    assert_eq!(first.capabilities.protocol_version, 0, "no v= read as 0");

    // Moves to a live listener, announces v=1 and validator, and an IPv6
    // address listed first.
    let v6: SocketAddr = "[::1]:9".parse().expect("addr");
    let moved = info(
        peer,
        vec![v6, target.local_addr()],
        &[("v", "1"), ("caps", "validator")],
    );
    send(&script, DiscoveryEvent::Updated(moved)).await;
    let updated = events
        .expect("Updated", WAIT, |e| matches!(e, NodeEvent::Updated { .. }))
        .await;
    assert_eq!(
        updated,
        NodeEvent::Updated {
            peer,
            addrs: vec![target.local_addr(), v6]
        },
        "IPv4 first"
    );
    let acked = events
        .expect("HelloAcked", WAIT, common::is_hello_acked(peer))
        .await;
    assert!(
        matches!(acked, NodeEvent::HelloAcked { addr, verified: true, .. } if addr == target.local_addr()),
        "{acked:?}"
    );
    let entry = node.registry().get(&peer).expect("stored");
    assert_eq!(entry.addrs, vec![target.local_addr(), v6]);
    assert!(entry.verified, "the target proved its id: {entry:?}");
    assert!(entry.capabilities.validator);
    assert_eq!(entry.capabilities.protocol_version, 1);
    assert_eq!(entry.first_seen_ms, first.first_seen_ms);
    let metrics = node.metrics();
    assert_eq!((metrics.hellos_failed, metrics.hellos_acked), (1, 1));

    node.shutdown().await.expect("shutdown");
    target.shutdown().await.expect("shutdown target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_peer_is_dropped_and_greeted_again_when_it_returns() {
    let target = builder().start().await.expect("start target");
    // Liveness off: a goodbye removes even a verified peer at once (with
    // liveness on it is checked first; see the forged-goodbye test below).
    let (source, script, _local) = ScriptedDiscovery::new();
    let node = builder()
        .greeting(one_attempt())
        .liveness(tazcom_node::LivenessPolicy::disabled())
        .discovery(source, Source::Mdns)
        .start()
        .await
        .expect("start");
    let mut events = EventLog::of(&node);
    let peer = target.peer_id();
    let announced = info(peer, vec![target.local_addr()], &[]);

    send(&script, DiscoveryEvent::Discovered(announced.clone())).await;
    events
        .expect("HelloAcked", WAIT, common::is_hello_acked(peer))
        .await;
    // The target greets back; wait for that HELLO, else it could arrive
    // after the removal and (verified, from an unknown peer) register the
    // target again, as it should.
    events
        .expect("HelloReceived", WAIT, common::is_hello_received(peer))
        .await;

    send(
        &script,
        DiscoveryEvent::Removed {
            instance_name: announced.instance_name.clone(),
            peer_id: Some(peer),
        },
    )
    .await;
    events
        .expect("Removed", WAIT, common::is_removed(peer))
        .await;
    assert!(node.peers().is_empty(), "{:?}", node.peers());

    // Back at the same address: a new peer again, greeted again.
    send(&script, DiscoveryEvent::Discovered(announced)).await;
    events
        .expect_count("HelloAcked", 2, WAIT, common::is_hello_acked(peer))
        .await;
    let discovered = events
        .seen
        .iter()
        .filter(|e| common::is_discovered(peer)(e));
    assert_eq!(discovered.count(), 2, "{:?}", events.seen);
    assert!(node.registry().contains(&peer));
    assert_eq!(node.metrics().hellos_acked, 2);

    node.shutdown().await.expect("shutdown");
    target.shutdown().await.expect("shutdown target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_of_an_unknown_instance_changes_nothing() {
    let (node, script, mut events) = scripted_node().await;
    let peer = Identity::generate().peer_id();
    send(
        &script,
        DiscoveryEvent::Discovered(info(peer, vec![closed_port()], &[])),
    )
    .await;
    events
        .expect("Discovered", WAIT, common::is_discovered(peer))
        .await;

    // Another instance name, even with this peer's id: not this entry.
    send(
        &script,
        DiscoveryEvent::Removed {
            instance_name: "TAZCOM Node 00000000 (2)".to_owned(),
            peer_id: Some(peer),
        },
    )
    .await;
    barrier(&script, &mut events, "after-removal").await;
    assert!(node.registry().contains(&peer));
    assert!(
        !events.seen.iter().any(common::is_removed(peer)),
        "{:?}",
        events.seen
    );
    node.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_announcement_is_ignored_and_rejections_are_counted() {
    let (node, script, mut events) = scripted_node().await;
    let me = node.peer_id();
    send(
        &script,
        DiscoveryEvent::Discovered(info(me, vec![node.local_addr()], &[])),
    )
    .await;
    barrier(&script, &mut events, "bad-instance").await;

    assert!(node.peers().is_empty(), "stored itself: {:?}", node.peers());
    assert!(
        !events.seen.iter().any(|e| matches!(
            e,
            NodeEvent::Discovered { .. } | NodeEvent::HelloAcked { .. }
        )),
        "{:?}",
        events.seen
    );
    let metrics = node.metrics();
    assert_eq!(metrics.discovery_rejected, 1);
    assert_eq!(metrics.hellos_sent, 0, "greeted itself");
    assert_eq!(metrics.discovery.len(), 1);
    assert_eq!(metrics.discovery[0].0, "scripted");
    node.shutdown().await.expect("shutdown");
}

/// Issue 13, forged goodbye: anyone on the LAN can send an mDNS goodbye, so
/// one for a verified peer is checked, not believed; a real departure (the
/// peer is gone) is still a removal within about a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goodbye_for_a_verified_peer_is_checked_not_believed() {
    let target = builder().start().await.expect("start target");
    let (node, script, mut events) = scripted_node().await;
    let peer = target.peer_id();
    let announced = info(peer, vec![target.local_addr()], &[]);
    let instance = announced.instance_name.clone();
    send(&script, DiscoveryEvent::Discovered(announced)).await;
    let acked = events
        .expect("HelloAcked", WAIT, common::is_hello_acked(peer))
        .await;
    assert!(
        matches!(acked, NodeEvent::HelloAcked { verified: true, .. }),
        "{acked:?}"
    );

    // A forged goodbye while the peer is alive: checked, kept.
    let goodbye = || DiscoveryEvent::Removed {
        instance_name: instance.clone(),
        peer_id: Some(peer),
    };
    send(&script, goodbye()).await;
    let checked = common::eventually(WAIT, || node.metrics().withdrawals_checked == 1).await;
    assert!(checked, "{:?}", node.metrics());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(node.registry().get(&peer).is_some(), "a live peer stays");
    assert!(
        !events.seen.iter().any(common::is_removed(peer)),
        "{:?}",
        events.seen
    );

    // The peer really leaves (no BYE: dropped), and its goodbye follows:
    // removed within about a second, as `withdrawn` (the goodbye's check
    // failed) or `unreachable` (its broken session's check came first).
    let started = std::time::Instant::now();
    drop(target);
    send(&script, goodbye()).await;
    events
        .expect("Removed", WAIT, common::is_removed(peer))
        .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    node.shutdown().await.expect("shutdown");
}
