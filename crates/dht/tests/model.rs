//! Property tests: retention rules against a naive model, `closest` against
//! brute force, and exact rollback of aborted registry commits.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use common::{addr, Gate};
use proptest::prelude::*;
use tazcom_dht::{DhtConfig, DhtObserver, Distance, InsertOutcome, PeerId, RoutingTable};
use tazcom_registry::{ObserverOptions, PeerEntry, PeerRegistry, Source};

#[derive(Debug, Clone)]
enum Op {
    /// Insert pool[i] (the local id when i = pool size) at port p.
    Insert(usize, u16),
    Remove(usize),
}

fn op(pool: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..=pool, 1u16..4).prop_map(|(i, p)| Op::Insert(i, p)),
        1 => (0..=pool).prop_map(Op::Remove),
    ]
}

/// A local id, a pool of distinct peer ids (never the local one), k, cache.
fn setup(max_pool: usize) -> impl Strategy<Value = (PeerId, Vec<PeerId>, usize, usize)> {
    (
        any::<[u8; 32]>(),
        prop::collection::btree_set(any::<[u8; 32]>(), 1..max_pool),
        2usize..=4,
        0usize..=4,
    )
        .prop_map(|(local, pool, k, cache)| {
            let peers = pool
                .into_iter()
                .filter(|b| *b != local)
                .map(PeerId::from_bytes)
                .collect();
            (PeerId::from_bytes(local), peers, k, cache)
        })
}

fn pick(pool: &[PeerId], local: PeerId, i: usize) -> PeerId {
    pool.get(i).copied().unwrap_or(local)
}

/// A contact in the model.
type Slot = (PeerId, Vec<SocketAddr>);

/// The retention rules, written as plainly as possible.
struct Model {
    local: PeerId,
    k: usize,
    cache: usize,
    /// bucket index → (entries, cache), oldest first.
    buckets: BTreeMap<usize, (Vec<Slot>, Vec<Slot>)>,
}

impl Model {
    /// Index of the highest differing bit, by scanning bits from the top.
    fn bucket(&self, p: &PeerId) -> Option<usize> {
        let (a, b) = (self.local.as_bytes(), p.as_bytes());
        (0..256)
            .find(|bit| {
                let (byte, shift) = (bit / 8, 7 - bit % 8);
                (a[byte] >> shift) & 1 != (b[byte] >> shift) & 1
            })
            .map(|bit| 255 - bit)
    }

    fn insert(&mut self, p: PeerId, addrs: Vec<SocketAddr>) -> InsertOutcome {
        let Some(i) = self.bucket(&p) else {
            return InsertOutcome::IsLocal;
        };
        let (k, cache) = (self.k, self.cache);
        let (entries, pending) = self.buckets.entry(i).or_default();
        if entries.iter().any(|(q, _)| *q == p) {
            entries.retain(|(q, _)| *q != p);
            entries.push((p, addrs));
            return InsertOutcome::Updated;
        }
        pending.retain(|(q, _)| *q != p);
        if entries.len() < k {
            entries.push((p, addrs));
            return InsertOutcome::Inserted;
        }
        let oldest = entries[0].0;
        if cache == 0 {
            return InsertOutcome::Discarded { oldest };
        }
        pending.push((p, addrs));
        if pending.len() > cache {
            pending.remove(0);
        }
        InsertOutcome::Pending { oldest }
    }

    fn remove(&mut self, p: PeerId) {
        let Some(i) = self.bucket(&p) else { return };
        let (entries, pending) = self.buckets.entry(i).or_default();
        let before = entries.len();
        entries.retain(|(q, _)| *q != p);
        if entries.len() < before {
            if let Some(promoted) = pending.pop() {
                entries.push(promoted);
            }
        } else {
            pending.retain(|(q, _)| *q != p);
        }
    }
}

fn assert_same(table: &RoutingTable, model: &Model) -> Result<(), TestCaseError> {
    let mut len = 0;
    for index in 0..256 {
        let view = table.bucket(index).expect("index < 256");
        let got = |l: &[tazcom_dht::Contact]| -> Vec<Slot> {
            l.iter().map(|c| (c.peer_id, c.addrs.clone())).collect()
        };
        let (entries, pending) = model.buckets.get(&index).cloned().unwrap_or_default();
        prop_assert_eq!(got(&view.entries), entries, "entries of bucket {}", index);
        prop_assert_eq!(got(&view.pending), pending, "cache of bucket {}", index);
        // Invariants: sizes, a cache only beside a full bucket, no local id,
        // every contact in the right bucket.
        prop_assert!(view.entries.len() <= model.k);
        prop_assert!(view.pending.len() <= model.cache);
        prop_assert!(view.pending.is_empty() || view.entries.len() == model.k);
        for c in view.entries.iter().chain(&view.pending) {
            prop_assert_ne!(c.peer_id, model.local);
            prop_assert_eq!(table.bucket_index_of(&c.peer_id), Some(index));
        }
        len += view.entries.len();
    }
    prop_assert_eq!(table.len(), len);
    Ok(())
}

proptest! {
    #[test]
    fn retention_follows_the_rules(
        (local, pool, k, cache) in setup(40),
        ops in prop::collection::vec(op(40), 1..120),
    ) {
        let config = DhtConfig::default().with_k(k).with_replacement_cache(cache);
        let mut table = RoutingTable::new(local, config).expect("valid");
        let mut model = Model { local, k, cache, buckets: BTreeMap::new() };
        for op in ops {
            match op {
                Op::Insert(i, port) => {
                    let p = pick(&pool, local, i);
                    prop_assert_eq!(table.insert(p, addr(port)), model.insert(p, addr(port)));
                }
                Op::Remove(i) => {
                    let p = pick(&pool, local, i);
                    table.remove(&p);
                    model.remove(p);
                }
            }
            assert_same(&table, &model)?;
        }
    }

    #[test]
    fn closest_matches_a_brute_force_sort_of_the_entries(
        (local, pool, k, cache) in setup(200),
        ops in prop::collection::vec(op(200), 1..300),
        targets in prop::collection::vec((any::<[u8; 32]>(), any::<prop::sample::Index>(), 0usize..40), 1..20),
    ) {
        let config = DhtConfig::default().with_k(k).with_replacement_cache(cache);
        let mut table = RoutingTable::new(local, config).expect("valid");
        for op in ops {
            match op {
                Op::Insert(i, port) => { table.insert(pick(&pool, local, i), addr(port)); }
                Op::Remove(i) => { table.remove(&pick(&pool, local, i)); }
            }
        }
        let members: Vec<PeerId> = table
            .buckets()
            .flat_map(|b| b.entries.into_iter().map(|c| c.peer_id))
            .collect();
        prop_assert_eq!(members.len(), table.len());
        for (random, member, n) in targets {
            // Half the targets are random keys, half are stored peers or the local id.
            let candidates = [PeerId::from_bytes(random), *member.get(&pool), local];
            for target in candidates {
                let mut expected: Vec<(PeerId, Distance)> = members
                    .iter()
                    .map(|p| (*p, Distance::between(p, &target)))
                    .collect();
                expected.sort_by_key(|&(_, d)| d);
                expected.truncate(n);
                let got = table.closest(&target, n);
                prop_assert!(got.iter().all(|(p, _)| *p != local));
                prop_assert_eq!(got, expected);
            }
        }
    }
}

/// One registry operation of a batch.
#[derive(Debug, Clone)]
enum RegOp {
    Upsert(usize, u16),
    Remove(usize),
}

fn reg_op(pool: usize) -> impl Strategy<Value = RegOp> {
    prop_oneof![
        3 => (0..=pool, 1u16..4).prop_map(|(i, p)| RegOp::Upsert(i, p)),
        1 => (0..=pool).prop_map(RegOp::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn aborted_batches_leave_the_table_exactly_as_before(
        (local, pool, k, cache) in setup(30),
        steps in prop::collection::vec(
            (prop::collection::vec(reg_op(30), 1..6), any::<bool>()),
            1..30,
        ),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            let registry = PeerRegistry::new();
            let config = DhtConfig::default().with_k(k).with_replacement_cache(cache);
            let dht = Arc::new(DhtObserver::new(local, config).expect("valid"));
            let gate = Gate::new();
            registry.register_observer(&dht, ObserverOptions::critical()).await.expect("dht");
            registry.register_observer(&gate, ObserverOptions::critical()).await.expect("gate");
            // The same operations applied to a plain table, commits only.
            let mut reference = RoutingTable::new(local, config).expect("valid");
            let mut clock = 0u64;
            for (ops, abort) in steps {
                let before = dht.snapshot();
                let mut next = reference.clone();
                let mut batch = registry.batch();
                for op in &ops {
                    match *op {
                        RegOp::Upsert(i, port) => {
                            let p = pick(&pool, local, i);
                            // A fresh last-seen makes every upsert a change.
                            clock += 1;
                            let mut e = PeerEntry::new(p, Source::Static);
                            e.addrs = addr(port);
                            e.last_seen_ms = clock;
                            batch.upsert(e);
                            next.insert(p, addr(port));
                        }
                        RegOp::Remove(i) => {
                            let p = pick(&pool, local, i);
                            batch.remove(&p);
                            next.remove(&p);
                        }
                    }
                }
                if abort {
                    gate.arm();
                }
                let result = batch.commit().await;
                gate.disarm();
                if result.is_err() {
                    prop_assert!(abort);
                    prop_assert_eq!(&dht.snapshot(), &before);
                } else {
                    // An armed gate only lets through a batch with no change.
                    if abort {
                        prop_assert_eq!(&dht.snapshot(), &before);
                    }
                    reference = next;
                    prop_assert_eq!(&dht.snapshot(), &reference);
                }
                prop_assert!(!dht.contains(&local));
            }
            Ok(())
        })?;
    }
}
