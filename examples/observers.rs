//! A node with the three real observers attached: the Kademlia routing
//! table, the mesh topology and the validator set. Each time a peer comes or
//! goes, it prints the non-empty k-buckets, this node's neighbours and the
//! validator quorum.
//!
//! ```sh
//! cargo run --example observers -- --interface lo --validator
//! ```
//!
//! Try it beside `scripts/three-nodes.sh`-style nodes in a private network
//! namespace (see README.md). Logs go to stderr (`RUST_LOG`); Ctrl-C or
//! SIGTERM stops it cleanly.

use std::path::PathBuf;

use clap::Parser;
use tazcom_node::dht::DhtConfig;

use tazcom_node::mesh::Reachability;
use tazcom_node::validators::ValidatorPolicy;
use tazcom_node::{MdnsConfig, Node, NodeEvent};
use tokio::sync::broadcast::error::RecvError;

/// Run a node and watch its routing table, mesh and validator set.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Key file (created with mode 0600 if missing).
    #[arg(long, default_value = "observers.key")]
    key: PathBuf,
    /// Network interface for mDNS, repeatable (`lo` allowed). Default: every
    /// non-loopback interface.
    #[arg(long = "interface", value_name = "NAME")]
    interfaces: Vec<String>,
    /// DNS-SD service type to publish and browse.
    #[arg(long, default_value = tazcom_node::discovery::wire::SERVICE_TYPE)]
    service_type: String,
    /// Announce this node as a validator (TXT `caps=validator`).
    #[arg(long)]
    validator: bool,
    /// Kademlia bucket size k.
    #[arg(long, default_value_t = tazcom_node::dht::DEFAULT_K)]
    k: usize,
}

mod common;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    common::init_tracing("warn");
    common::exit_code(run(args)).await
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut mdns = MdnsConfig::default().with_service_type(args.service_type);
    if !args.interfaces.is_empty() {
        mdns = mdns.with_interfaces(args.interfaces);
    }
    let node = Node::builder()
        .key_file(args.key)
        .mdns(mdns)
        .validator(args.validator)
        .dht(DhtConfig::default().with_k(args.k))
        .mesh(Reachability::AnyAddress)
        .validators(ValidatorPolicy::default())
        .start()
        .await?;
    println!("node {} listening on {}", node.peer_id(), node.local_addr());
    print_state(&node);
    let mut events = node.events();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(NodeEvent::Discovered { .. } | NodeEvent::Removed { .. }) => print_state(&node),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            () = common::shutdown_signal() => break,
        }
    }
    node.shutdown().await?;
    println!("stopped");
    Ok(())
}

/// The three structures, as a person would want to read them.
fn print_state(node: &Node) {
    let (Some(dht), Some(mesh), Some(validators)) = (node.dht(), node.mesh(), node.validators())
    else {
        return;
    };
    println!("--- {} peer(s)", node.peers().len());
    println!("routing table ({} entries):", dht.len());
    for bucket in dht.buckets() {
        let ids: Vec<String> = bucket.entries.iter().map(|c| c.peer_id.short()).collect();
        let pending = bucket.pending.len();
        println!(
            "  bucket {:>3}: [{}] pending {pending}",
            bucket.index,
            ids.join(", ")
        );
    }
    let neighbours: Vec<String> = mesh.local_neighbours().iter().map(|p| p.short()).collect();
    println!("neighbours: [{}]", neighbours.join(", "));
    let set = validators.snapshot();
    let members: Vec<String> = set.members.iter().map(|p| p.short()).collect();
    let quorum = set
        .quorum
        .map_or_else(|| "none".to_owned(), |q| q.to_string());
    println!(
        "validators (epoch {}): [{}], f = {}, quorum = {quorum}",
        set.epoch,
        members.join(", "),
        set.f
    );
}
