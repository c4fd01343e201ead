//! Registry memory per peer: stores 100,000 realistic mDNS entries and
//! reports heap bytes per peer (counted by a wrapping global allocator) and
//! the resident set growth. Target: ≤ 600 bytes per peer.
//!
//! Run: `cargo bench --bench registry_memory`.

use std::net::SocketAddr;

use tazcom_identity::PeerId;
use tazcom_registry::{PeerEntry, PeerRegistry, Source};

#[path = "common/heap.rs"]
mod heap;

const PEERS: u32 = 100_000;

fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn entry(i: u32) -> PeerEntry {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&i.to_le_bytes());
    b[4..8].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
    let id = PeerId::from_bytes(b);
    let mut e = PeerEntry::new(id, Source::Mdns);
    e.instance_name = Some(format!("TAZCOM Node {}", id.short()).into());
    let [_, _, hi, lo] = i.to_be_bytes();
    e.addrs = vec![SocketAddr::from(([10, 77, hi, lo], 40_000))];
    e
}

fn main() {
    // Criterion-style flags (`--bench`) are passed by `cargo bench`; ignore them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let registry = PeerRegistry::new();
    let (heap0, rss0) = (heap::live_bytes(), rss_bytes());
    rt.block_on(async {
        for chunk in (0..PEERS).collect::<Vec<_>>().chunks(10_000) {
            let mut batch = registry.batch();
            for &i in chunk {
                batch.upsert(entry(i));
            }
            batch.commit().await.expect("commit");
        }
    });
    assert_eq!(registry.len(), PEERS as usize);
    let heap = heap::live_bytes() - heap0;
    let per_peer = heap as f64 / f64::from(PEERS);
    println!("registry_memory: peers={PEERS} heap_bytes={heap} bytes_per_peer={per_peer:.0} (target <= 600)");
    if let (Some(a), Some(b)) = (rss0, rss_bytes()) {
        let rss = b.saturating_sub(a);
        println!(
            "registry_memory: rss_growth_bytes={rss} rss_bytes_per_peer={:.0}",
            rss as f64 / f64::from(PEERS)
        );
    }
    std::hint::black_box(&registry);
}
