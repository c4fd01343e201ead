//! Shared helpers for the integration tests: loopback servers and raw sockets.

#![allow(dead_code)] // each test binary uses a different subset

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tazcom_identity::PeerId;
use tazcom_transport::{InboundEvent, Listener, Server, TransportConfig, TransportStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Upper bound for any single wait in a test, so a bug fails instead of hanging.
pub(crate) const TEST_DEADLINE: Duration = Duration::from_secs(10);

pub(crate) fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub(crate) fn peer(byte: u8) -> PeerId {
    PeerId::from_bytes([byte; 32])
}

pub(crate) fn hello_line(from: &PeerId) -> String {
    format!("{{\"type\":\"HELLO\",\"from\":\"{from}\"}}\n")
}

/// A served listener on 127.0.0.1 port 0 and the receiving end of its events.
pub(crate) async fn start(config: TransportConfig) -> (Server, mpsc::Receiver<InboundEvent>) {
    let listener = Listener::bind(loopback(), config)
        .await
        .expect("bind 127.0.0.1:0");
    let (tx, rx) = mpsc::channel(1024);
    (listener.serve(tx), rx)
}

/// Connects, writes `bytes`, half-closes if asked, and returns everything the
/// server sent until it closed (a reset counts as the end of the stream).
pub(crate) async fn raw_exchange(addr: SocketAddr, bytes: &[u8], half_close: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may close (and reset) before reading everything; ignore write errors.
    let _ = stream.write_all(bytes).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    read_until_closed(&mut stream).await
}

/// Reads until EOF or reset, within [`TEST_DEADLINE`].
pub(crate) async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(TEST_DEADLINE, stream.read_to_end(&mut received)).await;
    match read.expect("server did not close the connection in time") {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("unexpected read error: {e}"),
    }
    received
}

/// Polls `server.stats()` until `done` holds, failing after [`TEST_DEADLINE`].
/// Needed where the client can observe a reply before the server's counter moves.
pub(crate) async fn stats_when(
    server: &Server,
    done: impl Fn(&TransportStats) -> bool,
) -> TransportStats {
    let started = tokio::time::Instant::now();
    loop {
        let stats = server.stats();
        if done(&stats) {
            return stats;
        }
        assert!(
            started.elapsed() < TEST_DEADLINE,
            "stats never matched: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
