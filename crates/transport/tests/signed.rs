//! The authenticated greeting on 127.0.0.1 (`docs/wire.md` §3.6): signed
//! round trips, each server-side rejection with its own counter, legacy
//! HELLOs, and the client's checks of the signed ACK.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{hello_line, loopback, raw_exchange, stats_when, TEST_DEADLINE};
use tazcom_identity::{Identity, PeerId};
use tazcom_transport::error::AckRejection;
use tazcom_transport::wire::{FrameReader, Message, Nonce, ParsedLine, SignedAck, SignedHello};
use tazcom_transport::{
    send_signed_hello, Greeter, InboundEvent, Listener, RejectReason, Server, TransportConfig,
    TransportError, TransportStats,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PORT: u16 = 4242;

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    u64::try_from(since.as_millis()).expect("ms fit in u64")
}

/// A server on 127.0.0.1 port 0 serving as `identity`.
async fn start_signed(identity: &Arc<Identity>) -> (Server, mpsc::Receiver<InboundEvent>) {
    let listener = Listener::bind(loopback(), TransportConfig::default())
        .await
        .expect("bind 127.0.0.1:0")
        .with_identity(Arc::clone(identity));
    let (tx, rx) = mpsc::channel(64);
    (listener.serve(tx), rx)
}

fn line(hello: SignedHello) -> String {
    Message::SignedHello(hello).encode_line().expect("encode")
}

/// Sends `line` raw and returns what the server answered before closing.
async fn answer(server: &Server, line: &str) -> Vec<u8> {
    raw_exchange(server.local_addr(), line.as_bytes(), true).await
}

/// Only the rejection counters, to compare one reason against all others.
fn rejections(s: &TransportStats) -> [u64; RejectReason::ALL.len()] {
    RejectReason::ALL.map(|r| s.rejected(r))
}

/// Drains the events of a stopped server: panics on a HELLO, returns how
/// many rejections were reported.
async fn rejections_reported(events: &mut mpsc::Receiver<InboundEvent>) -> usize {
    let mut rejected = 0;
    while let Some(event) = events.recv().await {
        match event {
            InboundEvent::Rejected { .. } => rejected += 1,
            other => panic!("unexpected event after a rejection: {other:?}"),
        }
    }
    rejected
}

/// Sends `bad` and asserts the server closed without any reply, counted the
/// one reason `pick` reads, reported nothing and answers nothing else.
async fn assert_rejected(bad: &str, pick: fn(&TransportStats) -> u64, what: &str) {
    let server_id = Arc::new(Identity::generate());
    let (server, mut events) = start_signed(&server_id).await;
    assert_eq!(answer(&server, bad).await, b"", "{what}: a reply was sent");
    let stats = stats_when(&server, |s| s.rejected_total() == 1).await;
    assert_eq!(pick(&stats), 1, "{what}: wrong counter: {stats:?}");
    assert_eq!(
        rejections(&stats).iter().sum::<u64>(),
        1,
        "{what}: {stats:?}"
    );
    assert_eq!((stats.hellos, stats.lines_acked), (0, 0), "{what}");
    server.shutdown().await;
    assert_eq!(
        rejections_reported(&mut events).await,
        1,
        "{what}: a rejected HELLO was reported as a HELLO"
    );
}

#[tokio::test]
async fn signed_round_trip_verifies_both_sides() {
    let server_id = Arc::new(Identity::generate());
    let client_id = Arc::new(Identity::generate());
    let (server, mut events) = start_signed(&server_id).await;
    let greeter = Greeter::new(
        Arc::clone(&client_id),
        Some(PORT),
        TransportConfig::default(),
    )
    .expect("the default config is valid");

    let greeting = greeter
        .greet(server.local_addr(), &server_id.peer_id())
        .await
        .expect("signed greeting");
    assert_eq!(greeting.verified_peer, Some(server_id.peer_id()));
    assert!(greeting.rtt > Duration::ZERO);

    let event = events.recv().await.expect("HELLO event");
    let InboundEvent::Hello {
        from,
        remote,
        verified,
        listen_port,
        ..
    } = event
    else {
        panic!("expected a HELLO event, got {event:?}");
    };
    assert_eq!(from, client_id.peer_id());
    assert!(remote.ip().is_loopback());
    assert!(verified, "a checked signed HELLO is verified");
    assert_eq!(listen_port, Some(PORT));

    let stats = server.stats();
    assert_eq!(
        (stats.hellos, stats.hellos_verified, stats.lines_acked),
        (1, 1, 1)
    );
    assert_eq!(stats.rejected_total(), 0);
    let client = greeter.stats();
    assert_eq!((client.acks_verified, client.acks_unverified), (1, 0));
    assert_eq!(client.acks_rejected_total(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn the_server_answers_with_a_signed_ack_for_the_same_nonce() {
    let server_id = Arc::new(Identity::generate());
    let client_id = Identity::generate();
    let (server, _events) = start_signed(&server_id).await;
    let hello = SignedHello::sign(
        &client_id,
        server_id.peer_id(),
        Nonce::random(),
        now_ms(),
        7,
    );
    let reply = answer(&server, &line(hello)).await;
    assert_eq!(
        reply.len(),
        tazcom_transport::wire::SIGNED_ACK_LINE_BYTES,
        "{reply:?}"
    );
    let text = std::str::from_utf8(&reply).expect("UTF-8").trim_end();
    let parsed = ParsedLine::parse(text).expect("parse");
    let expected = SignedAck::sign(&server_id, client_id.peer_id(), hello.nonce);
    assert_eq!(parsed, ParsedLine::Message(Message::SignedAck(expected)));
    server.shutdown().await;
}

#[tokio::test]
async fn a_legacy_hello_gets_a_plain_ack_and_is_unverified() {
    let server_id = Arc::new(Identity::generate());
    let (server, mut events) = start_signed(&server_id).await;
    let claimed = Identity::generate().peer_id();
    assert_eq!(answer(&server, &hello_line(&claimed)).await, b"ACK\n");
    let event = events.recv().await.expect("HELLO event");
    assert!(
        matches!(event, InboundEvent::Hello { from, verified: false, listen_port: None, .. } if from == claimed),
        "{event:?}"
    );
    let stats = server.stats();
    assert_eq!((stats.hellos, stats.hellos_verified), (1, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_without_identity_acks_signed_hellos_unverified() {
    let (server, mut events) = common::start(TransportConfig::default()).await;
    let client_id = Arc::new(Identity::generate());
    let expected = Identity::generate().peer_id();
    let greeter = Greeter::new(
        Arc::clone(&client_id),
        Some(PORT),
        TransportConfig::default(),
    )
    .expect("the default config is valid");
    let greeting = greeter
        .greet(server.local_addr(), &expected)
        .await
        .expect("plain ACK accepted");
    assert_eq!(greeting.verified_peer, None);
    assert_eq!(greeter.stats().acks_unverified, 1);
    let event = events.recv().await.expect("HELLO event");
    assert!(matches!(
        event,
        InboundEvent::Hello {
            verified: false,
            listen_port: None,
            ..
        }
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn a_prototype_server_acks_the_signed_hello_which_stays_unverified() {
    // Behaves like the Python prototype: read one line of ≤ 1024 bytes, ACK, close.
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let prototype = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let (read_half, mut write_half) = stream.split();
        let mut reader = FrameReader::new(read_half, 1024);
        let line = reader
            .read_frame()
            .await
            .expect("read")
            .expect("a line")
            .to_vec();
        write_half.write_all(b"ACK\n").await.expect("write");
        line
    });
    let me = Identity::generate();
    let greeting = send_signed_hello(
        addr,
        &me,
        &PeerId::from_bytes([1; 32]),
        Some(PORT),
        &TransportConfig::default(),
    )
    .await
    .expect("acknowledged");
    assert!(!greeting.is_verified());
    let received = prototype.await.expect("prototype task");
    assert!(received.len() < 1024);
    let value: serde_json::Value = serde_json::from_slice(&received).expect("JSON");
    assert_eq!(value["type"], "HELLO", "a prototype must still see a HELLO");
    assert_eq!(value["from"], me.peer_id().to_string());
}

#[tokio::test]
async fn a_spoofed_from_is_a_bad_signature() {
    // The attacker signs a complete HELLO (its own from, valid signature)
    // then swaps in the victim's id: the signature no longer matches `from`.
    let server_id = Arc::new(Identity::generate());
    let (srv, _events) = start_signed(&server_id).await;
    let victim = Identity::generate();
    let attacker = Identity::generate();
    let mut hello = SignedHello::sign(
        &attacker,
        server_id.peer_id(),
        Nonce::random(),
        now_ms(),
        PORT,
    );
    let by_attacker = line(hello);
    hello.from = victim.peer_id();
    assert_eq!(answer(&srv, &line(hello)).await, b"");
    // The same line with the attacker's own id passes: only `from` differs.
    assert!(answer(&srv, &by_attacker)
        .await
        .starts_with(b"{\"type\":\"ACK\""));
    let stats = stats_when(&srv, |s| s.hellos_verified == 1).await;
    assert_eq!(stats.rejected_bad_signature, 1, "{stats:?}");
    srv.shutdown().await;
}

#[tokio::test]
async fn a_bad_signature_is_rejected() {
    let server_arc = Arc::new(Identity::generate());
    let sender = Identity::generate();
    let mut hello = SignedHello::sign(
        &sender,
        server_arc.peer_id(),
        Nonce::random(),
        now_ms(),
        PORT,
    );
    let mut sig = hello.sig.to_bytes();
    sig[10] ^= 0x01;
    hello.sig = tazcom_identity::Signature::from_bytes(sig);
    let (srv, mut events) = start_signed(&server_arc).await;
    assert_eq!(answer(&srv, &line(hello)).await, b"");
    let stats = stats_when(&srv, |s| s.rejected_total() == 1).await;
    assert_eq!(stats.rejected_bad_signature, 1, "{stats:?}");
    srv.shutdown().await;
    assert_eq!(rejections_reported(&mut events).await, 1);
}

#[tokio::test]
async fn a_hello_for_another_peer_is_a_wrong_addressee() {
    let sender = Identity::generate();
    let elsewhere = Identity::generate().peer_id();
    let hello = SignedHello::sign(&sender, elsewhere, Nonce::random(), now_ms(), PORT);
    assert_rejected(
        &line(hello),
        |s| s.rejected_wrong_addressee,
        "wrong addressee",
    )
    .await;
}

#[tokio::test]
async fn old_and_future_timestamps_are_rejected() {
    let window = TransportConfig::default().timestamp_window;
    let skew = u64::try_from(window.as_millis()).expect("ms") + 60_000;
    for (what, ts) in [("old", now_ms() - skew), ("future", now_ms() + skew)] {
        let server_id = Arc::new(Identity::generate());
        let (srv, mut events) = start_signed(&server_id).await;
        let hello = SignedHello::sign(
            &Identity::generate(),
            server_id.peer_id(),
            Nonce::random(),
            ts,
            PORT,
        );
        assert_eq!(answer(&srv, &line(hello)).await, b"", "{what}");
        let stats = stats_when(&srv, |s| s.rejected_total() == 1).await;
        assert_eq!(stats.rejected_stale_timestamp, 1, "{what}: {stats:?}");
        assert_eq!(rejections(&stats).iter().sum::<u64>(), 1, "{what}");
        srv.shutdown().await;
        assert_eq!(rejections_reported(&mut events).await, 1, "{what}");
    }
}

#[tokio::test]
async fn a_replayed_hello_is_rejected() {
    let server_id = Arc::new(Identity::generate());
    let (srv, mut events) = start_signed(&server_id).await;
    let hello = SignedHello::sign(
        &Identity::generate(),
        server_id.peer_id(),
        Nonce::random(),
        now_ms(),
        PORT,
    );
    let first = answer(&srv, &line(hello)).await;
    assert!(first.starts_with(b"{\"type\":\"ACK\""), "{first:?}");
    assert_eq!(
        answer(&srv, &line(hello)).await,
        b"",
        "the replay was answered"
    );
    let stats = stats_when(&srv, |s| s.rejected_total() == 1).await;
    assert_eq!(stats.rejected_replayed_nonce, 1, "{stats:?}");
    assert_eq!(rejections(&stats).iter().sum::<u64>(), 1);
    assert_eq!((stats.hellos, stats.hellos_verified), (1, 1));
    srv.shutdown().await;
    assert!(events.recv().await.is_some(), "the first HELLO is reported");
    assert_eq!(
        rejections_reported(&mut events).await,
        1,
        "the replay is reported as a rejection only"
    );
}

#[tokio::test]
async fn truncated_signed_fields_are_rejected() {
    let from = Identity::generate().peer_id();
    let truncated = format!(
        "{{\"type\":\"HELLO\",\"from\":\"{from}\",\"to\":\"{from}\",\"nonce\":\"{}\"}}\n",
        "00".repeat(16)
    );
    assert_rejected(&truncated, |s| s.rejected_truncated_fields, "truncated").await;
}

#[tokio::test]
async fn a_malformed_signature_field_is_an_invalid_message() {
    let sender = Identity::generate();
    let hello = SignedHello::sign(
        &sender,
        PeerId::from_bytes([1; 32]),
        Nonce::random(),
        now_ms(),
        PORT,
    );
    let sig = hex::encode(hello.sig.to_bytes());
    let bad = line(hello).replace(&sig, &sig[..100]);
    assert_rejected(&bad, |s| s.rejected_invalid_message, "short sig").await;
}

/// A raw server that answers one line with whatever `reply` builds from
/// the HELLO it received.
async fn scripted_server(
    reply: impl FnOnce(SignedHello) -> Vec<u8> + Send + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let (read_half, mut write_half) = stream.split();
        let mut reader = FrameReader::new(read_half, 1024);
        let line = reader
            .read_line()
            .await
            .expect("read")
            .expect("a line")
            .to_owned();
        let Ok(ParsedLine::Message(Message::SignedHello(hello))) = ParsedLine::parse(&line) else {
            panic!("not a signed HELLO: {line}");
        };
        let _ = write_half.write_all(&reply(hello)).await;
    });
    addr
}

fn ack_line(ack: SignedAck) -> Vec<u8> {
    Message::SignedAck(ack)
        .encode_line()
        .expect("encode")
        .into_bytes()
}

#[tokio::test]
async fn an_ack_from_another_peer_is_rejected_and_counted() {
    // The address answers with a valid signed ACK, but by another key than
    // the one discovery announced there.
    let impostor = Identity::generate();
    let addr =
        scripted_server(move |hello| ack_line(SignedAck::sign(&impostor, hello.from, hello.nonce)))
            .await;
    let expected = Identity::generate().peer_id();
    let greeter = Greeter::new(
        Arc::new(Identity::generate()),
        Some(PORT),
        TransportConfig::default(),
    )
    .expect("the default config is valid");
    let error = tokio::time::timeout(TEST_DEADLINE, greeter.greet(addr, &expected))
        .await
        .expect("in time")
        .expect_err("a mismatched id must fail");
    assert!(
        matches!(
            &error,
            TransportError::AckRejected { addr: a, reason: AckRejection::WrongPeer { expected: e, .. } }
                if *a == addr && *e == expected
        ),
        "{error}"
    );
    let stats = greeter.stats();
    assert_eq!(stats.acks_rejected_wrong_peer, 1, "{stats:?}");
    assert_eq!(stats.acks_rejected_total(), 1);
    assert_eq!(stats.acks_verified + stats.acks_unverified, 0);
}

#[tokio::test]
async fn ack_checks_each_have_their_counter() {
    let server = Arc::new(Identity::generate());
    let greeter = Greeter::new(
        Arc::new(Identity::generate()),
        Some(PORT),
        TransportConfig::default(),
    )
    .expect("the default config is valid");
    let s1 = Arc::clone(&server);
    let other_nonce =
        scripted_server(move |h| ack_line(SignedAck::sign(&s1, h.from, Nonce::random()))).await;
    let s2 = Arc::clone(&server);
    let other_to = scripted_server(move |h| ack_line(SignedAck::sign(&s2, h.to, h.nonce))).await;
    let s3 = Arc::clone(&server);
    let forged = scripted_server(move |h| {
        let mut ack = SignedAck::sign(&s3, h.from, h.nonce);
        ack.sig = h.sig; // a signature, but not over this ACK
        ack_line(ack)
    })
    .await;
    let garbage = scripted_server(|_| b"NOPE\n".to_vec()).await;
    for addr in [other_nonce, other_to, forged, garbage] {
        let result = greeter.greet(addr, &server.peer_id()).await;
        assert!(result.is_err(), "{addr}: {result:?}");
    }
    let s = greeter.stats();
    assert_eq!(
        [
            s.acks_rejected_nonce_mismatch,
            s.acks_rejected_wrong_addressee,
            s.acks_rejected_bad_signature,
            s.acks_rejected_malformed,
            s.acks_rejected_wrong_peer,
        ],
        [1, 1, 1, 1, 0],
        "{s:?}"
    );
}

#[tokio::test]
async fn a_server_greeter_counts_into_the_server_stats() {
    let a_id = Arc::new(Identity::generate());
    let b_id = Arc::new(Identity::generate());
    let (a, _a_events) = start_signed(&a_id).await;
    let (b, mut b_events) = start_signed(&b_id).await;
    let greeter = a.greeter().expect("a server with identity has a greeter");
    assert_eq!(greeter.peer_id(), a_id.peer_id());
    let greeting = greeter
        .greet(b.local_addr(), &b_id.peer_id())
        .await
        .expect("greet");
    assert!(greeting.is_verified());
    assert_eq!(a.stats().acks_verified, 1);
    let event = b_events.recv().await.expect("event");
    assert!(
        matches!(event, InboundEvent::Hello { listen_port: Some(p), verified: true, .. } if p == a.local_addr().port()),
        "{event:?}"
    );
    let (plain, _events) = common::start(TransportConfig::default()).await;
    assert!(plain.greeter().is_none());
    for server in [a, b, plain] {
        server.shutdown().await;
    }
}
