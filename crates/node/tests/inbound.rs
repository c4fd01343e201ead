//! Inbound requests: a known sender's entry is refreshed; an unknown
//! sender of a legacy HELLO is reported and counted but not stored; an
//! unknown sender of a verified PING is registered and greeted back.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{builder, closed_port, eventually, EventLog, ScriptedDiscovery, WAIT};
use tazcom_discovery::{DiscoveryEvent, PeerInfo, StaticPeer};
use tazcom_identity::{Identity, PeerId};
use tazcom_node::{GreetingPolicy, Node, NodeEvent, Rejection};
use tazcom_registry::{
    AsyncObserver, Change, ObserverError, ObserverOptions, RegistryEvent, Source,
};
use tazcom_transport::{send_hello, send_signed_hello, RejectReason, TransportConfig};
use tokio::sync::{mpsc, Semaphore};

/// A node that knows `peers` from its static list, greeting each once.
async fn known_peers(peers: &[(PeerId, SocketAddr)]) -> Node {
    let peers = peers
        .iter()
        .map(|&(peer_id, addr)| StaticPeer { peer_id, addr })
        .collect();
    builder()
        .greeting(GreetingPolicy::default().with_attempts(1, Duration::from_millis(10)))
        .static_peers(peers)
        .start()
        .await
        .expect("start A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_from_a_known_peer_refreshes_its_last_seen() {
    // A knows B at its configured listener address (nothing listens there).
    let b = Identity::generate().peer_id();
    let announced: SocketAddr = "127.0.0.1:4999".parse().expect("addr");
    let a = known_peers(&[(b, announced)]).await;
    let mut events = EventLog::of(&a);
    events
        .expect("Discovered B", WAIT, common::is_discovered(b))
        .await;
    let before = a.registry().get(&b).expect("B stored");
    let long_ago = before.last_seen_ms;
    let seq_before = a.registry().last_seq();
    // Not an assertion: lets the millisecond clock move past `long_ago`.
    tokio::time::sleep(Duration::from_millis(5)).await;

    send_hello(a.local_addr(), &b, &TransportConfig::default())
        .await
        .expect("A acknowledges the HELLO");

    events
        .expect("HelloReceived from B", WAIT, common::is_hello_received(b))
        .await;
    let refreshed = eventually(WAIT, || {
        a.registry()
            .get(&b)
            .is_some_and(|e| e.last_seen_ms > long_ago)
    })
    .await;
    assert!(
        refreshed,
        "last_seen_ms not refreshed: {:?}",
        a.registry().get(&b)
    );
    assert!(
        a.registry().last_seq() > seq_before,
        "no commit for the refresh"
    );

    // Only the time moved: the HELLO's ephemeral source port is not an
    // address to store, and the claim does not make the entry verified.
    let after = a.registry().get(&b).expect("B still stored");
    assert_eq!(after.addrs, vec![announced]);
    assert_eq!(after.source, Source::Static);
    assert_eq!(after.first_seen_ms, before.first_seen_ms);
    assert!(!after.verified);

    let metrics = a.metrics();
    assert_eq!(metrics.hellos_received, 1);
    assert_eq!(metrics.hellos_from_unknown, 0);
    a.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_from_an_unknown_peer_is_reported_not_stored() {
    let a = builder().start().await.expect("start A");
    let mut events = EventLog::of(&a);
    let stranger = Identity::generate().peer_id();

    send_hello(a.local_addr(), &stranger, &TransportConfig::default())
        .await
        .expect("A acknowledges the HELLO");
    let received = events
        .expect("HelloReceived", WAIT, common::is_hello_received(stranger))
        .await;
    assert!(matches!(
        received,
        NodeEvent::HelloReceived {
            verified: false,
            ..
        }
    ));
    assert!(
        eventually(WAIT, || a.metrics().hellos_from_unknown == 1).await,
        "unknown sender not counted"
    );
    assert!(a.registry().is_empty(), "an unknown sender was stored");
    assert_eq!(a.registry().last_seq(), 0, "no commit at all");
    a.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_hello_marks_a_known_peer_verified_at_its_announced_address() {
    let (b, c) = (Identity::generate(), Identity::generate());
    // A knows B and C at configured loopback listeners.
    let (b_addr, c_addr): (SocketAddr, SocketAddr) = (
        "127.0.0.1:4998".parse().expect("addr"),
        "127.0.0.1:4997".parse().expect("addr"),
    );
    let a = known_peers(&[(b.peer_id(), b_addr), (c.peer_id(), c_addr)]).await;
    let mut events = EventLog::of(&a);
    for peer in [b.peer_id(), c.peer_id()] {
        events
            .expect("Discovered", WAIT, common::is_discovered(peer))
            .await;
    }
    let long_ago = a.registry().get(&c.peer_id()).expect("C").last_seen_ms;
    // Not an assertion: lets the millisecond clock move past `long_ago`.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let config = TransportConfig::default();

    // B signs the port it is known at; C signs another port.
    let greeting = send_signed_hello(
        a.local_addr(),
        &b,
        &a.peer_id(),
        Some(b_addr.port()),
        &config,
    )
    .await
    .expect("B's signed HELLO");
    assert_eq!(
        greeting.verified_peer,
        Some(a.peer_id()),
        "A proved its id too"
    );
    send_signed_hello(a.local_addr(), &c, &a.peer_id(), Some(4000), &config)
        .await
        .expect("C's signed HELLO");

    for peer in [b.peer_id(), c.peer_id()] {
        let received = events
            .expect("HelloReceived", WAIT, common::is_hello_received(peer))
            .await;
        assert!(
            matches!(received, NodeEvent::HelloReceived { verified: true, .. }),
            "{received:?}"
        );
    }
    let b_verified = eventually(WAIT, || {
        a.registry().get(&b.peer_id()).is_some_and(|e| e.verified)
    })
    .await;
    assert!(b_verified, "{:?}", a.registry().get(&b.peer_id()));
    // C proved its key, but not from the address A holds: refreshed only.
    let c_refreshed = eventually(WAIT, || {
        a.registry()
            .get(&c.peer_id())
            .is_some_and(|e| e.last_seen_ms > long_ago)
    })
    .await;
    assert!(c_refreshed, "C's HELLO never refreshed its entry");
    let c_entry = a.registry().get(&c.peer_id()).expect("C stored");
    assert!(!c_entry.verified, "{c_entry:?}");
    assert_eq!(c_entry.addrs, vec![c_addr]);
    let m = a.metrics();
    assert_eq!((m.hellos_received, m.hellos_received_verified), (2, 2));
    assert_eq!(m.transport.hellos_verified, 2);
    a.shutdown().await.expect("shutdown");
}

/// A critical observer that holds every removal until the test lets it go,
/// keeping that commit in flight.
struct RemovalGate {
    entered: mpsc::UnboundedSender<()>,
    gate: Semaphore,
}

#[async_trait]
impl AsyncObserver for RemovalGate {
    fn name(&self) -> &str {
        "removal-gate"
    }

    async fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        if event
            .changes()
            .iter()
            .any(|c| matches!(c, Change::Removed(_)))
        {
            let _ = self.entered.send(());
            let permit = self.gate.acquire().await;
            permit
                .map_err(|_| ObserverError::new("gate closed"))?
                .forget();
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_racing_a_removal_does_not_bring_the_peer_back() {
    let (source, script, _local) = ScriptedDiscovery::new();
    let a = builder()
        .greeting(GreetingPolicy::default().with_attempts(1, Duration::from_millis(10)))
        .discovery(source, Source::Mdns)
        .start()
        .await
        .expect("start A");
    let mut events = EventLog::of(&a);
    let b = Identity::generate().peer_id();
    let instance = format!("TAZCOM Node {}", b.short());
    let announced = PeerInfo {
        peer_id: b,
        addrs: vec![closed_port()],
        instance_name: instance.clone(),
        txt: BTreeMap::from([("id".to_owned(), b.to_string())]),
    };
    script
        .send(DiscoveryEvent::Discovered(announced))
        .await
        .expect("script");
    events
        .expect("Discovered B", WAIT, common::is_discovered(b))
        .await;

    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let gate = Arc::new(RemovalGate {
        entered: entered_tx,
        gate: Semaphore::new(0),
    });
    a.registry()
        .register_async_observer(&gate, ObserverOptions::critical().with_timeout(WAIT * 2))
        .await
        .expect("register");

    // B says goodbye; the removal is held in flight by the gate.
    script
        .send(DiscoveryEvent::Removed {
            instance_name: instance,
            peer_id: Some(b),
        })
        .await
        .expect("script");
    tokio::time::timeout(WAIT, entered.recv())
        .await
        .expect("the removal reached the observer");

    // B's last HELLO arrives while the removal is in flight (the transport
    // acknowledges it; the node handles it after the removal).
    send_hello(a.local_addr(), &b, &TransportConfig::default())
        .await
        .expect("A acknowledges the HELLO");
    // Not an assertion: gives the HELLO time to reach the node while the
    // removal is still held, which is the race under test.
    tokio::time::sleep(Duration::from_millis(100)).await;
    gate.gate.add_permits(1);
    events
        .expect("HelloReceived from B", WAIT, common::is_hello_received(b))
        .await;

    events
        .expect("Removed B", WAIT, common::is_removed(b))
        .await;
    // B's HELLO is handled after the removal (one actor handles both in
    // order): it must find B gone (an unknown sender), not store it again.
    // Once a later HELLO from an unknown peer C is counted too, B's has
    // been fully handled.
    let c = Identity::generate().peer_id();
    send_hello(a.local_addr(), &c, &TransportConfig::default())
        .await
        .expect("A acknowledges C's HELLO");
    let settled = eventually(WAIT, || a.metrics().hellos_from_unknown == 2).await;
    assert!(settled, "C's HELLO was never handled");
    assert!(
        !a.registry().contains(&b),
        "a HELLO brought back a removed peer: {:?}",
        a.registry().get(&b)
    );
    assert_eq!(a.metrics().hellos_received, 2);
    a.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_transport_rejects_is_reported_and_counted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let a = builder().start().await.expect("start A");
    let mut events = EventLog::of(&a);
    let mut stream = tokio::net::TcpStream::connect(a.local_addr())
        .await
        .expect("connect");
    stream.write_all(b"not json\n").await.expect("write");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut reply)).await;
    assert_eq!(reply, b"", "a rejected line gets no reply");

    let event = events
        .expect("Rejected from the transport", WAIT, |e| {
            matches!(e, NodeEvent::Rejected(Rejection::Transport { .. }))
        })
        .await;
    let NodeEvent::Rejected(Rejection::Transport { remote, reason }) = event else {
        unreachable!("matched above");
    };
    assert_eq!(reason, RejectReason::NotJson);
    assert_eq!(remote.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_eq!(a.metrics().transport.rejected_not_json, 1);
    a.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_ping_from_an_unknown_peer_registers_it() {
    use tazcom_node::LivenessPolicy;
    use tazcom_transport::send_signed_ping;

    let a = builder()
        .liveness(LivenessPolicy::disabled())
        .start()
        .await
        .expect("start A");
    let mut events = EventLog::of(&a);
    // B was dropped by A (say, while unreachable) and checks A again.
    let b = builder()
        .liveness(LivenessPolicy::disabled())
        .start()
        .await
        .expect("start B");
    let reply = send_signed_ping(
        a.local_addr(),
        b.identity(),
        &a.peer_id(),
        Some(b.local_addr().port()),
        &TransportConfig::default(),
    )
    .await
    .expect("A acknowledges the PING");
    assert!(reply.is_verified());
    let discovered = events
        .expect("Discovered B", WAIT, common::is_discovered(b.peer_id()))
        .await;
    assert_eq!(
        discovered,
        NodeEvent::Discovered {
            peer: b.peer_id(),
            addrs: vec![b.local_addr()],
            source: Source::Greeting,
        }
    );
    // ... and greets it back.
    events
        .expect("HelloAcked B", WAIT, common::is_hello_acked(b.peer_id()))
        .await;
    assert_eq!(a.metrics().pings_received, 1);
    assert!(a.registry().get(&b.peer_id()).is_some_and(|e| e.verified));
    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}
