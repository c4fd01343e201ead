//! Property test: random upserts / removes / batches with random observer
//! failures and timeouts. After every commit, each observer's mirror equals
//! the registry, and a failed commit changed nothing anywhere.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{entry, peers, AsyncMirror, Fault, Mirror};
use proptest::prelude::*;
use tazcom_identity::PeerId;
use tazcom_registry::{
    BatchUpdate, ObserverOptions, ObserverRegistryConfig, PeerRegistry, RegistryError,
};

#[derive(Debug, Clone)]
enum Step {
    Upsert { peer: usize, port: u16 },
    Remove { peer: usize },
    RemoveByInstance { peer: usize },
}

#[derive(Debug, Clone)]
struct Commit {
    steps: Vec<Step>,
    batch: bool,
    /// Which observer misbehaves (index into the four), and how.
    fault: Option<(usize, Fault)>,
}

const PEERS: usize = 6;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..PEERS, 0..3u16).prop_map(|(peer, port)| Step::Upsert { peer, port }),
        1 => (0..PEERS).prop_map(|peer| Step::Remove { peer }),
        1 => (0..PEERS).prop_map(|peer| Step::RemoveByInstance { peer }),
    ]
}

fn fault() -> impl Strategy<Value = Option<(usize, Fault)>> {
    prop_oneof![
        3 => Just(None),
        1 => (0..4usize, prop_oneof![
            Just(Fault::Refuse), Just(Fault::Partial), Just(Fault::Hang), Just(Fault::FailAfter)
        ]).prop_map(Some),
    ]
}

fn commit() -> impl Strategy<Value = Commit> {
    (prop::collection::vec(step(), 1..6), any::<bool>(), fault()).prop_map(
        |(steps, batch, fault)| Commit {
            steps,
            batch,
            fault,
        },
    )
}

struct World {
    reg: PeerRegistry,
    ids: Vec<PeerId>,
    /// critical sync, critical async, best-effort sync, best-effort async
    mirrors: [Arc<Mirror>; 4],
    _async: [Arc<AsyncMirror>; 2],
}

impl World {
    async fn new() -> Self {
        let reg = PeerRegistry::with_config(
            ObserverRegistryConfig::default()
                .with_max_consecutive_failures(1_000)
                .with_default_async_timeout(Duration::from_millis(100)),
        )
        .unwrap();
        let mirrors = ["crit-sync", "crit-async", "be-sync", "be-async"].map(Mirror::new);
        let a1 = Arc::new(AsyncMirror(Arc::clone(&mirrors[1])));
        let a3 = Arc::new(AsyncMirror(Arc::clone(&mirrors[3])));
        reg.register_observer(&mirrors[0], ObserverOptions::critical())
            .await
            .unwrap();
        reg.register_async_observer(&a1, ObserverOptions::critical())
            .await
            .unwrap();
        reg.register_observer(&mirrors[2], ObserverOptions::best_effort())
            .await
            .unwrap();
        reg.register_async_observer(&a3, ObserverOptions::best_effort())
            .await
            .unwrap();
        Self {
            reg,
            ids: peers(PEERS),
            mirrors,
            _async: [a1, a3],
        }
    }

    async fn run(&self, c: &Commit) -> Result<(), RegistryError> {
        if c.batch {
            let mut b: BatchUpdate = self.reg.batch();
            for s in &c.steps {
                match *s {
                    Step::Upsert { peer, port } => b.upsert(entry(self.ids[peer], port)),
                    Step::Remove { peer } => b.remove(&self.ids[peer]),
                    Step::RemoveByInstance { peer } => {
                        b.remove_by_instance(&format!("TAZCOM Node {}", self.ids[peer].short()))
                    }
                };
            }
            b.commit().await.map(|_| ())
        } else {
            for s in &c.steps {
                match *s {
                    Step::Upsert { peer, port } => self
                        .reg
                        .upsert(entry(self.ids[peer], port))
                        .await
                        .map(|_| ())?,
                    Step::Remove { peer } => self.reg.remove(&self.ids[peer]).await.map(|_| ())?,
                    Step::RemoveByInstance { peer } => self
                        .reg
                        .remove_by_instance(&format!("TAZCOM Node {}", self.ids[peer].short()))
                        .await
                        .map(|_| ())?,
                }
            }
            Ok(())
        }
    }
}

/// A hang in a sync observer is just slow (no timeout set), so only the
/// async ones get `Hang`; best-effort observers that fail must have applied
/// (`FailAfter`) for their mirror to stay equal — a best-effort failure is
/// by definition not rolled back.
fn effective(fault: Option<(usize, Fault)>) -> Option<(usize, Fault)> {
    match fault {
        Some((i, _)) if i >= 2 => Some((i, Fault::FailAfter)),
        Some((0, Fault::Hang)) => Some((0, Fault::Refuse)),
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn mirrors_equal_registry_after_every_commit(commits in prop::collection::vec(commit(), 1..25)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let w = World::new().await;
            for c in &commits {
                let fault = effective(c.fault);
                if let Some((i, f)) = fault {
                    w.mirrors[i].arm(f);
                }
                let before = w.reg.snapshot();
                let seq_before = w.reg.last_seq();
                let result = w.run(c).await;
                // A fault that was not consumed (e.g. nothing changed) must
                // not leak into the next commit.
                for m in &w.mirrors {
                    m.arm(Fault::None);
                }
                let now = w.reg.snapshot();
                let critical_fault = matches!(fault, Some((i, _)) if i < 2);
                if let Err(e) = &result {
                    prop_assert!(critical_fault, "only a critical fault aborts: {e}");
                    if c.batch {
                        prop_assert_eq!(&now, &before, "failed batch changed the registry");
                        prop_assert_eq!(w.reg.last_seq(), seq_before);
                    }
                }
                for m in &w.mirrors {
                    prop_assert_eq!(m.contents(), now.clone(), "mirror {} differs", m.name);
                }
                // Every observer saw committed seqs exactly once, in order.
                let expected: Vec<u64> = (1..=w.reg.last_seq()).collect();
                for m in &w.mirrors[2..] {
                    prop_assert_eq!(m.seqs(), expected.clone(), "best-effort {} log", m.name);
                }
            }
            Ok(())
        })?;
    }
}
