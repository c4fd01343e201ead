//! Probe hints (`DiscoveryEvent::Probing`), driven by a scripted source (no
//! multicast): a prober that proves its key at the hinted address is
//! stored at once; a wrong id, a prototype or nobody at the address stores
//! nothing. The real mDNS path is covered in `tazcom-discovery`'s
//! `mdns_probe_hints` test and in `mdns.rs`.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use common::{builder, closed_port, eventually, EventLog, ScriptedDiscovery, WAIT};
use tazcom_discovery::{DiscoveryEvent, PeerInfo};
use tazcom_identity::{Identity, PeerId};
use tazcom_node::{LivenessPolicy, Node, NodeEvent};
use tazcom_registry::Source;
use tazcom_transport::{InboundEvent, Listener, TransportConfig};
use tokio::sync::mpsc::{self, Sender};

/// What a probe of `peer` proposes: its instance, `v=1 caps=validator`.
fn probe(peer: PeerId, addr: SocketAddr) -> DiscoveryEvent {
    let txt: BTreeMap<String, String> = [
        ("id", peer.to_string()),
        ("v", "1".to_owned()),
        ("caps", "validator".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    DiscoveryEvent::Probing(PeerInfo {
        peer_id: peer,
        addrs: vec![addr],
        instance_name: format!("TAZCOM Node {}", peer.short()),
        txt,
    })
}

async fn scripted_node() -> (Node, Sender<DiscoveryEvent>, EventLog) {
    let (source, script, _local) = ScriptedDiscovery::new();
    let node = builder()
        .liveness(LivenessPolicy::disabled())
        .discovery(source, Source::Mdns)
        .start()
        .await
        .expect("start");
    let events = EventLog::of(&node);
    (node, script, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prober_that_proves_its_key_is_stored_at_once() {
    let (a, script, mut events) = scripted_node().await;
    // B: a bare signed-greeting server (a node would also greet A back,
    // racing the hint with the greeting path).
    let b_identity = Arc::new(Identity::generate());
    let b_id = b_identity.peer_id();
    let listener = Listener::bind(
        "127.0.0.1:0".parse().expect("addr"),
        TransportConfig::default(),
    )
    .await
    .expect("bind")
    .with_identity(b_identity);
    let b_addr = listener.local_addr();
    let (tx, mut b_inbound) = mpsc::channel(16);
    let b = listener.serve(tx);
    script.send(probe(b_id, b_addr)).await.expect("send");

    let discovered = events
        .expect("Discovered B", WAIT, common::is_discovered(b_id))
        .await;
    assert_eq!(
        discovered,
        NodeEvent::Discovered {
            peer: b_id,
            addrs: vec![b_addr],
            source: Source::Mdns,
        }
    );
    events
        .expect("HelloAcked B", WAIT, common::is_hello_acked(b_id))
        .await;
    let entry = a.registry().get(&b_id).expect("B stored");
    assert!(entry.verified);
    assert_eq!(
        entry.instance_name.as_deref(),
        Some(format!("TAZCOM Node {}", b_id.short()).as_str())
    );
    assert!(
        entry.capabilities.validator,
        "capabilities come from the probe's TXT"
    );
    let m = a.metrics();
    assert_eq!((m.probe_hints, m.probe_hints_confirmed), (1, 1));
    // B saw one verified HELLO from A, carrying A's listen port.
    match b_inbound.recv().await {
        Some(InboundEvent::Hello {
            from,
            verified,
            listen_port,
            ..
        }) => assert_eq!(
            (from, verified, listen_port),
            (a.peer_id(), true, Some(a.local_addr().port()))
        ),
        other => panic!("expected A's HELLO, got {other:?}"),
    }

    // The same hint again changes nothing.
    script.send(probe(b_id, b_addr)).await.expect("send");
    assert!(eventually(WAIT, || a.metrics().probe_hints == 2).await);
    assert_eq!(a.metrics().probe_hints_confirmed, 1);
    assert_eq!(
        a.metrics().hellos_sent,
        1,
        "a known, verified prober is not greeted again"
    );
    b.shutdown().await;
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_naming_another_key_stores_nothing() {
    let (a, script, _events) = scripted_node().await;
    let b = builder()
        .liveness(LivenessPolicy::disabled())
        .start()
        .await
        .expect("start B");
    // The probe claims an id whose key B does not hold: B refuses the HELLO
    // (wrong addressee) and A learns nothing.
    let claimed = Identity::generate().peer_id();
    script
        .send(probe(claimed, b.local_addr()))
        .await
        .expect("send");
    let unconfirmed = eventually(WAIT, || a.metrics().probe_hints_unconfirmed == 1).await;
    assert!(unconfirmed, "{:?}", a.metrics());
    assert!(a.registry().is_empty(), "{:?}", a.peers());
    assert_eq!(b.metrics().transport.rejected_wrong_addressee, 2);
    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_answered_without_proof_or_not_at_all_stores_nothing() {
    let (a, script, _events) = scripted_node().await;
    // A server without identity answers every HELLO with a plain ACK, as the
    // prototype does.
    let plain = Listener::bind(
        "127.0.0.1:0".parse().expect("addr"),
        TransportConfig::default(),
    )
    .await
    .expect("bind");
    let plain_addr = plain.local_addr();
    let (tx, _rx) = mpsc::channel(16);
    let server = plain.serve(tx);
    let prototype = Identity::generate().peer_id();
    script
        .send(probe(prototype, plain_addr))
        .await
        .expect("send");
    let nobody = Arc::new(Identity::generate()).peer_id();
    script
        .send(probe(nobody, closed_port()))
        .await
        .expect("send");

    let settled = eventually(WAIT, || a.metrics().probe_hints_unconfirmed == 1).await;
    assert!(settled, "{:?}", a.metrics());
    assert!(eventually(WAIT, || a.metrics().hellos_sent >= 3).await);
    assert!(a.registry().is_empty(), "{:?}", a.peers());
    assert_eq!(a.metrics().probe_hints_confirmed, 0);
    server.shutdown().await;
    a.shutdown().await.expect("A shutdown");
}
