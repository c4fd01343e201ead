//! Client behaviour on 127.0.0.1: exact bytes sent, ACK checking and errors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{hello_line, loopback, peer, start, TEST_DEADLINE};
use tazcom_identity::Identity;
use tazcom_transport::config::MAX_TIMEOUT;
use tazcom_transport::error::TimeoutPhase;
use tazcom_transport::wire::FrameReader;
use tazcom_transport::{
    send_hello, send_line, send_signed_hello, ConfigError, Greeter, InboundEvent, Listener,
    TransportConfig, TransportError,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A raw server for one connection that behaves like the Python prototype:
/// reads one line (max 1024 bytes), answers `reply`, closes. Returns the line.
async fn one_shot_server(reply: Vec<u8>) -> (std::net::SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let (read_half, mut write_half) = stream.split();
        let mut reader = FrameReader::new(read_half, 1024);
        let line = reader.read_frame().await.unwrap().unwrap().to_vec();
        write_half.write_all(&reply).await.unwrap();
        write_half.shutdown().await.unwrap();
        line
    });
    (addr, task)
}

#[tokio::test]
async fn hello_bytes_are_exactly_what_the_prototype_expects() {
    let (addr, server) = one_shot_server(b"ACK\n".to_vec()).await;
    let me = peer(0xc3);
    let rtt = send_hello(addr, &me, &TransportConfig::default())
        .await
        .unwrap();
    assert!(rtt > Duration::ZERO);
    let received = server.await.unwrap();
    let expected = hello_line(&me);
    assert_eq!(received, expected.trim_end_matches('\n').as_bytes());
}

#[tokio::test]
async fn hello_to_a_rust_server_round_trips() {
    let (server, mut events) = start(TransportConfig::default()).await;
    send_hello(server.local_addr(), &peer(1), &TransportConfig::default())
        .await
        .unwrap();
    assert!(
        matches!(events.recv().await, Some(InboundEvent::Hello { from, .. }) if from == peer(1))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn closed_port_is_connection_refused() {
    let listener = Listener::bind(loopback(), TransportConfig::default())
        .await
        .unwrap();
    let addr = listener.local_addr();
    drop(listener);
    let error = send_hello(addr, &peer(1), &TransportConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::ConnectionRefused { addr: a } if a == addr),
        "{error}"
    );
}

#[tokio::test]
async fn silent_server_is_a_read_timeout() {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold the connection open without answering.
    let holder = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(TEST_DEADLINE).await;
        drop(stream);
    });
    let config = TransportConfig::default().with_ack_timeout(Duration::from_millis(200));
    let error = send_hello(addr, &peer(1), &config).await.unwrap_err();
    assert!(
        matches!(error, TransportError::Timeout { phase: TimeoutPhase::Read, after, .. } if after == Duration::from_millis(200)),
        "{error}"
    );
    holder.abort();
}

#[tokio::test]
async fn wrong_reply_is_bad_ack() {
    let (addr, _server) = one_shot_server(b"NOPE\n".to_vec()).await;
    let error = send_hello(addr, &peer(1), &TransportConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TransportError::BadAck { received, .. } if received == "NOPE"),
        "{error}"
    );
}

#[tokio::test]
async fn oversized_reply_is_frame_too_large() {
    let mut reply = vec![b'A'; 2000];
    reply.push(b'\n');
    let (addr, _server) = one_shot_server(reply).await;
    let error = send_hello(addr, &peer(1), &TransportConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::FrameTooLarge { limit: 1024, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn close_without_reply_is_eof_before_reply() {
    let (addr, _server) = one_shot_server(Vec::new()).await;
    let error = send_hello(addr, &peer(1), &TransportConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::EofBeforeReply { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn rejected_line_is_eof_before_reply() {
    let (server, _events) = start(TransportConfig::default()).await;
    let error = send_line(server.local_addr(), "not json", &TransportConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::EofBeforeReply { .. }),
        "{error}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn send_line_checks_the_line_before_connecting() {
    // Port 9 on loopback is closed; a connect attempt would be refused.
    let addr = "127.0.0.1:9".parse().unwrap();
    let config = TransportConfig::default();
    let error = send_line(addr, "{}\n{}", &config).await.unwrap_err();
    assert!(
        matches!(error, TransportError::MalformedFrame { .. }),
        "{error}"
    );
    let long = "x".repeat(1024);
    let error = send_line(addr, &long, &config).await.unwrap_err();
    assert!(
        matches!(error, TransportError::FrameTooLarge { limit: 1024, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn send_line_of_an_unknown_type_is_acked() {
    let (server, _events) = start(TransportConfig::default()).await;
    send_line(
        server.local_addr(),
        r#"{"type":"STATUS"}"#,
        &TransportConfig::default(),
    )
    .await
    .unwrap();
    server.shutdown().await;
}

/// Every consumer of a `TransportConfig` refuses one out of range with the
/// typed error, before any socket: the port below is free, so a connect
/// attempt would fail with `ConnectionRefused` instead.
#[tokio::test]
async fn an_out_of_range_config_is_refused_before_any_socket() {
    let bad = TransportConfig::default().with_ack_timeout(Duration::ZERO);
    let expected = ConfigError::TimeoutOutOfRange {
        name: "ack_timeout",
        value: Duration::ZERO,
        max: MAX_TIMEOUT,
    };
    let bound = Listener::bind(loopback(), bad.clone()).await;
    assert!(
        matches!(&bound, Err(TransportError::Config(e)) if *e == expected),
        "{bound:?}"
    );
    let identity = Arc::new(Identity::generate());
    let greeter = Greeter::new(Arc::clone(&identity), None, bad.clone());
    assert_eq!(greeter.err(), Some(expected.clone()));

    let free = TcpListener::bind(loopback()).await.unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let sent = send_hello(addr, &peer(1), &bad).await;
    assert!(
        matches!(&sent, Err(TransportError::Config(e)) if *e == expected),
        "{sent:?}"
    );
    let sent = send_line(addr, "{}", &bad).await;
    assert!(matches!(sent, Err(TransportError::Config(_))), "{sent:?}");
    let signed = send_signed_hello(addr, &identity, &peer(1), None, &bad).await;
    assert!(
        matches!(signed, Err(TransportError::Config(_))),
        "{signed:?}"
    );
}
