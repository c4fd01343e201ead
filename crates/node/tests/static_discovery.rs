//! Static discovery between two nodes on loopback (no multicast): discovery,
//! greeting both ways, what each registry holds, and shutdown.

mod common;

use common::{builder, builder_with_static, EventLog, WAIT};
use tazcom_node::NodeEvent;
use tazcom_registry::Source;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_peer_is_discovered_greeted_and_stored() {
    let a = builder().start().await.expect("start A");
    let mut a_events = EventLog::of(&a);
    let b = builder_with_static(&[&a]).start().await.expect("start B");
    let mut b_events = EventLog::of(&b);
    let (a_id, b_id) = (a.peer_id(), b.peer_id());

    // B: Ready, then Discovered A at its listener, then HelloAcked from it.
    let ready = b_events
        .expect("Ready", WAIT, |e| matches!(e, NodeEvent::Ready { .. }))
        .await;
    assert_eq!(
        ready,
        NodeEvent::Ready {
            peer: b_id,
            addr: b.local_addr()
        }
    );
    let discovered = b_events
        .expect("Discovered A", WAIT, common::is_discovered(a_id))
        .await;
    assert_eq!(
        discovered,
        NodeEvent::Discovered {
            peer: a_id,
            addrs: vec![a.local_addr()],
            source: Source::Static,
        }
    );
    let acked = b_events
        .expect("HelloAcked from A", WAIT, common::is_hello_acked(a_id))
        .await;
    let NodeEvent::HelloAcked { addr, verified, .. } = acked else {
        unreachable!("matched HelloAcked");
    };
    assert_eq!(addr, a.local_addr());
    assert!(verified, "A answered with a valid signed ACK");
    let discovered_at = b_events.seen.iter().position(common::is_discovered(a_id));
    let acked_at = b_events.seen.iter().position(common::is_hello_acked(a_id));
    assert!(discovered_at < acked_at, "{:?}", b_events.seen);

    // A: B's signed HELLO arrives verified.
    let received = a_events
        .expect(
            "HelloReceived from B",
            WAIT,
            common::is_hello_received(b_id),
        )
        .await;
    let NodeEvent::HelloReceived {
        remote, verified, ..
    } = received
    else {
        unreachable!("matched HelloReceived");
    };
    assert!(verified, "a node's signed HELLO is verified");
    assert!(remote.ip().is_loopback(), "{remote}");

    // A did not know B: B's verified HELLO registers it, at B's IP as seen
    // and the listen port B signed, and A greets B back.
    let discovered = a_events
        .expect("Discovered B", WAIT, common::is_discovered(b_id))
        .await;
    assert_eq!(
        discovered,
        NodeEvent::Discovered {
            peer: b_id,
            addrs: vec![b.local_addr()],
            source: Source::Greeting,
        }
    );
    a_events
        .expect("HelloAcked from B", WAIT, common::is_hello_acked(b_id))
        .await;
    let a_metrics = a.metrics();
    assert_eq!(a_metrics.hellos_from_unknown, 1);
    assert_eq!(a_metrics.peers_from_greetings, 1);
    assert_eq!(a_metrics.hellos_received, 1);
    assert_eq!(a_metrics.transport.hellos, 1);
    assert_eq!(a_metrics.hellos_received_verified, 1);
    assert_eq!(a_metrics.transport.hellos_verified, 1);
    let a_peers = a.peers();
    assert_eq!(a_peers.len(), 1, "{a_peers:?}");
    assert_eq!(
        (a_peers[0].peer_id, a_peers[0].source, a_peers[0].verified),
        (b_id, Source::Greeting, true)
    );
    assert_eq!(a_peers[0].addrs, vec![b.local_addr()]);

    // B holds A, from the static list, at the announced address.
    let peers = b.peers();
    assert_eq!(peers.len(), 1, "{peers:?}");
    let entry = &peers[0];
    assert_eq!(entry.peer_id, a_id);
    assert_eq!(entry.source, Source::Static);
    assert_eq!(entry.addrs, vec![a.local_addr()]);
    assert!(entry.verified, "A proved its id with a signed ACK");
    let b_metrics = b.metrics();
    assert_eq!((b_metrics.hellos_sent, b_metrics.hellos_acked), (1, 1));
    assert_eq!(b_metrics.hellos_verified, 1);
    assert_eq!(b_metrics.transport.acks_verified, 1);
    assert_eq!(b_metrics.hellos_failed, 0);

    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_with_stopped_and_cannot_run_twice() {
    let a = builder().start().await.expect("start A");
    let b = builder_with_static(&[&a]).start().await.expect("start B");
    let mut b_events = EventLog::of(&b);
    b_events
        .expect("HelloAcked", WAIT, common::is_hello_acked(a.peer_id()))
        .await;

    b.shutdown().await.expect("first shutdown");
    b_events.drain();
    assert_eq!(b_events.seen.last(), Some(&NodeEvent::Stopped));
    let stops = b_events
        .seen
        .iter()
        .filter(|e| **e == NodeEvent::Stopped)
        .count();
    assert_eq!(stops, 1, "{:?}", b_events.seen);

    assert!(b.shutdown().await.is_ok(), "a second shutdown is a no-op");
    b_events.drain();
    assert_eq!(
        b_events.seen.last(),
        Some(&NodeEvent::Stopped),
        "nothing follows Stopped"
    );

    // The listener is closed: a HELLO to B is refused.
    let refused = tazcom_transport::send_hello(
        b.local_addr(),
        &a.peer_id(),
        &tazcom_transport::TransportConfig::default(),
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(tazcom_transport::TransportError::ConnectionRefused { .. })
        ),
        "{refused:?}"
    );
    // The registry outlives the node; metrics still answer.
    assert_eq!(b.peers().len(), 1);
    assert_eq!(b.metrics().hellos_acked, 1);
    a.shutdown().await.expect("A shutdown");
}
