//! Direct messages between nodes on loopback (`docs/node.md`, "Sessions
//! and messages"): send → receipt, request → response, liveness over the
//! session, a restart, and the typed failures.

mod common;

use std::time::Duration;

use common::{builder, builder_with_static, eventually, EventLog, WAIT};
use tazcom_node::{
    Identity, InboxError, LivenessPolicy, Node, NodeEvent, PeerId, Refusal, SendError, StaticPeer,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const PROTOCOL: &str = "/test/msg/1";

/// A and B, B knowing A through a static entry (A learns B from its HELLO).
async fn pair() -> (Node, Node) {
    let a = builder().start().await.expect("start A");
    let b = builder_with_static(&[&a]).start().await.expect("start B");
    let mut a_events = EventLog::of(&a);
    a_events
        .expect(
            "B registered at A",
            WAIT,
            common::is_discovered(b.peer_id()),
        )
        .await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_delivered_with_a_receipt_and_a_request_is_answered() {
    let (a, b) = pair().await;
    let mut inbox = a.serve(PROTOCOL, 16).expect("serve");
    let rtt = tokio::time::timeout(WAIT, b.send(a.peer_id(), PROTOCOL, b"hi".to_vec()))
        .await
        .expect("receipt in time")
        .expect("delivered");
    assert!(rtt < WAIT);
    let got = inbox.recv().await.expect("message");
    assert_eq!((got.peer, got.protocol.as_str()), (b.peer_id(), PROTOCOL));
    assert_eq!(got.body, b"hi");
    assert!(got.responder.is_none());

    // A request: A answers with the body reversed.
    let answering = tokio::spawn(async move {
        let mut request = inbox.recv().await.expect("request");
        let mut body = std::mem::take(&mut request.body);
        body.reverse();
        let responder = request.responder.take().expect("a request has a responder");
        responder.respond(body).await.expect("respond");
    });
    let answer = b.request(a.peer_id(), PROTOCOL, b"abc".to_vec()).await;
    assert_eq!(answer.expect("answered"), b"cba");
    answering.await.expect("responder task");

    // One session, used both ways; both nodes count it.
    assert_eq!(b.connected_peers(), vec![a.peer_id()]);
    assert!(eventually(WAIT, || a.connected_peers() == vec![b.peer_id()]).await);
    assert_eq!(b.metrics().sessions.messages_sent, 2);
    assert_eq!(a.metrics().sessions.messages_delivered, 2);
    b.shutdown().await.expect("shutdown B");
    a.shutdown().await.expect("shutdown A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_nobody_serves_is_refused() {
    let (a, b) = pair().await;
    let refused = b.send(a.peer_id(), "/nobody/1", b"x".to_vec()).await;
    assert!(
        matches!(refused, Err(SendError::Refused(Refusal::NoProtocol))),
        "{refused:?}"
    );
    assert_eq!(a.metrics().sessions.refused_no_protocol, 1);
    b.shutdown().await.expect("shutdown B");
    a.shutdown().await.expect("shutdown A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_arrive_once_in_order() {
    let (a, b) = pair().await;
    let mut inbox = a.serve(PROTOCOL, 2048).expect("serve");
    for i in 0u32..1000 {
        b.send(a.peer_id(), PROTOCOL, i.to_be_bytes().to_vec())
            .await
            .expect("delivered");
    }
    for i in 0u32..1000 {
        let got = inbox.recv().await.expect("message");
        assert_eq!(got.body, i.to_be_bytes(), "message {i}");
    }
    let nothing_more = tokio::time::timeout(Duration::from_millis(50), inbox.recv()).await;
    assert!(nothing_more.is_err(), "an extra message: {nothing_more:?}");
    b.shutdown().await.expect("shutdown B");
    a.shutdown().await.expect("shutdown A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_inbox_refuses_and_reports_the_lag() {
    let (a, b) = pair().await;
    let mut inbox = a.serve(PROTOCOL, 1).expect("serve");
    b.send(a.peer_id(), PROTOCOL, b"1".to_vec())
        .await
        .expect("first fits");
    let busy = b.send(a.peer_id(), PROTOCOL, b"2".to_vec()).await;
    assert!(
        matches!(busy, Err(SendError::Refused(Refusal::Busy))),
        "{busy:?}"
    );
    assert_eq!(
        inbox.recv().await.unwrap_err(),
        InboxError::Lagged { refused: 1 }
    );
    assert_eq!(inbox.recv().await.expect("the first").body, b"1");
    b.shutdown().await.expect("shutdown B");
    a.shutdown().await.expect("shutdown A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_runs_over_the_open_session() {
    let fast = LivenessPolicy::default().with_interval(Duration::from_millis(300));
    let a = builder().liveness(fast).start().await.expect("start A");
    let b = builder_with_static(&[&a])
        .liveness(fast)
        .start()
        .await
        .expect("start B");
    let _inbox = a.serve(PROTOCOL, 4).expect("serve");
    let mut events = EventLog::of(&b);
    events
        .expect("B greeted A", WAIT, common::is_hello_acked(a.peer_id()))
        .await;
    b.send(a.peer_id(), PROTOCOL, b"open".to_vec())
        .await
        .expect("delivered");
    let tcp_pings = || a.metrics().pings_sent + b.metrics().pings_sent;
    let before = tcp_pings();
    // One side keeps the initiative; a keep-alive received counts as heard.
    let keepalives = || a.metrics().keepalives_sent + b.metrics().keepalives_sent;
    assert!(
        eventually(WAIT, || keepalives() >= 3).await,
        "{}",
        keepalives()
    );
    assert_eq!(tcp_pings(), before, "no TCP PING while the session is up");
    b.shutdown().await.expect("shutdown B");
    a.shutdown().await.expect("shutdown A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_gets_a_new_session() {
    let seed = [0x5a; 32];
    let a = builder()
        .identity(Identity::from_seed(seed))
        .start()
        .await
        .expect("start A");
    let a_addr = a.local_addr();
    let a_id = a.peer_id();
    let b = builder_with_static(&[&a]).start().await.expect("start B");
    let mut b_events = EventLog::of(&b);
    b_events
        .expect("B greeted A", WAIT, common::is_hello_acked(a_id))
        .await;
    let _inbox = a.serve(PROTOCOL, 4).expect("serve");
    b.send(a_id, PROTOCOL, b"before".to_vec())
        .await
        .expect("delivered before the restart");
    // A stops without a goodbye (a crash): B's session breaks.
    drop(_inbox);
    drop(a);
    b_events
        .expect(
            "session to A broken",
            WAIT,
            |e| matches!(e, NodeEvent::SessionClosed { peer, broken: true } if *peer == a_id),
        )
        .await;
    // The dropped node closes its listener in the background: retry the bind.
    let restart = async {
        loop {
            let started = Node::builder()
                .listen(a_addr)
                .identity(Identity::from_seed(seed))
                .start()
                .await;
            match started {
                Ok(node) => return node,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    };
    let a2 = tokio::time::timeout(WAIT, restart)
        .await
        .expect("restart A on the same address");
    let mut inbox = a2.serve(PROTOCOL, 4).expect("serve");
    let resent = async {
        loop {
            match b.send(a_id, PROTOCOL, b"after".to_vec()).await {
                Ok(_) => return,
                Err(SendError::NotConnected(_) | SendError::SessionClosed) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
    };
    tokio::time::timeout(WAIT, resent)
        .await
        .expect("a new session within 5 s");
    assert_eq!(inbox.recv().await.expect("message").body, b"after");
    b.shutdown().await.expect("shutdown B");
    a2.shutdown().await.expect("shutdown A");
}

/// A prototype-like peer: answers `ACK` to every line.
async fn prototype() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(_)) = lines.next_line().await {
                    if write.write_all(b"ACK\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prototype_peer_is_unsupported_and_an_unknown_one_not_connected() {
    let legacy: PeerId = Identity::generate().peer_id();
    let addr = prototype().await;
    let node = builder()
        .static_peers(vec![StaticPeer {
            peer_id: legacy,
            addr,
        }])
        .start()
        .await
        .expect("start");
    assert!(eventually(WAIT, || node.registry().get(&legacy).is_some()).await);
    let sent = node.send(legacy, PROTOCOL, b"hi".to_vec()).await;
    assert!(matches!(sent, Err(SendError::Unsupported)), "{sent:?}");
    // Remembered: the second try does not dial.
    let again = node.send(legacy, PROTOCOL, b"hi".to_vec()).await;
    assert!(matches!(again, Err(SendError::Unsupported)), "{again:?}");

    let stranger = Identity::generate().peer_id();
    let sent = node.send(stranger, PROTOCOL, b"hi".to_vec()).await;
    assert!(
        matches!(sent, Err(SendError::NotConnected(None))),
        "{sent:?}"
    );
    node.shutdown().await.expect("shutdown");
}

/// A TCP relay on loopback: forwards every connection to `target`.
async fn relay(target: std::net::SocketAddr) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_is_detected_and_its_address_never_verified() {
    let a = builder().start().await.expect("start A");
    let a_id = a.peer_id();
    let via = relay(a.local_addr()).await;
    let b = builder()
        .static_peers(vec![StaticPeer {
            peer_id: a_id,
            addr: via,
        }])
        .start()
        .await
        .expect("start B");
    let mut events = EventLog::of(&b);
    // The signed ACK passes through the relay; the session handshake does not.
    let acked = events
        .expect(
            "B greeted A through the relay",
            WAIT,
            common::is_hello_acked(a_id),
        )
        .await;
    assert!(
        matches!(acked, NodeEvent::HelloAcked { verified: false, addr, .. } if addr == via),
        "{acked:?}"
    );
    let entry = b.registry().get(&a_id).expect("A is stored (static)");
    assert!(!entry.verified, "the relay's address is not verified");
    assert_eq!(b.metrics().address_mismatches, 1);
    let sent = b.send(a_id, PROTOCOL, b"hi".to_vec()).await;
    assert!(
        matches!(
            sent,
            Err(SendError::NotConnected(Some(
                tazcom_node::transport::session::HandshakeError::AddressMismatch { .. }
            )))
        ),
        "{sent:?}"
    );
    assert!(!b.registry().get(&a_id).expect("still stored").verified);
    // B gives up at handshake message 2 (A's payload names the relay's
    // connection, not B's): A never gets a session from it.
    assert_eq!(a.metrics().transport.sessions_accepted, 0);
    let failed = || a.metrics().transport.rejected_handshake_failed;
    assert!(eventually(WAIT, || failed() == 2).await, "{}", failed());
    b.shutdown().await.expect("shutdown B");
    a.shutdown().await.expect("shutdown A");
}
