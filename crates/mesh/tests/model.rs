//! Property tests: the observer's mesh against a plain reference model, and
//! exact rollback of random aborted batches.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use tazcom_mesh::{MeshError, MeshObserver, PeerId};
use tazcom_registry::{
    Observer, ObserverError, ObserverOptions, Origin, PeerEntry, PeerRegistry, RegistryEvent,
    Source, Upsert,
};

/// Peers 0..UNIVERSE; 0 is the local node.
const UNIVERSE: u8 = 8;
const LOCAL: u8 = 0;

fn p(n: u8) -> PeerId {
    PeerId::from_bytes([n; 32])
}

fn entry(n: u8, addrs: u8) -> PeerEntry {
    let mut e = PeerEntry::new(p(n), Source::Mdns);
    e.addrs = (0..addrs)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 9000 + u16::from(i))))
        .collect();
    e
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// A critical observer that refuses commits while `fail` is set.
#[derive(Default)]
struct Refuser {
    fail: AtomicBool,
}

impl Observer for Refuser {
    fn name(&self) -> &str {
        "refuser"
    }
    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        if event.origin == Origin::Commit && self.fail.load(Ordering::SeqCst) {
            return Err(ObserverError::new("refused by test"));
        }
        Ok(())
    }
}

/// The reference: adjacency sets, written without petgraph.
#[derive(Debug, Clone, Default)]
struct Model {
    adj: BTreeMap<PeerId, BTreeSet<PeerId>>,
}

impl Model {
    fn new() -> Self {
        let mut m = Model::default();
        m.adj.insert(p(LOCAL), BTreeSet::new());
        m
    }

    fn link(&mut self, a: PeerId, b: PeerId) {
        self.adj.entry(a).or_default().insert(b);
        self.adj.entry(b).or_default().insert(a);
    }

    fn unlink(&mut self, a: PeerId, b: PeerId) {
        if let Some(s) = self.adj.get_mut(&a) {
            s.remove(&b);
        }
        if let Some(s) = self.adj.get_mut(&b) {
            s.remove(&a);
        }
    }

    fn remove(&mut self, a: PeerId) {
        for n in self.adj.remove(&a).unwrap_or_default() {
            if let Some(s) = self.adj.get_mut(&n) {
                s.remove(&a);
            }
        }
    }

    /// A registry Added/Updated for `a`.
    fn upsert(&mut self, a: PeerId, reachable: bool) {
        self.adj.entry(a).or_default();
        if reachable {
            self.link(a, p(LOCAL));
        } else {
            self.unlink(a, p(LOCAL));
        }
    }

    fn links(&self) -> Vec<(PeerId, PeerId)> {
        let mut out = Vec::new();
        for (a, ns) in &self.adj {
            out.extend(ns.iter().filter(|b| a < *b).map(|b| (*a, *b)));
        }
        out
    }

    fn distances(&self, from: PeerId) -> BTreeMap<PeerId, usize> {
        let mut dist = BTreeMap::from([(from, 0)]);
        let mut queue = VecDeque::from([from]);
        while let Some(at) = queue.pop_front() {
            let d = dist[&at];
            for n in &self.adj[&at] {
                if !dist.contains_key(n) {
                    dist.insert(*n, d + 1);
                    queue.push_back(*n);
                }
            }
        }
        dist
    }

    /// Lexicographically smallest shortest path: from `a`, always step to
    /// the smallest neighbour one hop closer to `b`.
    fn path(&self, a: PeerId, b: PeerId) -> Option<Vec<PeerId>> {
        if !self.adj.contains_key(&a) || !self.adj.contains_key(&b) {
            return None;
        }
        let to_b = self.distances(b);
        let mut at = a;
        let mut path = vec![a];
        while at != b {
            let d = *to_b.get(&at)?;
            at = *self.adj[&at]
                .iter()
                .find(|n| to_b.get(n) == Some(&(d - 1)))?;
            path.push(at);
        }
        Some(path)
    }

    fn components(&self) -> Vec<Vec<PeerId>> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for a in self.adj.keys() {
            if seen.insert(*a) {
                let c: Vec<PeerId> = self.distances(*a).into_keys().collect();
                seen.extend(c.iter().copied());
                out.push(c);
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Registry upsert with this many addresses.
    Upsert(u8, u8),
    /// Registry removal.
    Remove(u8),
    /// Application (gossip) link, unlink, node removal.
    Link(u8, u8),
    Unlink(u8, u8),
    Drop(u8),
}

fn peer() -> impl Strategy<Value = u8> {
    0..UNIVERSE
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (peer(), 0..3u8).prop_map(|(a, n)| Step::Upsert(a, n)),
        1 => peer().prop_map(Step::Remove),
        3 => (peer(), peer()).prop_map(|(a, b)| Step::Link(a, b)),
        1 => (peer(), peer()).prop_map(|(a, b)| Step::Unlink(a, b)),
        1 => peer().prop_map(Step::Drop),
    ]
}

/// What the observer must answer for an application link change.
fn expected_link_result(a: u8, b: u8) -> Result<(), MeshError> {
    if a == b {
        Err(MeshError::SelfLink { peer: p(a) })
    } else if a == LOCAL {
        Err(MeshError::LocalLinkFollowsRegistry { peer: p(b) })
    } else if b == LOCAL {
        Err(MeshError::LocalLinkFollowsRegistry { peer: p(a) })
    } else {
        Ok(())
    }
}

async fn run_step(registry: &PeerRegistry, mesh: &MeshObserver, model: &mut Model, step: &Step) {
    match *step {
        Step::Upsert(a, n) => {
            // Nothing is dispatched for an unchanged entry: mirror that.
            if registry.upsert(entry(a, n)).await.unwrap() != Upsert::Unchanged && a != LOCAL {
                model.upsert(p(a), n > 0);
            }
        }
        Step::Remove(a) => {
            if registry.remove(&p(a)).await.unwrap().is_some() && a != LOCAL {
                model.remove(p(a));
            }
        }
        Step::Link(a, b) => {
            let got = mesh.add_link(p(a), p(b));
            match expected_link_result(a, b) {
                Err(e) => assert_eq!(got, Err(e)),
                Ok(()) => {
                    let new = !model.adj.get(&p(a)).is_some_and(|s| s.contains(&p(b)));
                    assert_eq!(got, Ok(new));
                    model.link(p(a), p(b));
                }
            }
        }
        Step::Unlink(a, b) => {
            let got = mesh.remove_link(&p(a), &p(b));
            match expected_link_result(a, b) {
                Err(e) => assert_eq!(got, Err(e)),
                Ok(()) => {
                    let existed = model.adj.get(&p(a)).is_some_and(|s| s.contains(&p(b)));
                    assert_eq!(got, Ok(existed));
                    model.unlink(p(a), p(b));
                }
            }
        }
        Step::Drop(a) => {
            let got = mesh.remove_node(&p(a));
            let linked = model.adj[&p(LOCAL)].contains(&p(a));
            if a == LOCAL {
                assert_eq!(got, Err(MeshError::LocalNode { peer: p(a) }));
            } else if linked {
                assert_eq!(got, Err(MeshError::LocalLinkFollowsRegistry { peer: p(a) }));
            } else {
                let former = model.adj.get(&p(a)).map(|s| s.iter().copied().collect());
                assert_eq!(got, Ok(former));
                model.remove(p(a));
            }
        }
    }
}

fn check(mesh: &MeshObserver, model: &Model) {
    let snap = mesh.snapshot();
    assert_eq!(snap.peers(), model.adj.keys().copied().collect::<Vec<_>>());
    assert_eq!(snap.links(), model.links());
    assert_eq!(
        (snap.node_count(), snap.link_count()),
        (model.adj.len(), model.links().len())
    );
    assert_eq!(snap.connected_components(), model.components());
    let local: Vec<PeerId> = model.adj[&p(LOCAL)].iter().copied().collect();
    assert_eq!(mesh.local_neighbours(), local);
    for a in 0..UNIVERSE {
        assert_eq!(snap.contains(&p(a)), model.adj.contains_key(&p(a)));
        let want: Vec<PeerId> = model
            .adj
            .get(&p(a))
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        assert_eq!(snap.neighbours(&p(a)), want);
        for b in 0..UNIVERSE {
            let path = model.path(p(a), p(b));
            assert_eq!(
                snap.hop_count(&p(a), &p(b)),
                path.as_ref().map(|v| v.len() - 1)
            );
            assert_eq!(snap.shortest_path(&p(a), &p(b)), path, "{a} -> {b}");
        }
    }
    let mut fan = snap.fanout(3, 17);
    assert_eq!(fan.len(), local.len().min(3));
    fan.sort();
    fan.dedup();
    assert!(fan.iter().all(|x| local.contains(x)) && fan.len() == local.len().min(3));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mesh_follows_registry_and_gossip_like_the_reference(steps in prop::collection::vec(step(), 1..40)) {
        runtime().block_on(async {
            let registry = PeerRegistry::new();
            let mesh = Arc::new(MeshObserver::new(p(LOCAL)));
            registry.register_observer(&mesh, ObserverOptions::critical()).await.unwrap();
            let mut model = Model::new();
            for step in &steps {
                run_step(&registry, &mesh, &mut model, step).await;
                check(&mesh, &model);
            }
        });
    }

    #[test]
    fn aborted_batches_leave_the_mesh_exactly_as_before(
        rounds in prop::collection::vec(
            (
                prop::collection::vec((peer(), prop::option::of(0..3u8)), 0..8),
                any::<bool>(),
                prop::collection::vec((1..UNIVERSE, 1..UNIVERSE), 0..4),
            ),
            1..20,
        )
    ) {
        runtime().block_on(async {
            let registry = PeerRegistry::new();
            let mesh = Arc::new(MeshObserver::new(p(LOCAL)));
            let refuser = Arc::new(Refuser::default());
            // Registered after the mesh: the mesh applies, then is rolled back.
            registry.register_observer(&mesh, ObserverOptions::critical()).await.unwrap();
            registry.register_observer(&refuser, ObserverOptions::critical()).await.unwrap();
            let mut rollbacks = 0;
            for (ops, abort, gossip) in &rounds {
                for &(a, b) in gossip {
                    let _ = mesh.add_link(p(a), p(b));
                }
                let before = mesh.snapshot();
                refuser.fail.store(*abort, Ordering::SeqCst);
                let mut batch = registry.batch();
                for &(a, addrs) in ops {
                    match addrs {
                        Some(n) => batch.upsert(entry(a, n)),
                        None => batch.remove(&p(a)),
                    };
                }
                match batch.commit().await {
                    Err(_) => {
                        assert!(*abort);
                        rollbacks += 1;
                        assert_eq!(mesh.snapshot(), before);
                    }
                    Ok(outcome) if *abort => {
                        // Nothing changed, nothing was dispatched.
                        assert_eq!(outcome.seq, None);
                        assert_eq!(mesh.snapshot(), before);
                    }
                    Ok(_) => check_follows_registry(&registry, &mesh),
                }
                assert_eq!(mesh.stats().rollbacks, rollbacks);
                assert_eq!(mesh.stats().unmatched_rollbacks, 0);
            }
        });
    }
}

/// Every registry peer is a vertex, linked to the local node iff it has an address.
fn check_follows_registry(registry: &PeerRegistry, mesh: &MeshObserver) {
    let mut reachable: Vec<PeerId> = registry
        .snapshot()
        .iter()
        .filter(|e| e.peer_id != p(LOCAL) && !e.addrs.is_empty())
        .map(|e| e.peer_id)
        .collect();
    reachable.sort();
    assert_eq!(mesh.local_neighbours(), reachable);
    for e in registry.snapshot() {
        assert!(mesh.contains(&e.peer_id));
    }
}
