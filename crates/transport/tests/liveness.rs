//! Signed PING and BYE on 127.0.0.1 (`docs/wire.md` §3.7): signed ACKs and
//! events for valid ones, each server-side rejection with its own counter,
//! servers without identity, the client's `Greeter::ping`/`bye` and the
//! per-source rate bucket shared with HELLO.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{loopback, raw_exchange, stats_when, TEST_DEADLINE};
use tazcom_identity::{Identity, PeerId, Signature};
use tazcom_transport::error::AckRejection;
use tazcom_transport::wire::{
    FrameReader, Message, Nonce, ParsedLine, SignedAck, SignedBye, SignedHello, SignedPing,
    SIGNED_ACK_LINE_BYTES,
};
use tazcom_transport::{
    send_signed_bye, send_signed_ping, Greeter, InboundEvent, Listener, RejectReason, Server,
    TransportConfig, TransportError, TransportStats,
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

/// A server on 127.0.0.1 port 0 serving as `identity` with `config`.
async fn start_signed_with(
    identity: &Arc<Identity>,
    config: TransportConfig,
) -> (Server, mpsc::Receiver<InboundEvent>) {
    let listener = Listener::bind(loopback(), config)
        .await
        .expect("bind 127.0.0.1:0")
        .with_identity(Arc::clone(identity));
    let (tx, rx) = mpsc::channel(64);
    (listener.serve(tx), rx)
}

async fn start_signed(identity: &Arc<Identity>) -> (Server, mpsc::Receiver<InboundEvent>) {
    start_signed_with(identity, TransportConfig::default()).await
}

fn line(message: Message) -> String {
    message.encode_line().expect("encode")
}

fn ping_line(ping: SignedPing) -> String {
    line(Message::SignedPing(ping))
}

fn bye_line(bye: SignedBye) -> String {
    line(Message::SignedBye(bye))
}

/// Sends `line` raw and returns what the server answered before closing.
async fn answer(server: &Server, line: &str) -> Vec<u8> {
    raw_exchange(server.local_addr(), line.as_bytes(), true).await
}

/// The signed ACK `reply` holds (newline included), or a panic.
fn signed_ack(reply: &[u8]) -> SignedAck {
    let text = std::str::from_utf8(reply).expect("UTF-8").trim_end();
    match ParsedLine::parse(text) {
        Ok(ParsedLine::Message(Message::SignedAck(ack))) => ack,
        other => panic!("not a signed ACK: {other:?} from {text:?}"),
    }
}

fn rejections(s: &TransportStats) -> [u64; RejectReason::ALL.len()] {
    RejectReason::ALL.map(|r| s.rejected(r))
}

/// Drains the events of a stopped server: panics on anything but a
/// rejection, returns how many rejections were reported.
async fn rejections_reported(events: &mut mpsc::Receiver<InboundEvent>) -> usize {
    let mut rejected = 0;
    while let Some(event) = events.recv().await {
        match event {
            InboundEvent::Rejected { .. } => rejected += 1,
            other => panic!("unexpected event for a rejected request: {other:?}"),
        }
    }
    rejected
}

/// Sends `bad` to a fresh server with identity `server_id` and asserts it
/// closed without any reply, counted the one reason `reason`, verified and
/// reported nothing.
async fn assert_rejected(server_id: &Arc<Identity>, bad: &str, reason: RejectReason, what: &str) {
    let (server, mut events) = start_signed(server_id).await;
    assert_eq!(answer(&server, bad).await, b"", "{what}: a reply was sent");
    let stats = stats_when(&server, |s| s.rejected_total() == 1).await;
    assert_eq!(
        stats.rejected(reason),
        1,
        "{what}: wrong counter: {stats:?}"
    );
    assert_eq!(
        rejections(&stats).iter().sum::<u64>(),
        1,
        "{what}: {stats:?}"
    );
    assert_eq!(
        (stats.pings_verified, stats.byes_verified, stats.lines_acked),
        (0, 0, 0),
        "{what}"
    );
    server.shutdown().await;
    assert_eq!(rejections_reported(&mut events).await, 1, "{what}");
}

#[tokio::test]
async fn a_valid_ping_gets_a_signed_ack_and_is_reported_with_its_port() {
    let server_id = Arc::new(Identity::generate());
    let client = Identity::generate();
    let (server, mut events) = start_signed(&server_id).await;
    let ping = SignedPing::sign(
        &client,
        server_id.peer_id(),
        Nonce::random(),
        now_ms(),
        PORT,
    );
    let reply = answer(&server, &ping_line(ping)).await;
    assert_eq!(reply.len(), SIGNED_ACK_LINE_BYTES);
    assert_eq!(
        signed_ack(&reply),
        SignedAck::sign(&server_id, client.peer_id(), ping.nonce)
    );
    let event = events.recv().await.expect("PING event");
    let InboundEvent::Ping {
        from,
        remote,
        listen_port,
        ..
    } = event
    else {
        panic!("expected a PING event, got {event:?}");
    };
    assert_eq!(from, client.peer_id());
    assert!(remote.ip().is_loopback());
    assert_eq!(listen_port, Some(PORT));
    let stats = server.stats();
    assert_eq!(
        (stats.pings_verified, stats.byes_verified, stats.lines_acked),
        (1, 0, 1)
    );
    assert_eq!((stats.hellos, stats.unknown_types), (0, 0));
    assert_eq!(stats.rejected_total(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_ping_with_port_zero_reports_no_listen_port() {
    let server_id = Arc::new(Identity::generate());
    let (server, mut events) = start_signed(&server_id).await;
    let ping = SignedPing::sign(
        &Identity::generate(),
        server_id.peer_id(),
        Nonce::random(),
        now_ms(),
        0,
    );
    signed_ack(&answer(&server, &ping_line(ping)).await);
    let event = events.recv().await.expect("PING event");
    assert!(
        matches!(
            event,
            InboundEvent::Ping {
                listen_port: None,
                ..
            }
        ),
        "{event:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_valid_bye_gets_a_signed_ack_and_is_reported() {
    let server_id = Arc::new(Identity::generate());
    let client = Identity::generate();
    let (server, mut events) = start_signed(&server_id).await;
    let bye = SignedBye::sign(&client, server_id.peer_id(), Nonce::random(), now_ms());
    let reply = answer(&server, &bye_line(bye)).await;
    assert_eq!(
        signed_ack(&reply),
        SignedAck::sign(&server_id, client.peer_id(), bye.nonce)
    );
    let event = events.recv().await.expect("BYE event");
    let InboundEvent::Bye { from, remote, .. } = event else {
        panic!("expected a BYE event, got {event:?}");
    };
    assert_eq!(from, client.peer_id());
    assert!(remote.ip().is_loopback());
    let stats = server.stats();
    assert_eq!(
        (stats.byes_verified, stats.pings_verified, stats.lines_acked),
        (1, 0, 1)
    );
    assert_eq!(stats.rejected_total(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn each_failed_check_of_a_ping_is_rejected_and_counted() {
    let server_id = Arc::new(Identity::generate());
    let to = server_id.peer_id();
    let client = Identity::generate();
    let skew = u64::try_from(TransportConfig::default().timestamp_window.as_millis()).expect("ms")
        + 60_000;
    let ping = |to, ts| SignedPing::sign(&client, to, Nonce::random(), ts, PORT);

    let elsewhere = Identity::generate().peer_id();
    let cases = [
        (
            ping(elsewhere, now_ms()),
            RejectReason::WrongAddressee,
            "wrong addressee",
        ),
        (
            ping(to, now_ms() - skew),
            RejectReason::StaleTimestamp,
            "old",
        ),
        (
            ping(to, now_ms() + skew),
            RejectReason::StaleTimestamp,
            "future",
        ),
        (
            SignedPing {
                port: PORT + 1,
                ..ping(to, now_ms())
            },
            RejectReason::BadSignature,
            "altered port",
        ),
        (
            SignedPing {
                from: elsewhere,
                ..ping(to, now_ms())
            },
            RejectReason::BadSignature,
            "spoofed from",
        ),
    ];
    for (bad, reason, what) in cases {
        assert_rejected(&server_id, &ping_line(bad), reason, what).await;
    }
}

#[tokio::test]
async fn each_failed_check_of_a_bye_is_rejected_and_counted() {
    let server_id = Arc::new(Identity::generate());
    let to = server_id.peer_id();
    let client = Identity::generate();
    let skew = u64::try_from(TransportConfig::default().timestamp_window.as_millis()).expect("ms")
        + 60_000;
    let bye = |to, ts| SignedBye::sign(&client, to, Nonce::random(), ts);

    let elsewhere = Identity::generate().peer_id();
    let mut forged = bye(to, now_ms());
    let mut sig = forged.sig.to_bytes();
    sig[10] ^= 0x01;
    forged.sig = Signature::from_bytes(sig);
    let cases = [
        (
            bye(elsewhere, now_ms()),
            RejectReason::WrongAddressee,
            "wrong addressee",
        ),
        (
            bye(to, now_ms() - skew),
            RejectReason::StaleTimestamp,
            "old",
        ),
        (
            bye(to, now_ms() + skew),
            RejectReason::StaleTimestamp,
            "future",
        ),
        (forged, RejectReason::BadSignature, "flipped signature bit"),
    ];
    for (bad, reason, what) in cases {
        assert_rejected(&server_id, &bye_line(bad), reason, what).await;
    }
}

#[tokio::test]
async fn replayed_pings_and_byes_are_rejected() {
    let server_id = Arc::new(Identity::generate());
    let (server, mut events) = start_signed(&server_id).await;
    let client = Identity::generate();
    let ping = SignedPing::sign(
        &client,
        server_id.peer_id(),
        Nonce::random(),
        now_ms(),
        PORT,
    );
    let bye = SignedBye::sign(&client, server_id.peer_id(), Nonce::random(), now_ms());
    for request in [ping_line(ping), bye_line(bye)] {
        signed_ack(&answer(&server, &request).await);
        assert_eq!(answer(&server, &request).await, b"", "replay answered");
    }
    let stats = stats_when(&server, |s| s.rejected_total() == 2).await;
    assert_eq!(stats.rejected_replayed_nonce, 2, "{stats:?}");
    assert_eq!((stats.pings_verified, stats.byes_verified), (1, 1));
    server.shutdown().await;
    let mut reported = Vec::new();
    while let Some(event) = events.recv().await {
        reported.push(event);
    }
    assert!(
        matches!(reported[0], InboundEvent::Ping { .. }),
        "{reported:?}"
    );
    assert!(
        matches!(
            reported[1],
            InboundEvent::Rejected {
                reason: RejectReason::ReplayedNonce,
                ..
            }
        ),
        "{reported:?}"
    );
    assert!(
        matches!(reported[2], InboundEvent::Bye { .. }),
        "{reported:?}"
    );
    assert_eq!(reported.len(), 4, "{reported:?}");
}

#[tokio::test]
async fn a_ping_signature_does_not_pass_as_a_hello() {
    // The same fields, signed as a PING, sent as a HELLO: the domain differs.
    let server_id = Arc::new(Identity::generate());
    let ping = SignedPing::sign(
        &Identity::generate(),
        server_id.peer_id(),
        Nonce::random(),
        now_ms(),
        PORT,
    );
    let hello = SignedHello {
        from: ping.from,
        to: ping.to,
        nonce: ping.nonce,
        ts_ms: ping.ts_ms,
        port: ping.port,
        sig: ping.sig,
    };
    let as_hello = line(Message::SignedHello(hello));
    assert_rejected(
        &server_id,
        &as_hello,
        RejectReason::BadSignature,
        "as HELLO",
    )
    .await;
    let bye = SignedBye {
        from: ping.from,
        to: ping.to,
        nonce: ping.nonce,
        ts_ms: ping.ts_ms,
        sig: ping.sig,
    };
    assert_rejected(
        &server_id,
        &bye_line(bye),
        RejectReason::BadSignature,
        "as BYE",
    )
    .await;
}

#[tokio::test]
async fn malformed_pings_and_byes_are_rejected() {
    let server_id = Arc::new(Identity::generate());
    let from = Identity::generate().peer_id();
    let truncated = format!(
        "{{\"type\":\"PING\",\"from\":\"{from}\",\"to\":\"{from}\",\"nonce\":\"{}\"}}\n",
        "00".repeat(16)
    );
    let cases = [
        (
            "{\"type\":\"PING\"}\n".to_owned(),
            RejectReason::TruncatedFields,
        ),
        (
            "{\"type\":\"BYE\"}\n".to_owned(),
            RejectReason::TruncatedFields,
        ),
        (truncated, RejectReason::TruncatedFields),
    ];
    for (bad, reason) in cases {
        assert_rejected(&server_id, &bad, reason, &bad).await;
    }
    let bye = SignedBye::sign(&Identity::generate(), from, Nonce::random(), now_ms());
    let sig = hex::encode(bye.sig.to_bytes());
    let short_sig = bye_line(bye).replace(&sig, &sig[..100]);
    assert_rejected(
        &server_id,
        &short_sig,
        RejectReason::InvalidMessage,
        "short sig",
    )
    .await;
}

#[tokio::test]
async fn a_server_without_identity_acks_pings_and_byes_and_reports_nothing() {
    let (server, mut events) = common::start(TransportConfig::default()).await;
    let client = Identity::generate();
    let to = Identity::generate().peer_id();
    let ping = SignedPing::sign(&client, to, Nonce::random(), now_ms(), PORT);
    let bye = SignedBye::sign(&client, to, Nonce::random(), now_ms());
    assert_eq!(answer(&server, &ping_line(ping)).await, b"ACK\n");
    assert_eq!(answer(&server, &bye_line(bye)).await, b"ACK\n");
    let stats = stats_when(&server, |s| s.lines_acked == 2).await;
    assert_eq!(stats.unknown_types, 2, "{stats:?}");
    assert_eq!(
        (stats.pings_verified, stats.byes_verified, stats.hellos),
        (0, 0, 0)
    );
    server.shutdown().await;
    assert!(
        events.recv().await.is_none(),
        "an unchecked PING or BYE must not be reported"
    );
}

#[tokio::test]
async fn greeter_ping_and_bye_are_verified_by_a_server_with_identity() {
    let server_id = Arc::new(Identity::generate());
    let client_id = Arc::new(Identity::generate());
    let (server, mut events) = start_signed(&server_id).await;
    let greeter = Greeter::new(
        Arc::clone(&client_id),
        Some(PORT),
        TransportConfig::default(),
    )
    .expect("the default config is valid");
    let addr = server.local_addr();

    let pinged = greeter
        .ping(addr, &server_id.peer_id())
        .await
        .expect("PING acknowledged");
    assert_eq!(pinged.verified_peer, Some(server_id.peer_id()));
    let event = events.recv().await.expect("PING event");
    assert!(
        matches!(event, InboundEvent::Ping { from, listen_port: Some(PORT), .. } if from == client_id.peer_id()),
        "{event:?}"
    );

    let left = greeter
        .bye(addr, &server_id.peer_id())
        .await
        .expect("BYE acknowledged");
    assert_eq!(left.verified_peer, Some(server_id.peer_id()));
    let event = events.recv().await.expect("BYE event");
    assert!(
        matches!(event, InboundEvent::Bye { from, .. } if from == client_id.peer_id()),
        "{event:?}"
    );

    let client = greeter.stats();
    assert_eq!((client.acks_verified, client.acks_unverified), (2, 0));
    assert_eq!(client.acks_rejected_total(), 0);
    let stats = server.stats();
    assert_eq!((stats.pings_verified, stats.byes_verified), (1, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn greeter_ping_and_bye_are_unverified_by_a_server_without_identity() {
    let (server, mut events) = common::start(TransportConfig::default()).await;
    let greeter = Greeter::new(
        Arc::new(Identity::generate()),
        Some(PORT),
        TransportConfig::default(),
    )
    .expect("the default config is valid");
    let peer = Identity::generate().peer_id();
    let pinged = greeter.ping(server.local_addr(), &peer).await.expect("ACK");
    assert!(!pinged.is_verified(), "alive but unverified");
    let left = greeter.bye(server.local_addr(), &peer).await.expect("ACK");
    assert!(!left.is_verified(), "not understood");
    let client = greeter.stats();
    assert_eq!((client.acks_verified, client.acks_unverified), (0, 2));
    server.shutdown().await;
    assert!(events.recv().await.is_none());
}

#[tokio::test]
async fn free_functions_send_pings_and_byes_to_a_server_with_identity() {
    let server_id = Arc::new(Identity::generate());
    let (server, mut events) = start_signed(&server_id).await;
    let me = Identity::generate();
    let config = TransportConfig::default();
    let addr = server.local_addr();
    let pinged = send_signed_ping(addr, &me, &server_id.peer_id(), None, &config)
        .await
        .expect("PING");
    assert_eq!(pinged.verified_peer, Some(server_id.peer_id()));
    let event = events.recv().await.expect("PING event");
    assert!(
        matches!(
            event,
            InboundEvent::Ping {
                listen_port: None,
                ..
            }
        ),
        "{event:?}"
    );
    let left = send_signed_bye(addr, &me, &server_id.peer_id(), &config)
        .await
        .expect("BYE");
    assert!(left.is_verified());
    // Addressed to someone else: the server closes without reply.
    let stranger = Identity::generate().peer_id();
    let error = send_signed_ping(addr, &me, &stranger, Some(PORT), &config)
        .await
        .expect_err("a PING to another id is rejected");
    assert!(
        matches!(error, TransportError::EofBeforeReply { .. }),
        "{error}"
    );
    let stats = stats_when(&server, |s| s.rejected_wrong_addressee == 1).await;
    assert_eq!((stats.pings_verified, stats.byes_verified), (1, 1));
    server.shutdown().await;
}

/// A raw server that answers one line with whatever `reply` builds from the
/// (nonce, sender) of the PING or BYE it received.
async fn scripted_server(
    reply: impl FnOnce(Nonce, PeerId) -> Vec<u8> + Send + 'static,
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
        let (nonce, from) = match ParsedLine::parse(&line) {
            Ok(ParsedLine::Message(Message::SignedPing(p))) => (p.nonce, p.from),
            Ok(ParsedLine::Message(Message::SignedBye(b))) => (b.nonce, b.from),
            other => panic!("not a signed PING or BYE: {other:?}"),
        };
        let _ = write_half.write_all(&reply(nonce, from)).await;
    });
    addr
}

fn ack_line(ack: SignedAck) -> Vec<u8> {
    line(Message::SignedAck(ack)).into_bytes()
}

#[tokio::test]
async fn bad_acks_to_pings_and_byes_are_rejected_like_greetings() {
    let server = Arc::new(Identity::generate());
    let greeter = Greeter::new(
        Arc::new(Identity::generate()),
        Some(PORT),
        TransportConfig::default(),
    )
    .expect("the default config is valid");
    let impostor = Identity::generate();
    let impostor_id = impostor.peer_id();
    let wrong_peer =
        scripted_server(move |nonce, from| ack_line(SignedAck::sign(&impostor, from, nonce))).await;
    let error = tokio::time::timeout(TEST_DEADLINE, greeter.ping(wrong_peer, &server.peer_id()))
        .await
        .expect("in time")
        .expect_err("an ACK by another key must fail");
    assert!(
        matches!(
            &error,
            TransportError::AckRejected { reason: AckRejection::WrongPeer { expected, found }, .. }
                if *expected == server.peer_id() && *found == impostor_id
        ),
        "{error}"
    );
    let s = Arc::clone(&server);
    let other_nonce =
        scripted_server(move |_, from| ack_line(SignedAck::sign(&s, from, Nonce::random()))).await;
    let error = greeter
        .bye(other_nonce, &server.peer_id())
        .await
        .expect_err("an ACK for another nonce must fail");
    assert!(
        matches!(
            error,
            TransportError::AckRejected {
                reason: AckRejection::NonceMismatch,
                ..
            }
        ),
        "{error}"
    );
    let garbage = scripted_server(|_, _| b"NOPE\n".to_vec()).await;
    let error = greeter
        .ping(garbage, &server.peer_id())
        .await
        .expect_err("garbage");
    assert!(matches!(error, TransportError::BadAck { .. }), "{error}");
    let stats = greeter.stats();
    assert_eq!(
        [
            stats.acks_rejected_wrong_peer,
            stats.acks_rejected_nonce_mismatch,
            stats.acks_rejected_malformed,
        ],
        [1, 1, 1],
        "{stats:?}"
    );
    assert_eq!(stats.acks_verified + stats.acks_unverified, 0);
}

#[tokio::test]
async fn pings_share_the_hello_rate_bucket() {
    let config = TransportConfig::default()
        .with_hello_rate_burst(3)
        .with_hello_rate_per_sec(1);
    let server_id = Arc::new(Identity::generate());
    let (server, _events) = start_signed_with(&server_id, config).await;
    let client = Identity::generate();
    let to = server_id.peer_id();
    let hello = SignedHello::sign(&client, to, Nonce::random(), now_ms(), PORT);
    let ping = || SignedPing::sign(&client, to, Nonce::random(), now_ms(), PORT);
    let bye = SignedBye::sign(&client, to, Nonce::random(), now_ms());
    // One HELLO, one PING, one BYE: the burst of 3 is spent.
    for request in [
        line(Message::SignedHello(hello)),
        ping_line(ping()),
        bye_line(bye),
    ] {
        signed_ack(&answer(&server, &request).await);
    }
    assert_eq!(
        answer(&server, &ping_line(ping())).await,
        b"",
        "4th request"
    );
    // Refused before the signature check: a forged PING is rate limited,
    // not a bad signature.
    let forged = SignedPing {
        port: PORT + 1,
        ..ping()
    };
    assert_eq!(answer(&server, &ping_line(forged)).await, b"");
    let stats = stats_when(&server, |s| s.rejected_rate_limited == 2).await;
    assert_eq!(stats.rejected_total(), 2, "{stats:?}");
    assert_eq!(
        (
            stats.hellos_verified,
            stats.pings_verified,
            stats.byes_verified
        ),
        (1, 1, 1)
    );
    server.shutdown().await;
}
