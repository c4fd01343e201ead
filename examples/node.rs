//! Runs one TAZCOM node: announces itself over DNS-SD/mDNS, discovers and
//! greets peers, and reports what happens.
//!
//! ```sh
//! cargo run --example node -- --interface lo --json
//! ```
//!
//! Logs go to stderr (`RUST_LOG`, default `info`). With `--json`, stdout
//! carries one JSON object per line, flushed per line: the node event's
//! own JSON form (`tazcom_node::NodeEvent` with its `serde` feature; every
//! field in `docs/node.md`, "Event schema"), plus `t_ms` (Unix ms), e.g.
//! `{"t_ms":1765000000000,"event":"hello_acked","peer":"…","addr":"10.77.0.2:7000","rtt_us":240,"verified":true}`.
//!
//! Direct messages: the node serves `/tazcom/msg/1` and prints each message
//! received as `{"event":"message","peer":…,"protocol":…,"text":…}`; one
//! JSON command per stdin line sends one, e.g.
//! `{"cmd":"send","peer":"<64 hex>","text":"hello"}`, answered by
//! `{"event":"delivered","peer":…,"rtt_us":…}` or
//! `{"event":"send_failed","peer":…,"reason":…}` (`docs/node.md`, "The
//! node example's commands"). These lines are JSON with or without `--json`.
//!
//! Ctrl-C or SIGTERM shuts the node down gracefully
//! (BYE and goodbye sent) and prints `stopped`, then with `--json` one last
//! `metrics` line with the node's final counters (`hellos_sent`,
//! `pings_sent`, `byes_sent`, `probe_hints`, …).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde_json::{json, Value};
use tazcom_node::registry::unix_ms;
use tazcom_node::{
    Events, LivenessPolicy, MdnsConfig, Node, NodeEvent, NodeMetrics, RecvError, StaticPeer,
};

/// Run a TAZCOM node.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Key file (created with mode 0600 if missing).
    #[arg(long, default_value = "node.key")]
    key: PathBuf,
    /// TCP port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// IP address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    listen: IpAddr,
    /// Network interface for mDNS, repeatable (`lo` allowed). Default: every
    /// non-loopback interface.
    #[arg(long = "interface", value_name = "NAME")]
    interfaces: Vec<String>,
    /// DNS-SD service type to publish and browse.
    #[arg(long, default_value = tazcom_node::discovery::wire::SERVICE_TYPE)]
    service_type: String,
    /// mDNS UDP port.
    #[arg(long, default_value_t = tazcom_node::discovery::config::DEFAULT_MDNS_PORT)]
    mdns_port: u16,
    /// A static peer `PEERID@IP:PORT`, repeatable (for networks without multicast).
    #[arg(long = "peer", value_name = "PEERID@IP:PORT")]
    peers: Vec<StaticPeer>,
    /// Announce this node as a validator (TXT `caps=validator`).
    #[arg(long)]
    validator: bool,
    /// Print events as JSON lines on stdout.
    #[arg(long)]
    json: bool,
    /// Do not act on mDNS probe hints (docs/discovery.md, "Probe hints").
    #[arg(long)]
    no_probe_hints: bool,
    /// Liveness check interval in ms (docs/node.md, "Liveness"); 0 turns
    /// the checks off.
    #[arg(long, default_value_t = 4000)]
    liveness_ms: u64,
}

mod common;
mod messaging;

// One thread: a LAN node idles most of the time, and each worker thread
// costs resident memory (docs/performance.md, "Idle node memory").
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    common::init_tracing("info");
    common::exit_code(run(args)).await
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut mdns = MdnsConfig::default()
        .with_service_type(args.service_type)
        .with_mdns_port(args.mdns_port)
        .with_probe_hints(!args.no_probe_hints);
    let liveness = match args.liveness_ms {
        0 => LivenessPolicy::disabled(),
        ms => LivenessPolicy::default().with_interval(Duration::from_millis(ms)),
    };
    if !args.interfaces.is_empty() {
        mdns = mdns.with_interfaces(args.interfaces);
    }
    let mut builder = Node::builder()
        .key_file(args.key)
        .listen(SocketAddr::new(args.listen, args.port))
        .validator(args.validator)
        .liveness(liveness)
        .mdns(mdns);
    if !args.peers.is_empty() {
        builder = builder.static_peers(args.peers);
    }
    let node = builder.start().await?;
    let args_json = args.json;
    let printer = tokio::spawn(print_events(node.events(), args_json));
    let messages = messaging::serve(&node)?;
    let commands = tokio::spawn(messaging::read_commands(node.clone()));
    common::shutdown_signal().await;
    commands.abort();
    tracing::info!("shutting down");
    let result = node.shutdown().await;
    // The printer ends after `stopped`.
    printer.await?;
    messages.abort();
    if args_json {
        println!("{}", metrics_json(&node.metrics()));
    }
    Ok(result?)
}

/// The final counters, one JSON line (`event` = `metrics`).
fn metrics_json(m: &NodeMetrics) -> Value {
    json!({
        "event": "metrics", "t_ms": unix_ms(),
        "hellos_sent": m.hellos_sent, "hellos_acked": m.hellos_acked,
        "hellos_received": m.hellos_received, "peers_from_greetings": m.peers_from_greetings,
        "probe_hints": m.probe_hints, "probe_hints_confirmed": m.probe_hints_confirmed,
        "probe_hints_dropped": m.probe_hints_dropped,
        "pings_sent": m.pings_sent, "pings_received": m.pings_received,
        "keepalives_sent": m.keepalives_sent,
        "sessions_opened": m.sessions.sessions_opened,
        "messages_sent": m.sessions.messages_sent,
        "messages_delivered": m.sessions.messages_delivered,
        "peers_unreachable": m.peers_unreachable,
        "byes_sent": m.byes_sent, "byes_acked": m.byes_acked, "byes_received": m.byes_received,
        "discovery_rejected": m.discovery_rejected,
        "transport_rejected": m.transport.rejected_total(),
    })
}

async fn print_events(mut events: Events, json: bool) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "event printer fell behind");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        let stopped = event == NodeEvent::Stopped;
        let line = if json {
            let line = Line {
                t_ms: unix_ms(),
                event: &event,
            };
            serde_json::to_string(&line).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        } else {
            format!("{event:?}")
        };
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break; // stdout closed: nobody is listening
        }
        if stopped {
            break;
        }
    }
}

/// One JSON line: the event's own form (`docs/node.md`, "Event schema")
/// and `t_ms`, the Unix time in ms when it was printed.
#[derive(serde::Serialize)]
struct Line<'a> {
    t_ms: u64,
    #[serde(flatten)]
    event: &'a NodeEvent,
}
