//! Encrypted sessions over loopback TCP (`docs/wire.md` §3.8): the upgrade,
//! the bound Noise XX handshake, and the frame layer.

use std::net::SocketAddr;
use std::time::Duration;

use tazcom_identity::{Identity, PeerId};
use tazcom_transport::session::{
    self, HandshakeError, NoiseKeys, Session, SessionError, UpgradeRequest, MAX_PLAINTEXT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const TIMEOUT: Duration = Duration::from_secs(5);

struct Peer {
    identity: Identity,
    keys: NoiseKeys,
}

impl Peer {
    fn new() -> Peer {
        Peer {
            identity: Identity::generate(),
            keys: NoiseKeys::generate().expect("noise keys"),
        }
    }

    fn id(&self) -> PeerId {
        self.identity.peer_id()
    }
}

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Reads one line byte by byte (so nothing after the `\n` is consumed).
async fn read_line(stream: &mut TcpStream) -> String {
    let mut line = Vec::new();
    while line.last() != Some(&b'\n') {
        line.push(stream.read_u8().await.expect("read upgrade line"));
    }
    String::from_utf8(line).expect("utf-8")
}

/// A responder on `listener`: accepts one connection, reads and checks the
/// upgrade line, then runs `respond` with the line's `from` (or `from`).
fn responder(
    listener: TcpListener,
    peer: Peer,
    from: Option<PeerId>,
) -> JoinHandle<Result<Session, HandshakeError>> {
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let line = read_line(&mut stream).await;
        let request = UpgradeRequest::parse(&line).expect("valid upgrade line");
        assert_eq!(request.to, peer.id());
        let from = from.unwrap_or(request.from);
        session::respond(stream, &peer.identity, &peer.keys, from, 0, TIMEOUT).await
    })
}

async fn initiate(
    peer: &Peer,
    addr: SocketAddr,
    expected: PeerId,
) -> Result<Session, HandshakeError> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    session::initiate(stream, &peer.identity, &peer.keys, expected, 0, TIMEOUT).await
}

async fn pair() -> (Session, Session) {
    let (alice, bob) = (Peer::new(), Peer::new());
    let bob_id = bob.id();
    let (listener, addr) = listen().await;
    let task = responder(listener, bob, None);
    let a = initiate(&alice, addr, bob_id).await.expect("initiator");
    let b = task.await.expect("task").expect("responder");
    assert_eq!(a.peer(), bob_id);
    assert_eq!(b.peer(), alice.id());
    assert_eq!(a.remote_addr(), addr);
    (a, b)
}

#[tokio::test]
async fn handshake_then_frames_both_ways() {
    let (mut a, mut b) = pair().await;
    a.send(b"hello bob").await.unwrap();
    assert_eq!(b.recv().await.unwrap(), b"hello bob");
    b.send(b"").await.unwrap();
    assert_eq!(a.recv().await.unwrap(), b"");

    // The largest frame, both ways; `recv` on the other side runs concurrently
    // so that neither write blocks on a full socket buffer.
    let big: Vec<u8> = (0..MAX_PLAINTEXT).map(|i| i as u8).collect();
    assert_eq!(big.len(), 65_519);
    let (sent, got) = tokio::join!(a.send(&big), b.recv());
    sent.unwrap();
    assert_eq!(got.unwrap(), big);
    let (sent, got) = tokio::join!(b.send(&big), a.recv());
    sent.unwrap();
    assert_eq!(got.unwrap(), big);

    // One byte more is refused locally; the session stays usable.
    let too_big = vec![0u8; MAX_PLAINTEXT + 1];
    assert!(matches!(
        a.send(&too_big).await,
        Err(SessionError::TooLarge {
            len: 65_520,
            max: 65_519
        })
    ));
    assert!(!a.is_closed());
    for i in 0..10u8 {
        a.send(&[i; 3]).await.unwrap();
    }
    for i in 0..10u8 {
        assert_eq!(b.recv().await.unwrap(), [i; 3]);
    }

    // A clean close between frames.
    drop(a);
    assert!(matches!(b.recv().await, Err(SessionError::PeerClosed)));
}

#[tokio::test]
async fn initiator_expecting_another_id_gets_wrong_peer() {
    let (alice, bob, carol) = (Peer::new(), Peer::new(), Peer::new());
    let (listener, addr) = listen().await;
    // Bob answers although the line names Carol (a stale discovery record:
    // another node now listens at the address). A real server would close on
    // the wrong `to`; this one goes ahead, so the handshake must catch it.
    let bob_task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let line = read_line(&mut stream).await;
        let request = UpgradeRequest::parse(&line).expect("valid line");
        session::respond(stream, &bob.identity, &bob.keys, request.from, 0, TIMEOUT).await
    });
    match initiate(&alice, addr, carol.id()).await {
        Err(HandshakeError::WrongPeer { expected, found }) => {
            assert_eq!(expected, carol.id());
            assert_ne!(found, carol.id());
        }
        other => panic!("expected WrongPeer, got {other:?}"),
    }
    // Bob sees the initiator give up.
    assert!(bob_task.await.unwrap().is_err());
}

#[tokio::test]
async fn responder_requires_the_upgrade_lines_from() {
    let (alice, bob, carol) = (Peer::new(), Peer::new(), Peer::new());
    let bob_id = bob.id();
    let (listener, addr) = listen().await;
    let task = responder(listener, bob, Some(carol.id()));
    let _ = initiate(&alice, addr, bob_id).await;
    assert!(matches!(
        task.await.unwrap(),
        Err(HandshakeError::WrongPeer { .. })
    ));
}

#[tokio::test]
async fn prototype_ack_gives_unsupported() {
    let alice = Peer::new();
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let _ = read_line(&mut stream).await;
        stream.write_all(b"ACK\n").await.expect("write ACK");
        // The prototype closes after one line.
    });
    let err = initiate(&alice, addr, Peer::new().id()).await.unwrap_err();
    assert!(matches!(err, HandshakeError::Unsupported), "{err:?}");
}

#[tokio::test]
async fn other_reply_gives_bad_reply() {
    let alice = Peer::new();
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let _ = read_line(&mut stream).await;
        stream
            .write_all(b"{\"type\":\"NOPE\"}\n")
            .await
            .expect("write");
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    let err = initiate(&alice, addr, Peer::new().id()).await.unwrap_err();
    assert!(matches!(err, HandshakeError::BadReply { .. }), "{err:?}");
}

#[tokio::test]
async fn relay_fails_with_address_mismatch() {
    let (alice, bob) = (Peer::new(), Peer::new());
    let bob_id = bob.id();
    let (listener, bob_addr) = listen().await;
    let bob_task = responder(listener, bob, None);

    // The relay: accepts Alice, dials Bob, copies bytes both ways unchanged.
    let (relay, relay_addr) = listen().await;
    tokio::spawn(async move {
        let (mut inbound, _) = relay.accept().await.expect("relay accept");
        let mut outbound = TcpStream::connect(bob_addr).await.expect("relay connect");
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    });

    match initiate(&alice, relay_addr, bob_id).await {
        Err(HandshakeError::AddressMismatch { expected, got }) => {
            // Bob signed his real address; Alice dialled the relay's.
            assert_eq!(expected, relay_addr);
            assert_eq!(got, bob_addr);
        }
        other => panic!("expected AddressMismatch, got {other:?}"),
    }
    assert!(bob_task.await.unwrap().is_err());
}

#[tokio::test]
async fn silent_responder_times_out() {
    let alice = Peer::new();
    let (listener, addr) = listen().await;
    let hold = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(stream);
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    let timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let err = session::initiate(
        stream,
        &alice.identity,
        &alice.keys,
        Peer::new().id(),
        0,
        timeout,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, HandshakeError::Timeout { after } if after == timeout),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    hold.abort();
}

#[tokio::test]
async fn corrupted_frame_fails_decryption_and_closes() {
    let (mut a, mut b) = pair().await;
    a.send(b"first").await.unwrap();
    assert_eq!(b.recv().await.unwrap(), b"first");

    // A frame of the right shape whose ciphertext is garbage.
    let mut raw = vec![0u8, 24];
    raw.extend_from_slice(&[0x5a; 24]);
    a.raw_writer().write_all(&raw).await.unwrap();
    assert!(matches!(b.recv().await, Err(SessionError::Decrypt(_))));
    assert!(b.is_closed());
    assert!(matches!(b.recv().await, Err(SessionError::Closed)));
    assert!(matches!(b.send(b"x").await, Err(SessionError::Closed)));
}

#[tokio::test]
async fn zero_length_frame_closes_the_session() {
    let (mut a, mut b) = pair().await;
    a.send(b"one").await.unwrap();
    assert_eq!(b.recv().await.unwrap(), b"one");
    a.raw_writer().write_all(&[0, 0]).await.unwrap();
    assert!(matches!(b.recv().await, Err(SessionError::EmptyFrame)));
    assert!(b.is_closed());
}

/// The listen port each side signs (`docs/wire.md` §3.8.4): the initiator
/// learns nothing new (it dialled the address); the responder learns the
/// initiator's listen address (its source IP, the signed port), or nothing
/// when it signed 0.
#[tokio::test]
async fn the_responder_learns_the_initiators_listen_address() {
    for (signed, want) in [(7000u16, Some(7000u16)), (0, None)] {
        let (alice, bob) = (Peer::new(), Peer::new());
        let bob_id = bob.id();
        let (listener, addr) = listen().await;
        let task = responder(listener, bob, None);
        let stream = TcpStream::connect(addr).await.expect("connect");
        let a = session::initiate(
            stream,
            &alice.identity,
            &alice.keys,
            bob_id,
            signed,
            TIMEOUT,
        )
        .await
        .expect("initiator");
        let b = task.await.expect("task").expect("responder");
        assert_eq!(a.peer_listen_addr(), Some(addr), "the dialled address");
        let expected = want.map(|port| SocketAddr::new(b.remote_addr().ip(), port));
        assert_eq!(b.peer_listen_addr(), expected, "signed {signed}");
    }
}
