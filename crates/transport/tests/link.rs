//! The message layer over real sessions (`docs/wire.md` §3.9): a server
//! accepting upgrades ([`Listener::with_sessions`]), a client dialling with
//! [`session::initiate`], and a [`Link`] with its own [`Router`] on each
//! side; then the server's limits on upgrades and handshakes.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{hello_line, loopback, read_until_closed, stats_when, TEST_DEADLINE};
use tazcom_identity::{Identity, PeerId};
use tazcom_transport::session::{
    self, BindingPayload, CloseReason, HandshakeError, InboxError, Link, LinkEnd, NoiseKeys,
    Record, Refusal, ResponseStatus, Router, SendError, Session, SessionConfig, SessionCounters,
    SessionError, SessionStats, UpgradeRequest, DEFAULT_MAX_MESSAGE_BYTES, NOISE_PROTOCOL,
    PROLOGUE, SESSION_OK_LINE,
};
use tazcom_transport::{InboundEvent, Listener, Server, TransportConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

const PROTO: &str = "/test/link/1";
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a test waits to conclude that nothing (more) arrives.
const QUIET: Duration = Duration::from_millis(100);
/// Bound of the tests that move megabytes or thousands of messages: an
/// unoptimised build spends about 0.3 ms of CPU per message.
const HEAVY_DEADLINE: Duration = Duration::from_secs(60);

/// Runs a test body, failing it instead of hanging past [`TEST_DEADLINE`].
async fn within<T>(body: impl Future<Output = T>) -> T {
    within_for(TEST_DEADLINE, body).await
}

/// Runs a test body, failing it instead of hanging past `deadline`.
async fn within_for<T>(deadline: Duration, body: impl Future<Output = T>) -> T {
    tokio::time::timeout(deadline, body)
        .await
        .expect("test did not finish in time")
}

/// An identity and its Noise keys.
struct Node {
    identity: Arc<Identity>,
    keys: NoiseKeys,
}

impl Node {
    fn new() -> Node {
        Node {
            identity: Arc::new(Identity::generate()),
            keys: NoiseKeys::generate().expect("noise keys"),
        }
    }

    fn id(&self) -> PeerId {
        self.identity.peer_id()
    }
}

/// A served listener on 127.0.0.1 with `node`'s identity, accepting
/// session upgrades: the server, its established sessions, its events.
async fn session_server(
    node: &Node,
    config: TransportConfig,
) -> (
    Server,
    mpsc::Receiver<Session>,
    mpsc::Receiver<InboundEvent>,
) {
    let (session_tx, sessions) = mpsc::channel(16);
    let (event_tx, events) = mpsc::channel(1024);
    let server = Listener::bind(loopback(), config)
        .await
        .expect("bind")
        .with_identity(Arc::clone(&node.identity))
        .with_sessions(node.keys.clone(), session_tx)
        .serve(event_tx);
    (server, sessions, events)
}

/// `client` dials `addr` and runs the handshake expecting `expected`.
async fn dial(
    client: &Node,
    addr: SocketAddr,
    expected: PeerId,
) -> Result<Session, HandshakeError> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    session::initiate(
        stream,
        &client.identity,
        &client.keys,
        expected,
        0,
        HANDSHAKE_TIMEOUT,
    )
    .await
}

/// What keeps a pair's server running, and the two ids.
struct Keep {
    client_id: PeerId,
    server_id: PeerId,
    _server: Server,
    _events: mpsc::Receiver<InboundEvent>,
}

/// Two established sessions over the server: the client's, the server's.
async fn sessions() -> (Session, Session, Keep) {
    sessions_with(None).await
}

/// As [`sessions`], the client's socket with a fixed receive buffer of
/// `recv_buffer` bytes if given (no auto-tuning: its peer soon waits for it).
async fn sessions_with(recv_buffer: Option<u32>) -> (Session, Session, Keep) {
    let (client, server_node) = (Node::new(), Node::new());
    let (server, mut accepted, events) =
        session_server(&server_node, TransportConfig::default()).await;
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    let stream = socket.connect(server.local_addr()).await.expect("connect");
    let client_session = session::initiate(
        stream,
        &client.identity,
        &client.keys,
        server_node.id(),
        0,
        HANDSHAKE_TIMEOUT,
    )
    .await
    .expect("handshake");
    let server_session = accepted.recv().await.expect("server's session");
    assert_eq!(client_session.peer(), server_node.id());
    assert_eq!(server_session.peer(), client.id());
    let keep = Keep {
        client_id: client.id(),
        server_id: server_node.id(),
        _server: server,
        _events: events,
    };
    (client_session, server_session, keep)
}

/// One end of a pair: its link, its router and its counters.
struct Side {
    link: Link,
    router: Router,
    counters: Arc<SessionCounters>,
}

impl Side {
    fn spawn(session: Session, config: SessionConfig) -> Side {
        let router = Router::new();
        let counters = Arc::new(SessionCounters::default());
        let link = Link::spawn(session, router.clone(), config, Arc::clone(&counters));
        Side {
            link,
            router,
            counters,
        }
    }

    fn stats(&self) -> SessionStats {
        self.counters.snapshot()
    }
}

struct Pair {
    client: Side,
    server: Side,
    keep: Keep,
}

async fn pair_with(client: SessionConfig, server: SessionConfig) -> Pair {
    let (c, s, keep) = sessions().await;
    Pair {
        client: Side::spawn(c, client),
        server: Side::spawn(s, server),
        keep,
    }
}

async fn pair() -> Pair {
    pair_with(SessionConfig::default(), SessionConfig::default()).await
}

/// `len` bytes of a pattern that repeats every 251 bytes (a prime, so it
/// never lines up with a chunk boundary).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Whether nothing arrives on `inbox` for [`QUIET`].
async fn stays_empty(inbox: &mut session::Inbox) -> bool {
    tokio::time::timeout(QUIET, inbox.recv()).await.is_err()
}

// ---------------------------------------------------------------------------
// Messages

#[tokio::test]
async fn send_is_delivered_with_exact_bytes_peer_and_protocol() {
    within(async {
        let p = pair().await;
        let mut inbox = p.server.router.serve(PROTO, 8).unwrap();
        let rtt = p.client.link.send(PROTO, b"hello server".to_vec()).await;
        assert!(rtt.is_ok(), "{rtt:?}");
        let got = inbox.recv().await.unwrap();
        assert_eq!(got.body, b"hello server");
        assert_eq!(got.peer, p.keep.client_id);
        assert_eq!(got.protocol, PROTO);
        assert!(got.responder.is_none());
        assert_eq!(p.client.link.peer(), p.keep.server_id);
        assert_eq!(p.client.stats().messages_sent, 1);
        assert_eq!(p.server.stats().messages_delivered, 1);
        assert_eq!(p.server.stats().messages_sent, 0);
        assert_eq!(p.client.stats().messages_delivered, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_arrive_exactly_once_in_order_per_sender() {
    const TASKS: u32 = 50;
    const EACH: u32 = 200;
    within_for(HEAVY_DEADLINE, async {
        let p = pair().await;
        let mut inbox = p
            .server
            .router
            .serve(PROTO, (TASKS * EACH) as usize)
            .unwrap();
        let mut senders = JoinSet::new();
        for task in 0..TASKS {
            let link = p.client.link.clone();
            senders.spawn(async move {
                for seq in 0..EACH {
                    let body = [task.to_be_bytes(), seq.to_be_bytes()].concat();
                    link.send(PROTO, body).await.expect("delivered");
                }
            });
        }
        while let Some(done) = senders.join_next().await {
            done.expect("sender task");
        }
        // Each task's messages in the order it sent them, none twice, none missing.
        let mut next = vec![0u32; TASKS as usize];
        for _ in 0..TASKS * EACH {
            let body = inbox.recv().await.unwrap().body;
            assert_eq!(body.len(), 8);
            let task = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
            let seq = u32::from_be_bytes(body[4..].try_into().unwrap());
            assert_eq!(seq, next[task], "task {task}");
            next[task] += 1;
        }
        assert!(next.iter().all(|&n| n == EACH));
        assert!(stays_empty(&mut inbox).await);
        assert_eq!(p.client.stats().messages_sent, u64::from(TASKS * EACH));
        assert_eq!(p.server.stats().messages_delivered, u64::from(TASKS * EACH));
        assert_eq!(p.server.stats().refused_busy, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mib_message_and_200_kib_response_reassemble_byte_exact() {
    within(async {
        let p = pair().await;
        let mut inbox = p.server.router.serve(PROTO, 1).unwrap();
        let big = pattern(DEFAULT_MAX_MESSAGE_BYTES);
        p.client.link.send(PROTO, big.clone()).await.unwrap();
        assert!(inbox.recv().await.unwrap().body == big);

        let answer = pattern(200 * 1024);
        let responder = async {
            let request = inbox.recv().await.unwrap();
            assert_eq!(request.body, b"big answer, please");
            request.responder.unwrap().respond(answer.clone()).await
        };
        let (got, responded) = tokio::join!(
            p.client.link.request(PROTO, b"big answer, please".to_vec()),
            responder
        );
        responded.unwrap();
        assert!(got.unwrap() == answer);
    })
    .await;
}

#[tokio::test]
async fn request_gets_its_response_and_a_dropped_responder_gives_unanswered() {
    within(async {
        let p = pair().await;
        let mut inbox = p.server.router.serve(PROTO, 4).unwrap();
        let echo = async {
            let request = inbox.recv().await.unwrap();
            let reply = [b"re: ".as_slice(), &request.body].concat();
            request.responder.expect("a request").respond(reply).await
        };
        let (got, responded) = tokio::join!(p.client.link.request(PROTO, b"ping".to_vec()), echo);
        responded.unwrap();
        assert_eq!(got.unwrap(), b"re: ping");

        let drop_it = async { drop(inbox.recv().await.unwrap()) };
        let (got, ()) = tokio::join!(p.client.link.request(PROTO, b"ignored".to_vec()), drop_it);
        assert!(
            matches!(got, Err(SendError::Refused(Refusal::Unanswered))),
            "{got:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn unserved_protocol_is_refused_no_protocol_and_counted() {
    within(async {
        let p = pair().await;
        let sent = p
            .client
            .link
            .send("/nobody/serves/this", b"x".to_vec())
            .await;
        assert!(
            matches!(sent, Err(SendError::Refused(Refusal::NoProtocol))),
            "{sent:?}"
        );
        assert_eq!(p.server.stats().refused_no_protocol, 1);
        assert_eq!(p.server.stats().messages_delivered, 0);
    })
    .await;
}

#[tokio::test]
async fn full_inbox_refuses_busy_then_reports_lagged_and_loses_nothing() {
    within(async {
        let p = pair().await;
        let mut inbox = p.server.router.serve(PROTO, 1).unwrap();
        let link = &p.client.link;
        link.send(PROTO, b"one".to_vec()).await.unwrap();
        for body in [b"two", b"six"] {
            let sent = link.send(PROTO, body.to_vec()).await;
            assert!(
                matches!(sent, Err(SendError::Refused(Refusal::Busy))),
                "{sent:?}"
            );
        }
        // The refusals are reported first, then the one queued message.
        assert_eq!(
            inbox.recv().await.unwrap_err(),
            InboxError::Lagged { refused: 2 }
        );
        assert_eq!(inbox.recv().await.unwrap().body, b"one");
        assert!(stays_empty(&mut inbox).await);
        let stats = p.server.stats();
        assert_eq!((stats.messages_delivered, stats.refused_busy), (1, 2));
        // With room again, the next message is delivered.
        link.send(PROTO, b"four".to_vec()).await.unwrap();
        assert_eq!(inbox.recv().await.unwrap().body, b"four");
    })
    .await;
}

#[tokio::test]
async fn too_large_is_refused_by_the_receiver_and_locally_by_the_sender() {
    within(async {
        let small = SessionConfig::default().with_max_message_bytes(1000);
        let p = pair_with(SessionConfig::default(), small).await;
        let mut server_inbox = p.server.router.serve(PROTO, 4).unwrap();
        let mut client_inbox = p.client.router.serve(PROTO, 4).unwrap();

        // Above the receiver's limit (several frames): skipped, refused.
        let sent = p.client.link.send(PROTO, pattern(100_000)).await;
        assert!(
            matches!(sent, Err(SendError::Refused(Refusal::TooLarge))),
            "{sent:?}"
        );
        assert_eq!(p.server.stats().refused_too_large, 1);
        // The session stays usable.
        p.client.link.send(PROTO, b"small".to_vec()).await.unwrap();
        assert_eq!(server_inbox.recv().await.unwrap().body, b"small");
        assert_eq!(p.server.stats().protocol_violations, 0);

        // Above the sender's own limit: refused before anything is sent.
        let sent = p.server.link.send(PROTO, pattern(1001)).await;
        assert!(
            matches!(
                sent,
                Err(SendError::TooLarge {
                    len: 1001,
                    max: 1000
                })
            ),
            "{sent:?}"
        );
        assert_eq!(p.server.stats().messages_sent, 0);
        assert!(stays_empty(&mut client_inbox).await);
        assert_eq!(p.client.stats().messages_delivered, 0);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Keep-alive and the end of a link

#[tokio::test]
async fn ping_returns_the_round_trip_both_ways() {
    within(async {
        let p = pair().await;
        let timeout = Duration::from_secs(2);
        for link in [&p.client.link, &p.server.link] {
            let rtt = link.ping(timeout).await.unwrap();
            assert!(rtt < timeout, "{rtt:?}");
        }
        assert_eq!(p.client.stats().unmatched_replies, 0);
    })
    .await;
}

#[tokio::test]
async fn close_on_one_side_ends_both_links_closed() {
    within(async {
        let p = pair().await;
        p.client.link.close();
        assert_eq!(p.client.link.closed().await, LinkEnd::Closed);
        assert_eq!(p.server.link.closed().await, LinkEnd::Closed);
        let sent = p.client.link.send(PROTO, b"late".to_vec()).await;
        assert!(matches!(sent, Err(SendError::SessionClosed)), "{sent:?}");
        for side in [&p.client, &p.server] {
            let stats = side.stats();
            assert_eq!((stats.sessions_opened, stats.sessions_closed), (1, 1));
        }
    })
    .await;
}

#[tokio::test]
async fn abort_ends_the_peer_and_fails_later_sends() {
    within(async {
        let p = pair().await;
        p.client.link.abort();
        assert_eq!(p.client.link.closed().await, LinkEnd::Aborted);
        let end = p.server.link.closed().await;
        assert!(
            matches!(end, LinkEnd::PeerGone | LinkEnd::Broken(_)),
            "{end:?}"
        );
        let sent = p.client.link.send(PROTO, b"late".to_vec()).await;
        assert!(matches!(sent, Err(SendError::SessionClosed)), "{sent:?}");
    })
    .await;
}

#[tokio::test]
async fn idle_links_close_each_other_after_idle_timeout() {
    within(async {
        let idle = Duration::from_millis(200);
        let config = SessionConfig::default().with_idle_timeout(idle);
        let started = Instant::now();
        let p = pair_with(config, config).await;
        assert_eq!(p.client.link.closed().await, LinkEnd::Closed);
        assert_eq!(p.server.link.closed().await, LinkEnd::Closed);
        assert!(started.elapsed() >= idle);
    })
    .await;
}

#[tokio::test]
async fn garbage_frame_breaks_the_receiving_link_and_counts_a_decrypt_failure() {
    within(async {
        let (mut client, server, _keep) = sessions().await;
        // A frame of the right shape whose body is 64 pseudo-random bytes.
        let mut x: u32 = 0x9e37_79b9;
        let mut frame = vec![0, 64];
        frame.extend((0..64).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        }));
        client.raw_writer().write_all(&frame).await.unwrap();
        let server = Side::spawn(server, SessionConfig::default());
        let client = Side::spawn(client, SessionConfig::default());
        let end = server.link.closed().await;
        assert!(matches!(end, LinkEnd::Broken(_)), "{end:?}");
        assert_eq!(server.stats().decrypt_failures, 1);
        assert_eq!(server.stats().protocol_violations, 0);
        // The client sees its peer go.
        let end = client.link.closed().await;
        assert!(
            matches!(end, LinkEnd::PeerGone | LinkEnd::Broken(_)),
            "{end:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_malformed_record_is_a_violation_answered_with_close_2() {
    within(async {
        let (mut client, server, _keep) = sessions().await;
        // A well-encrypted frame whose record has an unknown kind (9).
        client.send(&[9]).await.unwrap();
        let server = Side::spawn(server, SessionConfig::default());
        let end = server.link.closed().await;
        assert!(matches!(end, LinkEnd::Violation(_)), "{end:?}");
        assert_eq!(server.stats().protocol_violations, 1);
        assert_eq!(server.stats().decrypt_failures, 0);
        // The server said why before it hung up: CLOSE with reason 2.
        let close = client.recv().await.unwrap();
        assert_eq!(
            Record::decode(&close),
            Ok(Record::Close {
                reason: CloseReason::Violation
            })
        );
    })
    .await;
}

#[tokio::test]
async fn a_message_after_the_peers_close_is_a_violation() {
    within(async {
        let (mut client, server, _keep) = sessions().await;
        let close = Record::Close {
            reason: CloseReason::Normal,
        };
        client.send(&close.encode()).await.unwrap();
        let msg = Record::Msg {
            id: 1,
            request: false,
            protocol: PROTO,
            total: 1,
            chunk: b"x",
        };
        client.send(&msg.encode()).await.unwrap();
        let server = Side::spawn(server, SessionConfig::default());
        let _inbox = server.router.serve(PROTO, 4).unwrap();
        let end = server.link.closed().await;
        assert!(matches!(end, LinkEnd::Violation(_)), "{end:?}");
        assert_eq!(server.stats().messages_delivered, 0);
    })
    .await;
}

#[tokio::test]
async fn a_delivered_receipt_for_a_request_does_not_end_the_wait() {
    within(async {
        let (client, mut server, _keep) = sessions().await;
        let client = Side::spawn(client, SessionConfig::default());
        let asking = tokio::spawn({
            let link = client.link.clone();
            async move { link.request(PROTO, b"q".to_vec()).await }
        });
        // The raw server reads the request, sends RECEIPT 0 (not what a
        // Rust node sends), then the RESPONSE.
        let request = server.recv().await.unwrap();
        let Ok(Record::Msg {
            id, request: true, ..
        }) = Record::decode(&request)
        else {
            panic!("expected a request, got {request:?}");
        };
        let receipt = Record::Receipt {
            id,
            status: session::ReceiptStatus::Delivered,
        };
        server.send(&receipt.encode()).await.unwrap();
        let response = Record::Response {
            id,
            status: ResponseStatus::Ok,
            total: 1,
            chunk: b"a",
        };
        server.send(&response.encode()).await.unwrap();
        assert_eq!(asking.await.unwrap().unwrap(), b"a");
    })
    .await;
}

/// Regression: a link's `CLOSE` used to count as sent once encrypted into
/// its write buffer; a frame arriving while that buffer waited for room in
/// the socket then ended the link, and the buffer (the tail of a large
/// response, and the `CLOSE`) was dropped unsent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_is_written_even_when_the_socket_is_full() {
    const ANSWER: usize = 8 << 20;
    within_for(HEAVY_DEADLINE, async {
        let (raw, server, _keep) = sessions_with(Some(64 * 1024)).await;
        let (mut reader, mut writer, _) = raw.into_parts();
        let config = SessionConfig::default()
            .with_max_message_bytes(ANSWER)
            .with_close_grace(Duration::from_secs(8));
        let server = Side::spawn(server, config);
        let mut inbox = server.router.serve(PROTO, 1).unwrap();
        let request = Record::Msg {
            id: 1,
            request: true,
            protocol: PROTO,
            total: 3,
            chunk: b"big",
        };
        writer.send(&request.encode()).await.unwrap();
        let incoming = inbox.recv().await.unwrap();
        let answer = incoming.responder.unwrap().respond(pattern(ANSWER));
        answer.await.unwrap();
        // The server's writer now waits for this side to read.
        tokio::time::sleep(QUIET).await;
        server.link.close();
        let close = Record::Close {
            reason: CloseReason::Normal,
        };
        writer.send(&close.encode()).await.unwrap();
        // Read everything, sending a PING after each frame (a peer may
        // still send PINGs, receipts and responses after its CLOSE).
        let (mut answered, mut closed) = (0, false);
        for token in 0.. {
            let plain = match reader.recv().await {
                Ok(plain) => plain,
                Err(SessionError::PeerClosed) => break,
                Err(e) => panic!("after {answered} bytes of the answer: {e:?}"),
            };
            match Record::decode(&plain).unwrap() {
                Record::Response {
                    id: 1,
                    status: ResponseStatus::Ok,
                    chunk,
                    ..
                }
                | Record::More { id: 1, chunk } => answered += chunk.len(),
                Record::Close { .. } => closed = true,
                Record::Pong { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
            if !closed {
                let _ = writer.send(&Record::Ping { token }.encode()).await;
            }
        }
        assert_eq!(answered, ANSWER);
        assert!(closed, "the server's CLOSE never came");
        assert_eq!(server.link.closed().await, LinkEnd::Closed);
    })
    .await;
}

// ---------------------------------------------------------------------------
// The server's limits on upgrades and handshakes

/// A server accepting sessions with `config`, a client node and the server's id.
async fn limited_server(
    config: TransportConfig,
) -> (
    Server,
    mpsc::Receiver<Session>,
    mpsc::Receiver<InboundEvent>,
    Node,
    PeerId,
) {
    let server_node = Node::new();
    let (server, sessions, events) = session_server(&server_node, config).await;
    (server, sessions, events, Node::new(), server_node.id())
}

#[tokio::test]
async fn upgrade_addressed_to_another_id_is_refused_wrong_peer() {
    within(async {
        let (server, mut sessions, _events, client, _) =
            limited_server(TransportConfig::default()).await;
        let err = dial(&client, server.local_addr(), Node::new().id())
            .await
            .unwrap_err();
        assert!(matches!(err, HandshakeError::Io(_)), "{err:?}");
        let stats = stats_when(&server, |s| s.rejected_upgrade_wrong_peer == 1).await;
        assert_eq!(stats.sessions_accepted, 0);
        assert!(sessions.try_recv().is_err());
    })
    .await;
}

#[tokio::test]
async fn max_sessions_refuses_upgrades_until_the_held_session_ends() {
    within(async {
        let config = TransportConfig::default().with_max_sessions(1);
        let (server, mut sessions, _events, client, server_id) = limited_server(config).await;
        let addr = server.local_addr();
        let _first = dial(&client, addr, server_id).await.unwrap();
        let held = sessions.recv().await.unwrap();
        assert_eq!(server.session_slots().in_use(), 1);

        let err = dial(&client, addr, server_id).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Io(_)), "{err:?}");
        let stats = stats_when(&server, |s| s.rejected_session_limit == 1).await;
        assert_eq!(stats.sessions_accepted, 1);

        // Dropping the server's session gives its slot back.
        drop(held);
        assert_eq!(server.session_slots().in_use(), 0);
        dial(&client, addr, server_id).await.unwrap();
        assert_eq!(server.stats().rejected_session_limit, 1);
    })
    .await;
}

#[tokio::test]
async fn one_source_holds_at_most_max_sessions_per_source() {
    within(async {
        let config = TransportConfig::default().with_max_sessions_per_source(2);
        let (server, mut sessions, _events, client, server_id) = limited_server(config).await;
        let addr = server.local_addr();
        let mut held = Vec::new();
        for _ in 0..2 {
            dial(&client, addr, server_id).await.unwrap();
            held.push(sessions.recv().await.unwrap());
        }
        // A third from 127.0.0.1, even under a fresh id, is refused.
        let err = dial(&Node::new(), addr, server_id).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Io(_)), "{err:?}");
        stats_when(&server, |s| s.rejected_session_limit == 1).await;
        held.pop();
        dial(&client, addr, server_id).await.unwrap();
        stats_when(&server, |s| s.sessions_accepted == 3).await;
    })
    .await;
}

#[tokio::test]
async fn handshake_rate_refuses_a_second_handshake_within_the_second() {
    within(async {
        let config = TransportConfig::default().with_handshake_rate_per_sec(1);
        let (server, _sessions, _events, client, server_id) = limited_server(config).await;
        let addr = server.local_addr();
        dial(&client, addr, server_id).await.unwrap();
        let err = dial(&client, addr, server_id).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Io(_)), "{err:?}");
        let stats = stats_when(&server, |s| s.rejected_handshake_rate_limited == 1).await;
        assert_eq!(stats.sessions_accepted, 1);
    })
    .await;
}

#[tokio::test]
async fn session_line_after_a_hello_is_a_bad_upgrade() {
    within(async {
        let (server, mut sessions, _events, client, server_id) =
            limited_server(TransportConfig::default()).await;
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream
            .write_all(hello_line(&client.id()).as_bytes())
            .await
            .unwrap();
        let mut ack = [0u8; 4];
        stream.read_exact(&mut ack).await.unwrap();
        assert_eq!(&ack, b"ACK\n");
        let upgrade = UpgradeRequest {
            from: client.id(),
            to: server_id,
        };
        stream.write_all(upgrade.encode().as_bytes()).await.unwrap();
        // Closed without a reply.
        assert!(read_until_closed(&mut stream).await.is_empty());
        let stats = stats_when(&server, |s| s.rejected_bad_upgrade == 1).await;
        assert_eq!((stats.hellos, stats.sessions_accepted), (1, 0));
        assert!(sessions.try_recv().is_err());
    })
    .await;
}

#[tokio::test]
async fn server_without_sessions_answers_ack_so_initiate_is_unsupported() {
    within(async {
        let server_node = Node::new();
        let (event_tx, _events) = mpsc::channel(16);
        let server = Listener::bind(loopback(), TransportConfig::default())
            .await
            .unwrap()
            .with_identity(Arc::clone(&server_node.identity))
            .serve(event_tx);
        let err = dial(&Node::new(), server.local_addr(), server_node.id())
            .await
            .unwrap_err();
        assert!(matches!(err, HandshakeError::Unsupported), "{err:?}");
        assert_eq!(server.stats().sessions_accepted, 0);
    })
    .await;
}

#[tokio::test]
async fn stalled_handshake_is_cut_by_handshake_timeout() {
    within(async {
        let timeout = Duration::from_millis(200);
        let config = TransportConfig::default().with_handshake_timeout(timeout);
        let (server, _sessions, _events, client, server_id) = limited_server(config).await;
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        let upgrade = UpgradeRequest {
            from: client.id(),
            to: server_id,
        };
        stream.write_all(upgrade.encode().as_bytes()).await.unwrap();
        let mut ok = vec![0u8; SESSION_OK_LINE.len()];
        stream.read_exact(&mut ok).await.unwrap();
        assert_eq!(ok, SESSION_OK_LINE.as_bytes());
        // Then nothing: the server gives up after the timeout.
        let started = Instant::now();
        assert!(read_until_closed(&mut stream).await.is_empty());
        assert!(started.elapsed() >= timeout - Duration::from_millis(50));
        let stats = stats_when(&server, |s| s.rejected_handshake_failed == 1).await;
        assert_eq!(stats.sessions_accepted, 0);
    })
    .await;
}

// ---------------------------------------------------------------------------
// A relay between the peers

/// A TCP proxy on 127.0.0.1 that forwards one connection to `target`,
/// bytes unchanged both ways.
async fn relay(target: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut inbound, _) = listener.accept().await.unwrap();
        let mut outbound = TcpStream::connect(target).await.unwrap();
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    });
    addr
}

#[tokio::test]
async fn initiate_through_a_relay_fails_address_mismatch() {
    within(async {
        let (server, mut sessions, _events, client, server_id) =
            limited_server(TransportConfig::default()).await;
        let relay_addr = relay(server.local_addr()).await;
        match dial(&client, relay_addr, server_id).await {
            Err(HandshakeError::AddressMismatch { expected, got }) => {
                assert_eq!((expected, got), (relay_addr, server.local_addr()));
            }
            other => panic!("expected AddressMismatch, got {other:?}"),
        }
        // The initiator detects it first (before message 3, `docs/wire.md`
        // §3.8.3) and hangs up: the server sees a handshake cut short.
        let stats = stats_when(&server, |s| s.rejected_handshake_failed == 1).await;
        assert_eq!(
            (stats.rejected_address_mismatch, stats.sessions_accepted),
            (0, 0)
        );
        assert!(sessions.try_recv().is_err());
    })
    .await;
}

/// Writes one handshake frame (2-byte big-endian length, body).
async fn write_frame(stream: &mut TcpStream, body: &[u8]) {
    let mut frame = (body.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    stream.write_all(&frame).await.unwrap();
}

/// An initiator that skips its own check of the responder's payload (as a
/// non-conforming peer behind a relay would) and completes the handshake,
/// signing the addresses its socket sees.
async fn unchecking_initiator(mut stream: TcpStream, node: &Node, to: PeerId) {
    let upgrade = UpgradeRequest {
        from: node.id(),
        to,
    };
    stream.write_all(upgrade.encode().as_bytes()).await.unwrap();
    let mut ok = vec![0u8; SESSION_OK_LINE.len()];
    stream.read_exact(&mut ok).await.unwrap();
    assert_eq!(ok, SESSION_OK_LINE.as_bytes());

    let builder = || snow::Builder::new(NOISE_PROTOCOL.parse().unwrap());
    let keys = builder().generate_keypair().unwrap();
    let mut noise = builder()
        .local_private_key(&keys.private)
        .and_then(|b| b.prologue(PROLOGUE))
        .and_then(|b| b.build_initiator())
        .unwrap();
    let (mut out, mut payload) = (vec![0u8; 65_535], vec![0u8; 65_535]);
    let n = noise.write_message(&[], &mut out).unwrap();
    write_frame(&mut stream, &out[..n]).await;
    let len = usize::from(stream.read_u16().await.unwrap());
    let mut message = vec![0u8; len];
    stream.read_exact(&mut message).await.unwrap();
    noise.read_message(&message, &mut payload).unwrap();
    let public: [u8; 32] = keys.public.as_slice().try_into().unwrap();
    let (local, peer) = (stream.local_addr().unwrap(), stream.peer_addr().unwrap());
    let ours = BindingPayload::sign(&node.identity, &public, local, peer, 0).encode();
    let n = noise.write_message(&ours, &mut out).unwrap();
    write_frame(&mut stream, &out[..n]).await;
    let _ = read_until_closed(&mut stream).await;
}

#[tokio::test]
async fn server_counts_address_mismatch_from_an_initiator_behind_a_relay() {
    within(async {
        let (server, mut sessions, _events, client, server_id) =
            limited_server(TransportConfig::default()).await;
        let relay_addr = relay(server.local_addr()).await;
        let stream = TcpStream::connect(relay_addr).await.unwrap();
        unchecking_initiator(stream, &client, server_id).await;
        let stats = stats_when(&server, |s| s.rejected_address_mismatch == 1).await;
        assert_eq!(
            (stats.rejected_handshake_failed, stats.sessions_accepted),
            (0, 0)
        );
        assert!(sessions.try_recv().is_err());
    })
    .await;
}
