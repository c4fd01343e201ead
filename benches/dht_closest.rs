//! `RoutingTable::closest(target, 20)` with 10,000 peers inserted, beside a
//! brute-force baseline measured in the same run.
//!
//! Two tables hold the same 10,000 random peer ids:
//! - `realistic`: the default k = 20. Most peers land in full buckets, so
//!   the table retains only a few hundred (printed at start-up).
//! - `stress`: k = 10,000, so every peer is retained and the walk meets big
//!   buckets (bucket 255 alone holds about half the peers).
//!
//! Baselines over all 10,000 ids: compute every `Distance::between`, then
//! either sort all of them and take 20 (`brute_force_sort`, the issue's
//! baseline) or `select_nth_unstable` then sort 20 (`brute_force_select`).
//!
//! Targets are 1,024 pre-generated random ids, cycled through. The stress
//! table is also measured on its worst half of targets alone
//! (`stress_far_half`): those whose top bit differs from the local id's, so
//! the walk starts in bucket 255 (~5,000 entries).
//! Run: `cargo bench --bench dht_closest -- --noplot` (figures in
//! docs/performance.md).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tazcom_dht::{DhtConfig, Distance, RoutingTable, NUM_BUCKETS};
use tazcom_identity::PeerId;

const PEERS: usize = 10_000;
const N: usize = 20;
const TARGETS: usize = 1_024;

/// splitmix64 (Steele, Lea & Flood 2014): deterministic, good enough to
/// spread ids over the key space.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn peer_id(&mut self) -> PeerId {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        PeerId::from_bytes(bytes)
    }
}

fn table(local: PeerId, config: DhtConfig, peers: &[PeerId]) -> RoutingTable {
    let mut t = RoutingTable::new(local, config).expect("valid config");
    for p in peers {
        t.insert(*p, Vec::new());
    }
    t
}

/// The baseline of the issue: every distance, full sort, first `n`.
fn brute_force_sort(peers: &[PeerId], target: &PeerId, n: usize) -> Vec<(PeerId, Distance)> {
    let mut all: Vec<_> = peers
        .iter()
        .map(|p| (*p, Distance::between(p, target)))
        .collect();
    all.sort_unstable_by_key(|&(_, d)| d);
    all.truncate(n);
    all
}

/// A stronger baseline: every distance, partial selection, sort `n`.
fn brute_force_select(peers: &[PeerId], target: &PeerId, n: usize) -> Vec<(PeerId, Distance)> {
    let mut all: Vec<_> = peers
        .iter()
        .map(|p| (*p, Distance::between(p, target)))
        .collect();
    all.select_nth_unstable_by_key(n - 1, |&(_, d)| d);
    all.truncate(n);
    all.sort_unstable_by_key(|&(_, d)| d);
    all
}

/// Non-empty buckets and the biggest bucket's size.
fn bucket_stats(t: &RoutingTable) -> (usize, usize) {
    let sizes: Vec<usize> = t.buckets().map(|b| b.entries.len()).collect();
    (sizes.len(), sizes.into_iter().max().unwrap_or(0))
}

/// Entries per bucket index.
fn bucket_sizes(t: &RoutingTable) -> Vec<usize> {
    let mut sizes = vec![0; NUM_BUCKETS];
    for b in t.buckets() {
        sizes[b.index] = b.entries.len();
    }
    sizes
}

/// Entries `closest(target, n)` computes a distance for: the bucket walk of
/// docs/dht.md ("Closest peers"), replayed over bucket sizes.
fn entries_visited(local: &PeerId, sizes: &[usize], target: &PeerId, n: usize) -> usize {
    let d = Distance::between(local, target);
    let order = (0..NUM_BUCKETS)
        .rev()
        .filter(|&i| d.bit(i))
        .chain((0..NUM_BUCKETS).filter(|&i| !d.bit(i)));
    let mut seen = 0;
    for i in order {
        seen += sizes[i];
        if seen >= n {
            break;
        }
    }
    seen
}

fn closest(c: &mut Criterion) {
    let mut rng = SplitMix64(0x7a2c_0de5_eed0_0001);
    let local = rng.peer_id();
    let peers: Vec<PeerId> = (0..PEERS).map(|_| rng.peer_id()).collect();
    let targets: Vec<PeerId> = (0..TARGETS).map(|_| rng.peer_id()).collect();

    let realistic = table(local, DhtConfig::default(), &peers);
    let stress = table(
        local,
        DhtConfig::default().with_k(PEERS).with_replacement_cache(0),
        &peers,
    );
    assert_eq!(stress.len(), PEERS, "stress table retains every peer");
    // The stress table holds every peer: closest must equal brute force.
    for t in &targets[..64] {
        assert_eq!(stress.closest(t, N), brute_force_sort(&peers, t, N));
    }
    for (name, t) in [("realistic", &realistic), ("stress", &stress)] {
        let (buckets, biggest) = bucket_stats(t);
        let sizes = bucket_sizes(t);
        let visited: usize = targets
            .iter()
            .map(|x| entries_visited(&local, &sizes, x, N))
            .sum();
        println!(
            "{name}: k = {}, {PEERS} inserted, {} retained, {} pending, \
             {buckets} non-empty buckets, biggest {biggest}, \
             {:.0} entries visited per closest() on average",
            t.config().k,
            t.len(),
            t.pending_len(),
            visited as f64 / TARGETS as f64,
        );
    }

    let mut g = c.benchmark_group("dht_closest_20_of_10000");
    g.throughput(Throughput::Elements(1));
    let mut next = 0usize;
    let mut target = || {
        next = (next + 1) % TARGETS;
        &targets[next]
    };
    g.bench_function(BenchmarkId::new("closest", "realistic_k20"), |b| {
        b.iter(|| black_box(realistic.closest(target(), N)))
    });
    g.bench_function(BenchmarkId::new("closest", "stress_all_retained"), |b| {
        b.iter(|| black_box(stress.closest(target(), N)))
    });
    let far: Vec<PeerId> = targets
        .iter()
        .filter(|t| Distance::between(&local, t).bit(255))
        .copied()
        .collect();
    let stress_sizes = bucket_sizes(&stress);
    let far_visited: usize = far
        .iter()
        .map(|x| entries_visited(&local, &stress_sizes, x, N))
        .sum();
    println!(
        "stress_far_half: {} of {TARGETS} targets, {:.0} entries visited on average",
        far.len(),
        far_visited as f64 / far.len() as f64,
    );
    let mut next_far = 0usize;
    g.bench_function(BenchmarkId::new("closest", "stress_far_half"), |b| {
        b.iter(|| {
            next_far = (next_far + 1) % far.len();
            black_box(stress.closest(&far[next_far], N))
        })
    });
    g.bench_function(BenchmarkId::new("brute_force_sort", PEERS), |b| {
        b.iter(|| black_box(brute_force_sort(&peers, target(), N)))
    });
    g.bench_function(BenchmarkId::new("brute_force_select", PEERS), |b| {
        b.iter(|| black_box(brute_force_select(&peers, target(), N)))
    });
    g.finish();
}

criterion_group!(benches, closest);
criterion_main!(benches);
