//! Server behaviour on 127.0.0.1: framing limits, rejections, keep-alive,
//! concurrency, back-pressure and shutdown.

mod common;

use std::time::Duration;

use common::{hello_line, peer, raw_exchange, read_until_closed, start, stats_when, TEST_DEADLINE};
use tazcom_transport::{send_hello, InboundEvent, Listener, TransportConfig, TransportStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// A valid HELLO line padded with an extra field to exactly `total` bytes,
/// newline included.
fn padded_hello(total: usize) -> Vec<u8> {
    let prefix = format!("{{\"type\":\"HELLO\",\"from\":\"{}\",\"pad\":\"", peer(1));
    let pad = total - prefix.len() - "\"}\n".len();
    format!("{prefix}{}\"}}\n", "x".repeat(pad)).into_bytes()
}

fn short_timeouts() -> TransportConfig {
    TransportConfig::default().with_read_timeout(Duration::from_millis(200))
}

#[tokio::test]
async fn line_of_exactly_1024_bytes_is_acked() {
    let (server, mut events) = start(TransportConfig::default()).await;
    let line = padded_hello(1024);
    assert_eq!(line.len(), 1024);
    assert_eq!(
        raw_exchange(server.local_addr(), &line, true).await,
        b"ACK\n"
    );
    assert!(
        matches!(events.recv().await, Some(InboundEvent::Hello { from, .. }) if from == peer(1))
    );
    let stats = server.stats();
    assert_eq!((stats.hellos, stats.lines_acked), (1, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn line_of_1025_bytes_is_closed_without_ack() {
    let (server, _events) = start(TransportConfig::default()).await;
    let line = padded_hello(1025);
    assert!(raw_exchange(server.local_addr(), &line, false)
        .await
        .is_empty());
    let stats = server.stats();
    assert_eq!(stats.rejected_too_large, 1);
    assert_eq!((stats.hellos, stats.lines_acked), (0, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn custom_line_limit_is_enforced_at_the_boundary() {
    let config = TransportConfig::default().with_max_line_bytes(256);
    let (server, _events) = start(config).await;
    assert_eq!(
        raw_exchange(server.local_addr(), &padded_hello(256), true).await,
        b"ACK\n"
    );
    assert!(raw_exchange(server.local_addr(), &padded_hello(257), false)
        .await
        .is_empty());
    let stats = server.stats();
    assert_eq!((stats.lines_acked, stats.rejected_too_large), (1, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_lines_are_closed_without_ack_and_counted() {
    let (server, _events) = start(TransportConfig::default()).await;
    let addr = server.local_addr();
    let short_from = format!("{{\"type\":\"HELLO\",\"from\":\"{}\"}}\n", "a".repeat(63));
    type Counter = fn(&TransportStats) -> u64;
    let cases: [(&[u8], &str, Counter); 6] = [
        (b"{\"type\":\"\xff\"}\n", "bad UTF-8", |s| {
            s.rejected_bad_utf8
        }),
        (b"hello there\n", "not JSON", |s| s.rejected_not_json),
        (b"[\"HELLO\"]\n", "JSON array", |s| s.rejected_not_object),
        (b"{\"from\":\"ab\"}\n", "missing type", |s| {
            s.rejected_missing_type
        }),
        (b"{\"type\":1}\n", "non-string type", |s| {
            s.rejected_missing_type
        }),
        (short_from.as_bytes(), "63-char from", |s| {
            s.rejected_invalid_message
        }),
    ];
    for (line, name, counter) in cases {
        let before = counter(&server.stats());
        let reply = raw_exchange(addr, line, false).await;
        assert!(reply.is_empty(), "{name}: got reply {reply:?}");
        assert_eq!(
            counter(&server.stats()),
            before + 1,
            "{name}: counter not incremented"
        );
        // The server keeps serving other clients.
        send_hello(addr, &peer(9), &TransportConfig::default())
            .await
            .unwrap_or_else(|e| panic!("after {name}: {e}"));
    }
    let stats = stats_when(&server, |s| s.lines_acked == 6).await;
    assert_eq!(stats.rejected_total(), 6);
    server.shutdown().await;
}

#[tokio::test]
async fn eof_in_the_middle_of_a_line_is_counted() {
    let (server, _events) = start(TransportConfig::default()).await;
    let reply = raw_exchange(server.local_addr(), b"{\"type\":\"HELLO\"", true).await;
    assert!(reply.is_empty());
    let stats = server.stats();
    assert_eq!((stats.rejected_eof_mid_line, stats.lines_acked), (1, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn silent_and_slow_connections_time_out() {
    let (server, _events) = start(short_timeouts()).await;
    // Silent: nothing at all. Slow: part of a line, then silence.
    for partial in [&b""[..], b"{\"type\":"] {
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream.write_all(partial).await.unwrap();
        assert!(read_until_closed(&mut stream).await.is_empty());
    }
    assert_eq!(server.stats().rejected_read_timeout, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_type_is_acked_and_counted() {
    let (server, mut events) = start(TransportConfig::default()).await;
    assert_eq!(
        raw_exchange(server.local_addr(), b"{\"type\":\"STATUS\"}\n", true).await,
        b"ACK\n"
    );
    let stats = server.stats();
    assert_eq!(
        (stats.unknown_types, stats.lines_acked, stats.hellos),
        (1, 1, 0)
    );
    server.shutdown().await;
    assert!(
        events.recv().await.is_none(),
        "an unknown type must not produce an event"
    );
}

#[tokio::test]
async fn prototype_client_with_half_close_gets_exactly_ack() {
    let (server, mut events) = start(TransportConfig::default()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let client_addr = stream.local_addr().unwrap();
    stream
        .write_all(hello_line(&peer(0x5a)).as_bytes())
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    assert_eq!(read_until_closed(&mut stream).await, b"ACK\n");
    let event = events.recv().await.unwrap();
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
    assert_eq!((from, remote), (peer(0x5a), client_addr));
    assert!(!verified, "a legacy HELLO proves nothing");
    assert_eq!(listen_port, None);
    server.shutdown().await;
}

#[tokio::test]
async fn prototype_client_reading_ack_then_closing_is_served() {
    let (server, _events) = start(TransportConfig::default()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(hello_line(&peer(3)).as_bytes())
        .await
        .unwrap();
    let mut ack = [0u8; 4];
    timeout(TEST_DEADLINE, stream.read_exact(&mut ack))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&ack, b"ACK\n");
    drop(stream);
    let stats = stats_when(&server, |s| s.lines_acked == 1).await;
    assert_eq!(stats.rejected_total(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn several_lines_on_one_connection_are_acked_in_order() {
    let (server, mut events) = start(TransportConfig::default()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    // One at a time, reading each ACK.
    for byte in 1..=3 {
        stream
            .write_all(hello_line(&peer(byte)).as_bytes())
            .await
            .unwrap();
        let mut ack = [0u8; 4];
        timeout(TEST_DEADLINE, stream.read_exact(&mut ack))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&ack, b"ACK\n");
    }
    // Pipelined in one write, then a bad line that ends the connection.
    let mut batch = hello_line(&peer(4)).into_bytes();
    batch.extend_from_slice(b"{\"type\":\"STATUS\"}\n");
    batch.extend_from_slice(hello_line(&peer(5)).as_bytes());
    batch.extend_from_slice(b"garbage\n");
    batch.extend_from_slice(hello_line(&peer(6)).as_bytes());
    stream.write_all(&batch).await.unwrap();
    assert_eq!(read_until_closed(&mut stream).await, b"ACK\nACK\nACK\n");
    for byte in [1, 2, 3, 4, 5] {
        let event = events.recv().await.unwrap();
        assert!(matches!(event, InboundEvent::Hello { from, .. } if from == peer(byte)));
    }
    let stats = server.stats();
    assert_eq!(
        (stats.lines_acked, stats.hellos, stats.unknown_types),
        (6, 5, 1)
    );
    assert_eq!(stats.rejected_not_json, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn fifty_concurrent_clients_are_all_acked() {
    // All from 127.0.0.1: lift the per-source limits (16 connections, a
    // burst of 20 HELLOs by default) that would otherwise apply.
    let config = TransportConfig::default()
        .with_max_connections_per_source(64)
        .with_hello_rate_burst(64);
    let (server, mut events) = start(config).await;
    let addr = server.local_addr();
    let clients: Vec<_> = (0..50u8)
        .map(|i| {
            tokio::spawn(
                async move { send_hello(addr, &peer(i), &TransportConfig::default()).await },
            )
        })
        .collect();
    for client in clients {
        timeout(TEST_DEADLINE, client)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        if let Some(InboundEvent::Hello { from, .. }) = events.recv().await {
            seen.insert(from);
        }
    }
    assert_eq!(seen.len(), 50);
    let stats = stats_when(&server, |s| s.lines_acked == 50).await;
    assert_eq!((stats.connections_accepted, stats.hellos), (50, 50));
    server.shutdown().await;
}

/// Issue 13: a connection beyond `max_connections` is no longer parked in
/// the OS backlog (where it timed out behind idle holders): it is accepted
/// and, when no source holds two more slots than its own, closed at once
/// and counted; the held connection is untouched.
#[tokio::test]
async fn connections_beyond_max_connections_are_refused_at_once() {
    let config = TransportConfig::default().with_max_connections(1);
    let (server, _events) = start(config).await;
    let addr = server.local_addr();
    let mut first = TcpStream::connect(addr).await.unwrap();
    stats_when(&server, |s| s.connections_accepted == 1).await;
    let second = send_hello(addr, &peer(2), &TransportConfig::default()).await;
    assert!(second.is_err(), "the only slot is taken: {second:?}");
    let stats = stats_when(&server, |s| s.rejected_connection_limit == 1).await;
    assert_eq!(stats.connections_evicted, 0);
    first
        .write_all(hello_line(&peer(1)).as_bytes())
        .await
        .unwrap();
    first.shutdown().await.unwrap();
    assert_eq!(read_until_closed(&mut first).await, b"ACK\n");
    server.shutdown().await;
}

#[tokio::test]
async fn a_full_event_channel_delays_the_ack() {
    let listener = Listener::bind(common::loopback(), TransportConfig::default())
        .await
        .unwrap();
    let (tx, mut events) = tokio::sync::mpsc::channel(1);
    let server = listener.serve(tx);
    let addr = server.local_addr();
    let config = TransportConfig::default();
    send_hello(addr, &peer(1), &config).await.unwrap(); // fills the channel
    let blocked =
        tokio::spawn(async move { send_hello(addr, &peer(2), &TransportConfig::default()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !blocked.is_finished(),
        "ACK sent before the event was delivered"
    );
    assert!(
        matches!(events.recv().await, Some(InboundEvent::Hello { from, .. }) if from == peer(1))
    );
    timeout(TEST_DEADLINE, blocked)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(events.recv().await, Some(InboundEvent::Hello { from, .. }) if from == peer(2))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn hellos_are_still_acked_when_the_receiver_is_gone() {
    let (server, events) = start(TransportConfig::default()).await;
    drop(events);
    send_hello(server.local_addr(), &peer(1), &TransportConfig::default())
        .await
        .unwrap();
    let stats = stats_when(&server, |s| s.lines_acked == 1).await;
    assert_eq!(stats.events_undelivered, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn after_shutdown_the_port_refuses_connections() {
    let (server, _events) = start(TransportConfig::default()).await;
    let addr = server.local_addr();
    send_hello(addr, &peer(1), &TransportConfig::default())
        .await
        .unwrap();
    server.shutdown().await;
    let error = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn shutdown_closes_idle_connections_without_waiting_for_timeouts() {
    let config = TransportConfig::default()
        .with_read_timeout(Duration::from_secs(600))
        .with_shutdown_grace(Duration::from_secs(600));
    let (server, _events) = start(config).await;
    let mut idle = TcpStream::connect(server.local_addr()).await.unwrap();
    stats_when(&server, |s| s.connections_accepted == 1).await;
    timeout(TEST_DEADLINE, server.shutdown())
        .await
        .expect("shutdown waited on an idle connection");
    assert!(read_until_closed(&mut idle).await.is_empty());
}

#[tokio::test]
async fn shutdown_lets_a_line_in_progress_finish_within_the_grace() {
    let config = TransportConfig::default()
        .with_read_timeout(Duration::from_secs(600))
        .with_shutdown_grace(Duration::from_secs(600));
    let (server, _events) = start(config).await;
    let addr = server.local_addr();
    let line = hello_line(&peer(8));
    let (head, tail) = line.as_bytes().split_at(20);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    stats_when(&server, |s| s.connections_accepted == 1).await;
    let stopping = tokio::spawn(server.shutdown());
    // Wait until the listener is closed, i.e. shutdown has begun.
    timeout(TEST_DEADLINE, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    stream.write_all(tail).await.unwrap();
    assert_eq!(read_until_closed(&mut stream).await, b"ACK\n");
    timeout(TEST_DEADLINE, stopping).await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_aborts_a_stalled_line_after_the_grace() {
    let config = TransportConfig::default()
        .with_read_timeout(Duration::from_secs(600))
        .with_shutdown_grace(Duration::from_millis(200));
    let (server, _events) = start(config).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(b"{\"type\":").await.unwrap();
    stats_when(&server, |s| s.connections_accepted == 1).await;
    timeout(TEST_DEADLINE, server.shutdown())
        .await
        .expect("grace period not enforced");
    assert!(read_until_closed(&mut stream).await.is_empty());
}
