//! The authenticated greeting between nodes on loopback (no multicast):
//! two nodes verify each other; a prototype peer stays unverified; an
//! address answered by the wrong key, or a static entry with the wrong id,
//! is caught and counted.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{
    builder, builder_with_static, eventually, loopback, EventLog, ScriptedDiscovery, WAIT,
};
use tazcom_discovery::{DiscoveryEvent, PeerInfo, StaticPeer};
use tazcom_identity::{Identity, PeerId};
use tazcom_node::{GreetFailure, GreetingPolicy, Node, NodeEvent};
use tazcom_registry::Source;
use tazcom_transport::wire::{FrameReader, Message, ParsedLine, SignedAck};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// One attempt, so a refused greeting fails at once.
fn one_attempt() -> GreetingPolicy {
    GreetingPolicy::default().with_attempts(1, Duration::from_millis(10))
}

fn announcement(node: &Node) -> PeerInfo {
    let peer = node.peer_id();
    PeerInfo {
        peer_id: peer,
        addrs: vec![node.local_addr()],
        instance_name: format!("TAZCOM Node {}", peer.short()),
        txt: BTreeMap::from([("id".to_owned(), peer.to_string())]),
    }
}

fn is_acked(peer: PeerId, want_verified: bool) -> impl Fn(&NodeEvent) -> bool {
    move |e| matches!(e, NodeEvent::HelloAcked { peer: p, verified, .. } if *p == peer && *verified == want_verified)
}

fn is_failed(peer: PeerId) -> impl Fn(&NodeEvent) -> bool {
    move |e| matches!(e, NodeEvent::HelloFailed { peer: p, .. } if *p == peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_end_with_each_other_verified() {
    // A learns about B from a scripted source (B's port is known only once
    // it runs); B has A as a static peer.
    let (source, script, _local) = ScriptedDiscovery::new();
    let a = builder()
        .discovery(source, Source::Static)
        .start()
        .await
        .expect("start A");
    let b = builder_with_static(&[&a]).start().await.expect("start B");
    let (mut a_events, mut b_events) = (EventLog::of(&a), EventLog::of(&b));
    script
        .send(DiscoveryEvent::Discovered(announcement(&b)))
        .await
        .expect("script");

    let (a_id, b_id) = (a.peer_id(), b.peer_id());
    a_events
        .expect("A: verified ACK from B", WAIT, is_acked(b_id, true))
        .await;
    b_events
        .expect("B: verified ACK from A", WAIT, is_acked(a_id, true))
        .await;
    for (node, other) in [(&a, b_id), (&b, a_id)] {
        let entry = node.registry().get(&other).expect("stored");
        assert!(entry.verified, "{entry:?}");
        let m = node.metrics();
        assert_eq!((m.hellos_acked, m.hellos_verified), (1, 1), "{m:?}");
        assert_eq!(m.transport.acks_verified, 1);
        assert_eq!(
            m.transport.rejected_total() + m.transport.acks_rejected_total(),
            0
        );
    }
    // Each saw the other's HELLO as verified.
    for (events, from) in [(&mut a_events, b_id), (&mut b_events, a_id)] {
        let received = events
            .expect("HelloReceived", WAIT, common::is_hello_received(from))
            .await;
        assert!(
            matches!(received, NodeEvent::HelloReceived { verified: true, .. }),
            "{received:?}"
        );
    }
    assert!(eventually(WAIT, || a.metrics().hellos_received_verified == 1).await);
    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}

/// A server that answers one line per connection with `reply(line)`, like
/// the Python prototype (one line, one reply, close).
async fn scripted_peer(reply: impl Fn(&str) -> Vec<u8> + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (read_half, mut write_half) = stream.split();
            let mut reader = FrameReader::new(read_half, 1024);
            if let Ok(Some(line)) = reader.read_line().await {
                let _ = write_half.write_all(&reply(line)).await;
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prototype_peer_is_acked_but_stays_unverified() {
    let addr = scripted_peer(|_| b"ACK\n".to_vec()).await;
    let proto = Identity::generate().peer_id();
    let node = builder()
        .greeting(one_attempt())
        .static_peers(vec![StaticPeer {
            peer_id: proto,
            addr,
        }])
        .start()
        .await
        .expect("start");
    let mut events = EventLog::of(&node);
    events
        .expect("unverified HelloAcked", WAIT, is_acked(proto, false))
        .await;
    let entry = node.registry().get(&proto).expect("stored");
    assert!(!entry.verified, "a plain ACK proves nothing");
    let m = node.metrics();
    assert_eq!((m.hellos_acked, m.hellos_verified), (1, 0));
    assert_eq!(m.transport.acks_unverified, 1);
    node.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_answered_by_another_key_is_rejected_and_counted() {
    // Discovery says `expected` listens there; the answer is signed by
    // another key (e.g. a stale record pointing at a different node).
    let impostor = Arc::new(Identity::generate());
    let signer = Arc::clone(&impostor);
    let addr = scripted_peer(move |line| match ParsedLine::parse(line) {
        Ok(ParsedLine::Message(Message::SignedHello(h))) => {
            let ack = SignedAck::sign(&signer, h.from, h.nonce);
            Message::SignedAck(ack)
                .encode_line()
                .map(String::into_bytes)
                .unwrap_or_default()
        }
        _ => Vec::new(),
    })
    .await;
    let expected = Identity::generate().peer_id();
    let node = builder()
        .greeting(one_attempt())
        .static_peers(vec![StaticPeer {
            peer_id: expected,
            addr,
        }])
        .start()
        .await
        .expect("start");
    let mut events = EventLog::of(&node);
    let failed = events
        .expect("HelloFailed", WAIT, is_failed(expected))
        .await;
    let NodeEvent::HelloFailed {
        addr: tried,
        reason,
        ..
    } = failed
    else {
        unreachable!("matched HelloFailed");
    };
    // The impostor's id is in the transport's log line, not the event.
    assert_eq!((tried, reason), (addr, GreetFailure::WrongKey));
    let m = node.metrics();
    assert_eq!(m.transport.acks_rejected_wrong_peer, 1, "{:?}", m.transport);
    assert_eq!(m.hellos_acked, 0);
    assert!(!node.registry().get(&expected).expect("stored").verified);
    node.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_entry_with_the_wrong_id_is_refused_by_the_real_node() {
    let a = builder().start().await.expect("start A");
    let wrong = Identity::generate().peer_id();
    let b = builder()
        .greeting(one_attempt())
        .static_peers(vec![StaticPeer {
            peer_id: wrong,
            addr: a.local_addr(),
        }])
        .start()
        .await
        .expect("start B");
    let mut b_events = EventLog::of(&b);
    b_events.expect("HelloFailed", WAIT, is_failed(wrong)).await;
    // A closed without reply: the HELLO was addressed to another id.
    assert!(
        eventually(WAIT, || a.metrics().transport.rejected_wrong_addressee == 1).await,
        "{:?}",
        a.metrics().transport
    );
    assert_eq!(a.metrics().hellos_received, 0);
    assert!(!b.registry().get(&wrong).expect("stored").verified);
    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}
