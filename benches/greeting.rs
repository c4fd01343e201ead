//! Greeting round trip on loopback: signed HELLO → signed ACK, beside the
//! legacy HELLO → `ACK` and a raw TCP baseline, all in the same run.
//!
//! Each iteration is one complete client exchange on a fresh TCP connection
//! to a server on 127.0.0.1, as a node greets a peer:
//! - `signed`: `Greeter::greet` (sign the HELLO, connect, write, the server
//!   checks addressee, timestamp, signature and nonce and signs the ACK,
//!   read the ACK, verify it, half-close) against a `Listener` with an
//!   identity;
//! - `legacy`: `send_hello` against a `Listener` without identity (the
//!   prototype's exchange: 91-byte HELLO, `ACK\n`);
//! - `raw_tcp` (baseline): `TcpStream::connect` + write the same 91 bytes +
//!   read 4 bytes + half-close, against a bare tokio accept loop that reads
//!   up to `\n` and writes `ACK\n`. No framing, parsing, timeouts or counters.
//!
//! Client and servers share one 2-worker multi-thread runtime, like a node.
//!
//! Group `greeting_crypto` times the four signature operations on the
//! signed path alone (no I/O): signing and verifying a HELLO and an ACK
//! (verification includes decoding the signer's key from its peer id).
//! Run: `cargo bench --bench greeting -- --noplot` (figures in
//! docs/performance.md, "Greeting round trip").

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tazcom_identity::{Identity, PeerId};
use tazcom_transport::config::{MAX_RATE_LIMIT_SETTING, MAX_REPLAY_CACHE_CAPACITY};
use tazcom_transport::wire::{Nonce, SignedAck, SignedHello, SignedMessage};
use tazcom_transport::{send_hello, Greeter, Listener, Server, TransportConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The server's limits, opened up: every measured greeting comes from one
/// source (127.0.0.1), far above the default per-source HELLO rate, which
/// exists for floods, not for this measurement.
fn bench_config() -> TransportConfig {
    TransportConfig::default()
        .with_hello_rate_burst(MAX_RATE_LIMIT_SETTING)
        .with_hello_rate_per_sec(MAX_RATE_LIMIT_SETTING)
        .with_verify_rate_per_sec(MAX_RATE_LIMIT_SETTING)
        // A live replay-cache entry is never evicted: hold a whole run's.
        .with_replay_cache_capacity(MAX_REPLAY_CACHE_CAPACITY)
}

/// A transport server on loopback whose HELLO events are drained (a node
/// reads them; a full queue would hold back the ACKs).
async fn server(identity: Option<Arc<Identity>>) -> Server {
    let mut listener = Listener::bind(loopback(), bench_config())
        .await
        .expect("bind 127.0.0.1:0");
    if let Some(identity) = identity {
        listener = listener.with_identity(identity);
    }
    let (tx, mut rx) = mpsc::channel(256);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    listener.serve(tx)
}

/// The baseline server: per connection, read to `\n`, write `ACK\n`, then
/// read to EOF.
async fn raw_server() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut buf = [0u8; 1024];
                let mut got = 0;
                while !buf[..got].contains(&b'\n') && got < buf.len() {
                    match stream.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                if stream.write_all(b"ACK\n").await.is_err() {
                    return;
                }
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

async fn raw_exchange(addr: SocketAddr, line: &[u8]) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(line).await.expect("write");
    let mut ack = [0u8; 4];
    stream.read_exact(&mut ack).await.expect("read ACK");
    assert_eq!(&ack, b"ACK\n");
    stream.shutdown().await.expect("half-close");
}

fn greeting(c: &mut Criterion) {
    let rt = runtime();
    let server_id = Arc::new(Identity::generate());
    let client_id = Arc::new(Identity::generate());
    let (signed_server, legacy_server, raw_addr) = rt.block_on(async {
        (
            server(Some(Arc::clone(&server_id))).await,
            server(None).await,
            raw_server().await,
        )
    });
    let greeter = Greeter::new(
        Arc::clone(&client_id),
        Some(4242),
        TransportConfig::default(),
    )
    .expect("the default config is valid");
    let expected: PeerId = server_id.peer_id();
    let me = client_id.peer_id();
    let line = format!("{{\"type\":\"HELLO\",\"from\":\"{me}\"}}\n");
    let config = TransportConfig::default();

    let mut group = c.benchmark_group("greeting");
    group.measurement_time(Duration::from_secs(5));
    let addr = signed_server.local_addr();
    group.bench_function("signed", |b| {
        b.to_async(&rt).iter(|| async {
            let greeting = greeter
                .greet(addr, &expected)
                .await
                .expect("signed greeting");
            assert!(greeting.is_verified());
            black_box(greeting);
        });
    });
    let addr = legacy_server.local_addr();
    group.bench_function("legacy", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                send_hello(addr, &me, &config)
                    .await
                    .expect("legacy greeting"),
            );
        });
    });
    group.bench_function("raw_tcp", |b| {
        b.to_async(&rt)
            .iter(|| raw_exchange(raw_addr, line.as_bytes()));
    });
    group.finish();

    let stats = signed_server.stats();
    println!(
        "signed server: {} verified HELLOs, {} rejected ({} with the replay cache full)",
        stats.hellos_verified,
        stats.rejected_total(),
        stats.rejected_replay_cache_full
    );
    rt.block_on(async {
        signed_server.shutdown().await;
        legacy_server.shutdown().await;
    });
}

fn greeting_crypto(c: &mut Criterion) {
    let (client, server) = (Identity::generate(), Identity::generate());
    let nonce = Nonce::random();
    let hello = SignedHello::sign(&client, server.peer_id(), nonce, 1_700_000_000_000, 4242);
    let ack = SignedAck::sign(&server, client.peer_id(), nonce);
    let mut group = c.benchmark_group("greeting_crypto");
    group.bench_function("sign_hello", |b| {
        b.iter(|| SignedHello::sign(&client, server.peer_id(), nonce, black_box(1), 4242));
    });
    group.bench_function("verify_hello", |b| {
        b.iter(|| black_box(&hello).verify_signature().expect("valid"));
    });
    group.bench_function("sign_ack", |b| {
        b.iter(|| SignedAck::sign(&server, client.peer_id(), black_box(nonce)));
    });
    group.bench_function("verify_ack", |b| {
        b.iter(|| black_box(&ack).verify_signature().expect("valid"));
    });
    group.finish();
}

criterion_group!(benches, greeting, greeting_crypto);
criterion_main!(benches);
