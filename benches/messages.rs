//! Direct messages over encrypted sessions against a raw tokio TCP echo
//! with the same framing, all in one run on 127.0.0.1 (issue 12's targets;
//! figures in docs/performance.md, "Messages over sessions").
//!
//! - `rtt_64`: one 64-byte message at a time, 20,000 times per path, in
//!   rounds of 2,000 that alternate the paths: `Node::send` → receipt (two
//!   nodes in this process) and `Link::send` → receipt, against a raw echo
//!   (write a 2-byte length + 64 bytes, read the same back). p50 and p99
//!   over all rounds, and the median of the rounds' p50 ratios.
//! - `pairs_1k`: 1 KiB messages with 64 in flight (64 tasks sharing one
//!   session), 100,000 messages; the raw echo pipelines 64 frames in
//!   flight on one connection. Pairs (message + receipt, or frame + echo)
//!   per second.
//! - `bulk_64k`: 64 KiB messages with 16 in flight, 2,000 messages (128 MiB);
//!   MB/s of payload. The raw echo returns each frame whole (twice the
//!   bytes on the wire), the session returns a 10-byte receipt.
//! - `setup`: connect → both sides verified (upgrade + Noise XX with the
//!   binding payload), 1,000 times; p50 and p99, beside a bare `connect`.
//! - `idle_memory`: heap bytes per open, idle session (both ends in this
//!   process: the total over 200 sessions, divided by 400 ends), counted
//!   by a wrapping global allocator.
//!
//! Run: `cargo bench --bench messages` (inside `unshare -n` with `lo` up,
//! like every bench here). Client and servers share one 2-worker runtime.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tazcom_identity::Identity;
use tazcom_node::transport::config::{MAX_MAX_CONNECTIONS, MAX_RATE_LIMIT_SETTING};
use tazcom_node::transport::session::{
    self, Link, NoiseKeys, Router, Session, SessionConfig, SessionCounters,
};
use tazcom_node::transport::{Listener, Server, TransportConfig};
use tazcom_node::{LivenessPolicy, Node, StaticPeer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

#[path = "common/heap.rs"]
mod heap;

const PROTOCOL: &str = "/bench/1";
const RTT_ROUNDS: usize = 20_000;
/// Round trips per path before the next path takes over.
const RTT_ROUND: usize = 2_000;
const PAIRS: usize = 100_000;
const BULK: usize = 2_000;
const SETUPS: usize = 1_000;
const IDLE_SESSIONS: usize = 200;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Limits opened up: every measured handshake comes from 127.0.0.1.
fn bench_config() -> TransportConfig {
    TransportConfig::default()
        .with_hello_rate_burst(MAX_RATE_LIMIT_SETTING)
        .with_hello_rate_per_sec(MAX_RATE_LIMIT_SETTING)
        .with_handshake_rate_per_sec(MAX_RATE_LIMIT_SETTING)
        .with_verify_rate_per_sec(MAX_RATE_LIMIT_SETTING)
        .with_max_sessions(MAX_MAX_CONNECTIONS)
        .with_max_sessions_per_source(MAX_MAX_CONNECTIONS)
        .with_max_connections(MAX_MAX_CONNECTIONS)
        .with_max_connections_per_source(MAX_MAX_CONNECTIONS)
}

// ---- the raw baseline: a 2-byte length prefix, echoed whole ----

async fn raw_echo_server() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let (mut r, mut w) = stream.into_split();
                let mut buf = vec![0u8; 65_537];
                loop {
                    let Ok(len) = r.read_u16().await else { return };
                    let len = usize::from(len);
                    if r.read_exact(&mut buf[2..2 + len]).await.is_err() {
                        return;
                    }
                    buf[..2].copy_from_slice(&(len as u16).to_be_bytes());
                    if w.write_all(&buf[..2 + len]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

async fn raw_rtt(addr: SocketAddr, rounds: usize) -> Vec<Duration> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let out = frame(&[7u8; 64]);
    let mut back = vec![0u8; out.len()];
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        stream.write_all(&out).await.expect("write");
        stream.read_exact(&mut back).await.expect("read");
        times.push(t.elapsed());
    }
    times
}

/// `count` frames of `size` bytes, `in_flight` at most unanswered.
async fn raw_pipelined(addr: SocketAddr, size: usize, count: usize, in_flight: usize) -> Duration {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut r, mut w) = stream.into_split();
    let window = Arc::new(Semaphore::new(in_flight));
    let out = frame(&vec![7u8; size]);
    let start = Instant::now();
    let reader = {
        let window = Arc::clone(&window);
        tokio::spawn(async move {
            let mut back = vec![0u8; 2 + size];
            for _ in 0..count {
                r.read_exact(&mut back).await.expect("read");
                window.add_permits(1);
            }
        })
    };
    for _ in 0..count {
        window.acquire().await.expect("window").forget();
        w.write_all(&out).await.expect("write");
    }
    reader.await.expect("reader");
    start.elapsed()
}

// ---- sessions ----

struct Pair {
    server: Server,
    client: Identity,
    client_keys: NoiseKeys,
    accepted: mpsc::Receiver<Session>,
    server_id: tazcom_identity::PeerId,
}

async fn session_server() -> Pair {
    let server_identity = Arc::new(Identity::generate());
    let (tx, accepted) = mpsc::channel(1024);
    let (events, mut drain) = mpsc::channel(1024);
    tokio::spawn(async move { while drain.recv().await.is_some() {} });
    let server = Listener::bind(loopback(), bench_config())
        .await
        .expect("bind")
        .with_identity(Arc::clone(&server_identity))
        .with_sessions(NoiseKeys::generate().expect("keys"), tx)
        .serve(events);
    Pair {
        server,
        client: Identity::generate(),
        client_keys: NoiseKeys::generate().expect("keys"),
        accepted,
        server_id: server_identity.peer_id(),
    }
}

impl Pair {
    async fn session(&mut self) -> (Session, Session) {
        let stream = TcpStream::connect(self.server.local_addr())
            .await
            .expect("connect");
        let ours = session::initiate(
            stream,
            &self.client,
            &self.client_keys,
            self.server_id,
            0,
            Duration::from_secs(5),
        )
        .await
        .expect("handshake");
        let theirs = self.accepted.recv().await.expect("accepted");
        (ours, theirs)
    }

    /// A link pair whose server side serves [`PROTOCOL`], drained by a task.
    async fn links(&mut self) -> (Link, Link) {
        let (ours, theirs) = self.session().await;
        let counters = Arc::new(SessionCounters::default());
        let router = Router::new();
        let mut inbox = router.serve(PROTOCOL, 4096).expect("serve");
        tokio::spawn(async move { while inbox.recv().await.is_ok() {} });
        let config = SessionConfig::default();
        let client = Link::spawn(ours, Router::new(), config, Arc::clone(&counters));
        let server = Link::spawn(theirs, router, config, counters);
        (client, server)
    }
}

async fn link_rtt(link: &Link, rounds: usize) -> Vec<Duration> {
    let body = vec![7u8; 64];
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        link.send(PROTOCOL, body.clone()).await.expect("receipt");
        times.push(t.elapsed());
    }
    times
}

async fn node_rtt(to: &Node, from: &Node, rounds: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        from.send(to.peer_id(), PROTOCOL, vec![7u8; 64])
            .await
            .expect("node receipt");
        times.push(t.elapsed());
    }
    times
}

async fn link_pipelined(link: &Link, size: usize, count: usize, in_flight: usize) -> Duration {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..in_flight {
        let link = link.clone();
        let mine = count / in_flight + usize::from(t < count % in_flight);
        tasks.spawn(async move {
            let body = vec![7u8; size];
            for _ in 0..mine {
                link.send(PROTOCOL, body.clone()).await.expect("receipt");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("sender");
    }
    start.elapsed()
}

async fn node_pair() -> (Node, Node) {
    let start = |peers: Vec<StaticPeer>| {
        Node::builder()
            .listen(loopback())
            .transport(bench_config())
            .liveness(LivenessPolicy::disabled())
            .static_peers(peers)
            .start()
    };
    let a = start(Vec::new()).await.expect("node A");
    let b = start(vec![StaticPeer {
        peer_id: a.peer_id(),
        addr: a.local_addr(),
    }])
    .await
    .expect("node B");
    let mut inbox = a.serve(PROTOCOL, 4096).expect("serve");
    tokio::spawn(async move { while inbox.recv().await.is_ok() {} });
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.registry().get(&a.peer_id()).is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (a, b)
}

fn percentile(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[i].as_secs_f64() * 1e6
}

fn report_rtt(name: &str, mut times: Vec<Duration>) -> f64 {
    let times = &mut times[..];
    let (p50, p99) = (percentile(times, 0.5), percentile(times, 0.99));
    println!("| {name} | {p50:.1} | {p99:.1} |");
    p50
}

fn main() {
    // Criterion-style flags (`--bench`) are passed by `cargo bench`; ignore them.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

async fn run() {
    let raw = raw_echo_server().await;
    let mut pair = session_server().await;
    let (link, _server_link) = pair.links().await;
    let (node_a, node_b) = node_pair().await;
    // Warm-up: connections, the node's session, caches.
    raw_rtt(raw, 500).await;
    link_rtt(&link, 500).await;
    node_rtt(&node_a, &node_b, 500).await;

    println!("\n### rtt_64: round trip of a 64-byte message, µs\n");
    // Rounds alternate the three paths, so a slow phase of the machine
    // touches all of them; each round's p50 ratio is kept.
    let (mut raw_all, mut link_all, mut node_all) = (Vec::new(), Vec::new(), Vec::new());
    let (mut link_ratios, mut node_ratios) = (Vec::new(), Vec::new());
    for _ in 0..RTT_ROUNDS / RTT_ROUND {
        let mut raw_t = raw_rtt(raw, RTT_ROUND).await;
        let mut link_t = link_rtt(&link, RTT_ROUND).await;
        let mut node_t = node_rtt(&node_a, &node_b, RTT_ROUND).await;
        let raw_p50 = percentile(&mut raw_t, 0.5);
        link_ratios.push(percentile(&mut link_t, 0.5) / raw_p50);
        node_ratios.push(percentile(&mut node_t, 0.5) / raw_p50);
        raw_all.extend(raw_t);
        link_all.extend(link_t);
        node_all.extend(node_t);
    }
    println!("| path | p50 | p99 |\n|---|---|---|");
    report_rtt("raw TCP echo (baseline)", raw_all);
    report_rtt("`Link::send` → receipt", link_all);
    report_rtt("`Node::send` → receipt", node_all);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "\np50 ratio to the raw echo, median of {} rounds: link {:.2}×, node {:.2}× (target ≤ 1.5×)",
        RTT_ROUNDS / RTT_ROUND,
        median(link_ratios),
        median(node_ratios)
    );

    println!("\n### pairs_1k: 1 KiB, 64 in flight, {PAIRS} messages\n");
    let raw_t = raw_pipelined(raw, 1024, PAIRS, 64).await;
    let link_t = link_pipelined(&link, 1024, PAIRS, 64).await;
    let rate = |t: Duration, n: usize| n as f64 / t.as_secs_f64();
    let (raw_rate, link_rate) = (rate(raw_t, PAIRS), rate(link_t, PAIRS));
    println!("| path | pairs/s |\n|---|---|");
    println!("| raw TCP echo (baseline) | {raw_rate:.0} |");
    println!("| `Link::send` → receipt | {link_rate:.0} |");
    println!(
        "\nratio: {:.2}× the raw echo (target ≥ 0.5×)",
        link_rate / raw_rate
    );

    println!("\n### bulk_64k: 64 KiB, 16 in flight, {BULK} messages\n");
    let size = 64 * 1024 - 2; // the raw frame's length field is a u16
    let raw_t = raw_pipelined(raw, size, BULK, 16).await;
    let link_t = link_pipelined(&link, 64 * 1024, BULK, 16).await;
    let mbps = |t: Duration, bytes: usize| (bytes * BULK) as f64 / t.as_secs_f64() / 1e6;
    let (raw_mbps, link_mbps) = (mbps(raw_t, size), mbps(link_t, 64 * 1024));
    println!("| path | MB/s of payload |\n|---|---|");
    println!("| raw TCP echo (baseline) | {raw_mbps:.0} |");
    println!("| `Link::send` → receipt | {link_mbps:.0} |");
    println!(
        "\nratio: {:.2}× the raw echo (target ≥ 0.5×)",
        link_mbps / raw_mbps
    );

    println!("\n### setup: connect → both sides verified, {SETUPS} times, µs\n");
    let mut connects = Vec::with_capacity(SETUPS);
    let mut setups = Vec::with_capacity(SETUPS);
    for _ in 0..SETUPS {
        let t = Instant::now();
        let stream = TcpStream::connect(raw).await.expect("connect");
        connects.push(t.elapsed());
        drop(stream);
        let t = Instant::now();
        let both = pair.session().await;
        setups.push(t.elapsed());
        drop(both);
    }
    println!("| path | p50 | p99 |\n|---|---|---|");
    report_rtt("TCP connect (baseline)", connects);
    let setup_p50 = report_rtt("session set-up (upgrade + Noise XX + binding)", setups);
    println!(
        "\ntarget: p50 ≤ 400 µs: {}",
        if setup_p50 <= 400.0 { "met" } else { "NOT met" }
    );

    println!("\n### idle_memory: {IDLE_SESSIONS} open idle sessions\n");
    drop((link, _server_link));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = heap::live_bytes();
    let mut links = Vec::with_capacity(IDLE_SESSIONS);
    for _ in 0..IDLE_SESSIONS {
        links.push(pair.links().await);
    }
    // One message each way, so the buffers have been used once.
    for (client, _) in &links {
        client.send(PROTOCOL, vec![1u8; 64]).await.expect("receipt");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = heap::live_bytes().saturating_sub(before);
    let per_end = grown as f64 / (2 * IDLE_SESSIONS) as f64;
    println!(
        "heap growth {grown} bytes for {IDLE_SESSIONS} sessions (both ends): {:.0} bytes per session end, {:.0} per pair (target ≤ 16384 per session)",
        per_end,
        2.0 * per_end
    );
    drop(links);
    node_b.shutdown().await.expect("shutdown B");
    node_a.shutdown().await.expect("shutdown A");
}
