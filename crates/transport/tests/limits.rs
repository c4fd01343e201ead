//! Flood limits: per-line read deadline (slowloris), connections per
//! source, HELLO rate per source, and non-blocking rejection reports.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{hello_line, peer, read_until_closed, start, stats_when, TEST_DEADLINE};
use tazcom_transport::{
    send_hello, InboundEvent, Listener, RejectReason, TransportConfig, TransportError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, Instant};

/// Connects to `addr` from 127.0.0.`octet` (all of 127/8 is local on Linux).
async fn connect_from(octet: u8, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, octet), 0)))
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// Sends one HELLO line on `stream` and reads the 4-byte reply, if any.
async fn hello_on(stream: &mut TcpStream, byte: u8) -> Vec<u8> {
    let _ = stream.write_all(hello_line(&peer(byte)).as_bytes()).await;
    let mut reply = [0u8; 4];
    match timeout(TEST_DEADLINE, stream.read_exact(&mut reply)).await {
        Ok(Ok(_)) => reply.to_vec(),
        Ok(Err(_closed)) => Vec::new(),
        Err(_) => panic!("no reply and no close within the test deadline"),
    }
}

#[tokio::test]
async fn a_trickling_client_is_cut_at_the_line_deadline() {
    let read_timeout = Duration::from_millis(1000);
    let config = TransportConfig::default().with_read_timeout(read_timeout);
    let (server, _events) = start(config).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let line = hello_line(&peer(1));
    let started = Instant::now();
    // One byte every 100 ms: the 91-byte line would need 9 s. A deadline
    // reset by each byte would never fire; a per-line one fires at 1 s.
    for byte in line.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reply = read_until_closed(&mut stream).await;
    assert_eq!(reply, b"", "a trickled line must not be ACKed");
    let stats = stats_when(&server, |s| s.rejected_read_timeout == 1).await;
    assert_eq!(stats.lines_acked, 0);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the server kept the connection until the line was complete"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_per_source_cap_are_closed_at_once() {
    let config = TransportConfig::default().with_max_connections_per_source(2);
    let (server, mut events) = start(config).await;
    let addr = server.local_addr();
    let mut held = vec![connect_from(1, addr).await, connect_from(1, addr).await];
    stats_when(&server, |s| s.connections_open == 2).await;
    let mut third = connect_from(1, addr).await;
    assert_eq!(
        read_until_closed(&mut third).await,
        b"",
        "closed unanswered"
    );
    let stats = stats_when(&server, |s| s.rejected_per_source_limit == 1).await;
    assert_eq!((stats.connections_accepted, stats.connections_open), (3, 2));
    match timeout(TEST_DEADLINE, events.recv()).await.unwrap() {
        Some(InboundEvent::Rejected { reason, .. }) => {
            assert_eq!(reason, RejectReason::PerSourceLimit);
        }
        other => panic!("expected a per-source rejection, got {other:?}"),
    }
    // Another source is served, and so is this one once a slot frees.
    let mut other = connect_from(2, addr).await;
    assert_eq!(hello_on(&mut other, 2).await, b"ACK\n");
    assert_eq!(hello_on(&mut held[0], 1).await, b"ACK\n");
    held.truncate(1);
    stats_when(&server, |s| s.connections_open == 2).await;
    let mut again = connect_from(1, addr).await;
    assert_eq!(hello_on(&mut again, 3).await, b"ACK\n");
    assert!(server.stats().connections_peak <= 3);
    server.shutdown().await;
}

#[tokio::test]
async fn hellos_beyond_the_source_rate_are_rejected_without_ack() {
    let config = TransportConfig::default()
        .with_hello_rate_burst(3)
        .with_hello_rate_per_sec(1);
    let (server, _events) = start(config).await;
    let addr = server.local_addr();
    let mut stream = connect_from(1, addr).await;
    for byte in 1..=3 {
        assert_eq!(hello_on(&mut stream, byte).await, b"ACK\n");
    }
    assert_eq!(
        hello_on(&mut stream, 4).await,
        b"",
        "4th HELLO of the burst"
    );
    let mut fresh = connect_from(1, addr).await;
    assert_eq!(
        hello_on(&mut fresh, 5).await,
        b"",
        "the bucket is per source"
    );
    let mut other = connect_from(2, addr).await;
    assert_eq!(hello_on(&mut other, 6).await, b"ACK\n");
    let stats = stats_when(&server, |s| s.rejected_rate_limited == 2).await;
    assert_eq!((stats.hellos, stats.rejected_total()), (4, 2));
    server.shutdown().await;
}

/// Issue 13, slot lock-out: lines of an unknown type used to be ACKed for
/// free, so a source could hold connections open forever with them. They
/// now take from the same per-source bucket as HELLO, PING and BYE.
#[tokio::test]
async fn unknown_type_lines_take_from_the_source_bucket() {
    let config = TransportConfig::default()
        .with_hello_rate_burst(3)
        .with_hello_rate_per_sec(1);
    let (server, _events) = start(config).await;
    let mut stream = connect_from(3, server.local_addr()).await;
    let line = b"{\"type\":\"STATUS\",\"n\":1}\n";
    let mut reply = [0u8; 4];
    for n in 1..=3 {
        stream.write_all(line).await.unwrap();
        timeout(TEST_DEADLINE, stream.read_exact(&mut reply))
            .await
            .expect("a reply in time")
            .unwrap_or_else(|e| panic!("line {n} not ACKed: {e}"));
        assert_eq!(&reply, b"ACK\n", "line {n}");
    }
    stream.write_all(line).await.unwrap();
    let closed = timeout(TEST_DEADLINE, stream.read_exact(&mut reply)).await;
    assert!(
        matches!(closed, Ok(Err(_))),
        "4th line: closed without reply"
    );
    let stats = stats_when(&server, |s| s.rejected_rate_limited == 1).await;
    assert_eq!(stats.unknown_types, 3);
    server.shutdown().await;
}

/// Issue 13, slot lock-out: two sources hold every connection slot with
/// idle connections (one unknown-type line each, then nothing). A HELLO
/// from a third host is still answered at once: the oldest connection of a
/// source holding the most gives way (without eviction it would wait for an
/// attacker's 5 s read timeout).
#[tokio::test]
async fn a_full_server_makes_room_for_a_source_holding_fewer_slots() {
    let config = TransportConfig::default()
        .with_max_connections(8)
        .with_max_connections_per_source(4)
        .with_read_timeout(Duration::from_secs(5));
    let (server, _events) = start(config).await;
    let addr = server.local_addr();
    let mut holders = Vec::new();
    for octet in [2, 3] {
        for _ in 0..4 {
            let mut stream = connect_from(octet, addr).await;
            stream.write_all(b"{\"type\":\"STATUS\"}\n").await.unwrap();
            let mut ack = [0u8; 4];
            stream.read_exact(&mut ack).await.unwrap();
            holders.push(stream);
        }
    }
    stats_when(&server, |s| s.connections_open == 8).await;
    let started = std::time::Instant::now();
    let mut legit = connect_from(4, addr).await;
    assert_eq!(hello_on(&mut legit, 9).await, b"ACK\n");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered before any holder timed out: {:?}",
        started.elapsed()
    );
    let stats = stats_when(&server, |s| s.connections_evicted == 1).await;
    assert_eq!(stats.rejected_connection_limit, 0);
    assert!(stats.connections_peak <= 8, "{stats:?}");
    drop(holders);
    server.shutdown().await;
}

/// When every slot is taken by sources holding one each, nobody gives way:
/// the newcomer is closed at once and counted (`connection_limit`).
#[tokio::test]
async fn a_full_server_of_equal_sources_refuses_a_newcomer() {
    let config = TransportConfig::default()
        .with_max_connections(2)
        .with_max_connections_per_source(2);
    let (server, _events) = start(config).await;
    let addr = server.local_addr();
    let mut holders = Vec::new();
    for octet in [5, 6] {
        let mut stream = connect_from(octet, addr).await;
        assert_eq!(hello_on(&mut stream, octet).await, b"ACK\n");
        holders.push(stream);
    }
    stats_when(&server, |s| s.connections_open == 2).await;
    let mut newcomer = connect_from(7, addr).await;
    assert_eq!(hello_on(&mut newcomer, 7).await, b"", "closed unanswered");
    let stats = stats_when(&server, |s| s.rejected_connection_limit == 1).await;
    assert_eq!(stats.connections_evicted, 0);
    drop(holders);
    server.shutdown().await;
}

#[tokio::test]
async fn rejection_reports_never_wait_for_a_full_channel() {
    let listener = Listener::bind(common::loopback(), TransportConfig::default())
        .await
        .unwrap();
    let (tx, _unread) = tokio::sync::mpsc::channel(1);
    let server = listener.serve(tx);
    let addr = server.local_addr();
    for _ in 0..5 {
        let reply = common::raw_exchange(addr, b"not json\n", true).await;
        assert_eq!(reply, b"");
    }
    let stats = stats_when(&server, |s| s.rejected_not_json == 5).await;
    assert_eq!(stats.rejection_events_dropped, 4, "one fits in the channel");
    // HELLOs still wait for room (back-pressure), so this one is not ACKed
    // while the channel stays full.
    let config = TransportConfig::default().with_ack_timeout(Duration::from_millis(300));
    assert!(matches!(
        send_hello(addr, &peer(1), &config).await,
        Err(TransportError::Timeout { .. })
    ));
    server.shutdown().await;
}
