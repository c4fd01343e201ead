//! Publishes a random TAZCOM peer id over mDNS and prints what it discovers,
//! for a bounded time. Used to check interoperability by hand, e.g. with the
//! Python prototype (python-zeroconf).
//!
//! Usage: `mdns_watch <interface> [seconds=10] [tcp_port=4000] [mdns_port=5353]`
//!
//! NETWORK SAFETY: run it in a private network namespace unless you mean to
//! talk to your LAN:
//! `unshare -n sh -c 'ip link set lo up; cargo run -p tazcom-discovery --example mdns_watch -- lo'`

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tazcom_discovery::{Discovery, LocalService, MdnsConfig, MdnsDiscovery};
use tazcom_identity::PeerId;

fn arg<T: std::str::FromStr>(args: &[String], index: usize, default: T) -> Result<T, String> {
    match args.get(index) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("argument {index} ({text:?}) is not a number")),
    }
}

/// A random peer id (not an Ed25519 key: discovery does not check that).
fn random_peer_id() -> PeerId {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        let word = RandomState::new().build_hasher().finish().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    PeerId::from_bytes(bytes)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let interface = args
        .get(1)
        .ok_or("usage: mdns_watch <interface> [seconds] [tcp_port] [mdns_port]")?;
    let seconds: u64 = arg(&args, 2, 10)?;
    let tcp_port: u16 = arg(&args, 3, 4000)?;
    let mdns_port: u16 = arg(&args, 4, 5353)?;

    let me = random_peer_id();
    let config = MdnsConfig::default()
        .with_interfaces([interface.as_str()])
        .with_mdns_port(mdns_port);
    let mut mdns = MdnsDiscovery::new(config)?;
    let mut events = mdns.start(LocalService::new(me, tcp_port)).await?;
    println!(
        "publishing TAZCOM Node {} (id={me}) on {interface}, tcp port {tcp_port}",
        me.short()
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        println!("{event:?}");
    }
    mdns.shutdown().await?;
    println!("stats: {:?}", mdns.stats());
    Ok(())
}
