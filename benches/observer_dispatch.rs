//! Observer dispatch: one upsert committed and dispatched to N observers,
//! and batch commits, beside two baselines measured in the same run:
//! the same event fanned out through `tokio::sync::broadcast`, and a naive
//! loop awaiting `#[async_trait]` observers in a `Vec<Arc<dyn …>>`.
//!
//! Group `dispatch_real_observers` attaches the three real observers
//! (`tazcom-dht`, `tazcom-mesh`, `tazcom-validators`), best-effort as
//! tazcom-node registers them, beside 3 trivial best-effort observers.
//!
//! Run: `cargo bench --bench observer_dispatch` (figures in docs/performance.md).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tazcom_dht::{DhtConfig, DhtObserver};
use tazcom_identity::PeerId;
use tazcom_mesh::MeshObserver;
use tazcom_registry::{
    Observer, ObserverError, ObserverOptions, PeerEntry, PeerRegistry, RegistryEvent, Source,
};
use tazcom_validators::{ValidatorObserver, ValidatorPolicy};

/// The trivial observer of the issue: `black_box` on the event.
struct Trivial;

impl Observer for Trivial {
    fn name(&self) -> &str {
        "trivial"
    }
    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        black_box(event);
        Ok(())
    }
}

/// The naive baseline's observer trait, as in the reference design.
#[async_trait]
trait NaiveObserver: Send + Sync {
    async fn on_peer_event(&self, event: Arc<RegistryEvent>) -> Result<(), ObserverError>;
}

#[async_trait]
impl NaiveObserver for Trivial {
    async fn on_peer_event(&self, event: Arc<RegistryEvent>) -> Result<(), ObserverError> {
        black_box(&event);
        Ok(())
    }
}

fn peer(i: u32) -> PeerId {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&i.to_le_bytes());
    b[31] = 0xa5;
    PeerId::from_bytes(b)
}

fn entry(id: PeerId, port: u16) -> PeerEntry {
    let mut e = PeerEntry::new(id, Source::Mdns);
    e.instance_name = Some(format!("TAZCOM Node {}", id.short()).into());
    e.addrs = vec![SocketAddr::from(([10, 77, 0, 1], port))];
    e
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn registry_with(n: usize) -> (PeerRegistry, Vec<Arc<Trivial>>) {
    trivial_registry(n, ObserverOptions::critical()).await
}

async fn trivial_registry(n: usize, options: ObserverOptions) -> (PeerRegistry, Vec<Arc<Trivial>>) {
    let reg = PeerRegistry::new();
    let observers: Vec<_> = (0..n).map(|_| Arc::new(Trivial)).collect();
    for o in &observers {
        reg.register_observer(o, options).await.expect("register");
    }
    (reg, observers)
}

fn one_upsert(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("dispatch_one_upsert");
    for n in [1usize, 10, 50] {
        g.throughput(Throughput::Elements(1));
        // TAZCOM: a full commit (plan, dispatch to n critical observers, apply).
        let (reg, _keep) = rt.block_on(registry_with(n));
        let id = peer(1);
        let entries = [entry(id, 1), entry(id, 2)];
        let mut flip = 0usize;
        g.bench_with_input(BenchmarkId::new("registry", n), &n, |b, _| {
            b.to_async(&rt).iter(|| {
                flip ^= 1;
                let e = entries[flip].clone();
                let reg = &reg;
                async move { black_box(reg.upsert(e).await.expect("commit")) }
            })
        });

        // Baseline 1: the event through tokio::sync::broadcast to n receivers.
        let event = Arc::new(sample_event());
        let (tx, _) = tokio::sync::broadcast::channel::<Arc<RegistryEvent>>(16);
        let mut rxs: Vec<_> = (0..n).map(|_| tx.subscribe()).collect();
        g.bench_with_input(BenchmarkId::new("broadcast", n), &n, |b, _| {
            b.iter(|| {
                tx.send(Arc::clone(&event)).expect("receivers");
                for rx in &mut rxs {
                    black_box(rx.try_recv().expect("event"));
                }
            })
        });

        // Baseline 2: a naive loop awaiting #[async_trait] observers.
        let naive: Vec<Arc<dyn NaiveObserver>> = (0..n)
            .map(|_| Arc::new(Trivial) as Arc<dyn NaiveObserver>)
            .collect();
        g.bench_with_input(BenchmarkId::new("naive_async_trait", n), &n, |b, _| {
            b.to_async(&rt).iter(|| {
                let (naive, event) = (&naive, &event);
                async move {
                    for o in naive {
                        o.on_peer_event(Arc::clone(event)).await.expect("observer");
                    }
                }
            })
        });
    }
    g.finish();
}

fn sample_event() -> RegistryEvent {
    let id = peer(1);
    RegistryEvent {
        seq: 1,
        origin: tazcom_registry::Origin::Commit,
        kind: tazcom_registry::EventKind::Single(tazcom_registry::Change::Updated {
            old: Arc::new(entry(id, 1)),
            new: Arc::new(entry(id, 2)),
        }),
    }
}

fn batch_commit(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("batch_commit_10_observers");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    for size in [1_000u32, 10_000] {
        g.throughput(Throughput::Elements(u64::from(size)));
        let (reg, _keep) = rt.block_on(registry_with(10));
        let ids: Vec<_> = (0..size).map(peer).collect();
        let mut round = 0u16;
        g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.to_async(&rt).iter_custom(|iters| {
                let (reg, ids) = (&reg, &ids);
                round = round.wrapping_add(1);
                let base = round;
                async move {
                    let mut total = Duration::ZERO;
                    for i in 0..iters {
                        // Every round changes every entry, so each commit
                        // carries `size` changes (adds first, then updates).
                        let port = base.wrapping_mul(31).wrapping_add(i as u16);
                        let mut batch = reg.batch();
                        for id in ids {
                            batch.upsert(entry(*id, port));
                        }
                        let start = Instant::now();
                        let out = batch.commit().await.expect("commit");
                        total += start.elapsed();
                        black_box(out);
                    }
                    total
                }
            })
        });
    }
    g.finish();
}

/// A peer id spread over the key space (splitmix64's finalizer over `i`),
/// so the DHT's buckets fill as they would with real keys.
fn scattered_peer(i: u64) -> PeerId {
    let mut b = [0u8; 32];
    for (w, chunk) in b.chunks_exact_mut(8).enumerate() {
        let mut z = i.wrapping_mul(4).wrapping_add(w as u64);
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    PeerId::from_bytes(b)
}

fn validator_entry(id: PeerId, port: u16, validator: bool) -> PeerEntry {
    let mut e = entry(id, port);
    e.capabilities.validator = validator;
    e
}

/// The observers tazcom-node attaches, kept alive by the caller (the
/// registry drops an observer whose owner let go of it).
struct RealObservers {
    dht: Arc<DhtObserver>,
    mesh: Arc<MeshObserver>,
    validators: Arc<ValidatorObserver>,
}

async fn real_registry() -> (PeerRegistry, RealObservers) {
    let local = scattered_peer(u64::MAX);
    let reg = PeerRegistry::new();
    let dht = Arc::new(DhtObserver::new(local, DhtConfig::default()).expect("default config"));
    let mesh = Arc::new(MeshObserver::new(local));
    let validators = Arc::new(ValidatorObserver::new(ValidatorPolicy::default()));
    let opts = ObserverOptions::best_effort();
    reg.register_observer(&dht, opts).await.expect("register");
    reg.register_observer(&mesh, opts).await.expect("register");
    reg.register_observer(&validators, opts)
        .await
        .expect("register");
    let kept = RealObservers {
        dht,
        mesh,
        validators,
    };
    (reg, kept)
}

/// One upsert alternating two entries of one validator peer.
fn bench_one_upsert(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    reg: &PeerRegistry,
) {
    let id = scattered_peer(1);
    let entries = [validator_entry(id, 1, true), validator_entry(id, 2, true)];
    let mut flip = 0usize;
    g.bench_function(BenchmarkId::new("one_upsert", name), |b| {
        b.to_async(rt).iter(|| {
            flip ^= 1;
            let e = entries[flip].clone();
            async move { black_box(reg.upsert(e).await.expect("commit")) }
        })
    });
}

/// A 1,000-peer batch, a third of them validators, every entry changed
/// each round; only the commit is timed.
fn bench_batch(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    reg: &PeerRegistry,
) {
    let ids: Vec<_> = (0..1_000u64)
        .map(|i| (scattered_peer(i), i % 3 == 0))
        .collect();
    let mut round = 0u16;
    g.bench_function(BenchmarkId::new("batch_1000", name), |b| {
        b.to_async(rt).iter_custom(|iters| {
            let ids = &ids;
            round = round.wrapping_add(1);
            let base = round;
            async move {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let port = base.wrapping_mul(31).wrapping_add(i as u16);
                    let mut batch = reg.batch();
                    for &(id, validator) in ids {
                        batch.upsert(validator_entry(id, port, validator));
                    }
                    let start = Instant::now();
                    let out = batch.commit().await.expect("commit");
                    total += start.elapsed();
                    black_box(out);
                }
                total
            }
        })
    });
}

fn real_observers(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("dispatch_real_observers");
    g.throughput(Throughput::Elements(1));
    let (trivial, _keep_trivial) = rt.block_on(trivial_registry(3, ObserverOptions::best_effort()));
    let (real, _keep_real) = rt.block_on(real_registry());
    bench_one_upsert(&mut g, &rt, "trivial_x3", &trivial);
    bench_one_upsert(&mut g, &rt, "dht_mesh_validators", &real);

    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1_000));
    let (trivial, _keep_trivial) = rt.block_on(trivial_registry(3, ObserverOptions::best_effort()));
    let (real, kept_real) = rt.block_on(real_registry());
    bench_batch(&mut g, &rt, "trivial_x3", &trivial);
    bench_batch(&mut g, &rt, "dht_mesh_validators", &real);
    g.finish();
    println!(
        "after the batch rounds: {} peers in the registry, {} DHT entries (k = 20), \
         {} mesh nodes, {} validators",
        real.len(),
        kept_real.dht.len(),
        kept_real.mesh.node_count(),
        kept_real.validators.len(),
    );
}

criterion_group!(benches, one_upsert, batch_commit, real_observers);
criterion_main!(benches);
