//! `MeshObserver` driven by a real `PeerRegistry`: each event rule, replay,
//! exact rollback, and the guards on application link changes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tazcom_mesh::{MeshError, MeshObserver, PeerId, Reachability};
use tazcom_registry::{
    Observer, ObserverError, ObserverOptions, Origin, PeerEntry, PeerRegistry, RegistryError,
    RegistryEvent, Source,
};

fn p(n: u8) -> PeerId {
    PeerId::from_bytes([n; 32])
}

fn entry(n: u8, addrs: usize) -> PeerEntry {
    let mut e = PeerEntry::new(p(n), Source::Static);
    e.addrs = (0..addrs)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16)))
        .collect();
    e
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

async fn setup() -> (PeerRegistry, Arc<MeshObserver>, Arc<Refuser>) {
    let registry = PeerRegistry::new();
    let mesh = Arc::new(MeshObserver::new(p(0)));
    let refuser = Arc::new(Refuser::default());
    registry
        .register_observer(&mesh, ObserverOptions::critical())
        .await
        .unwrap();
    registry
        .register_observer(&refuser, ObserverOptions::critical())
        .await
        .unwrap();
    (registry, mesh, refuser)
}

#[tokio::test(flavor = "current_thread")]
async fn added_with_an_address_links_the_local_node() {
    let (registry, mesh, _r) = setup().await;
    registry.upsert(entry(1, 1)).await.unwrap();
    assert_eq!(mesh.local_neighbours(), vec![p(1)]);
    assert_eq!(mesh.neighbours(&p(1)), vec![p(0)]);
    assert_eq!(mesh.stats().commits, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn added_without_an_address_is_a_vertex_but_not_a_neighbour() {
    let (registry, mesh, _r) = setup().await;
    registry.upsert(entry(1, 0)).await.unwrap();
    assert!(mesh.contains(&p(1)));
    assert!(mesh.local_neighbours().is_empty());
    assert_eq!((mesh.node_count(), mesh.link_count()), (2, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn updated_links_and_unlinks_as_reachability_changes() {
    let (registry, mesh, _r) = setup().await;
    registry.upsert(entry(1, 0)).await.unwrap();
    registry.upsert(entry(1, 2)).await.unwrap();
    assert_eq!(mesh.local_neighbours(), vec![p(1)]);
    registry.upsert(entry(1, 1)).await.unwrap();
    assert_eq!(mesh.local_neighbours(), vec![p(1)], "still reachable");
    registry.upsert(entry(1, 0)).await.unwrap();
    assert!(mesh.local_neighbours().is_empty());
    assert!(mesh.contains(&p(1)), "still in the registry");
}

#[tokio::test(flavor = "current_thread")]
async fn removed_takes_the_peer_and_all_its_links() {
    let (registry, mesh, _r) = setup().await;
    registry.upsert(entry(1, 1)).await.unwrap();
    registry.upsert(entry(2, 1)).await.unwrap();
    mesh.add_link(p(1), p(3)).unwrap();
    mesh.add_link(p(1), p(2)).unwrap();
    mesh.add_link(p(3), p(4)).unwrap();
    registry.remove(&p(1)).await.unwrap();
    assert!(!mesh.contains(&p(1)));
    let snap = mesh.snapshot();
    assert_eq!(snap.links(), vec![(p(0), p(2)), (p(3), p(4))]);
    assert_eq!(snap.peers(), vec![p(0), p(2), p(3), p(4)]);
}

#[tokio::test(flavor = "current_thread")]
async fn entries_for_the_local_node_are_ignored() {
    let (registry, mesh, _r) = setup().await;
    registry.upsert(entry(0, 1)).await.unwrap();
    assert_eq!((mesh.node_count(), mesh.link_count()), (1, 0));
    registry.remove(&p(0)).await.unwrap();
    assert!(mesh.contains(&p(0)));
    assert_eq!(mesh.stats().local_entries_ignored, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn replay_at_registration_builds_the_mesh() {
    let registry = PeerRegistry::new();
    registry.upsert(entry(1, 1)).await.unwrap();
    registry.upsert(entry(2, 0)).await.unwrap();
    registry.upsert(entry(3, 1)).await.unwrap();
    let mesh = Arc::new(MeshObserver::new(p(0)));
    registry
        .register_observer(&mesh, ObserverOptions::best_effort())
        .await
        .unwrap();
    assert_eq!(mesh.local_neighbours(), vec![p(1), p(3)]);
    assert!(mesh.contains(&p(2)));
    assert_eq!(mesh.stats().replays, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn aborted_removal_restores_the_peer_with_all_its_links() {
    let (registry, mesh, refuser) = setup().await;
    registry.upsert(entry(1, 1)).await.unwrap();
    mesh.add_link(p(1), p(2)).unwrap();
    mesh.add_link(p(1), p(3)).unwrap();
    let before = mesh.snapshot();

    refuser.fail.store(true, Ordering::SeqCst);
    let err = registry.remove(&p(1)).await.unwrap_err();
    assert!(matches!(err, RegistryError::Aborted { .. }), "{err:?}");
    assert_eq!(mesh.snapshot(), before);
    assert_eq!(mesh.stats().rollbacks, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn aborted_batch_undoes_added_links_and_vertices() {
    let (registry, mesh, refuser) = setup().await;
    registry.upsert(entry(1, 1)).await.unwrap();
    registry.upsert(entry(2, 0)).await.unwrap();
    mesh.add_link(p(2), p(5)).unwrap();
    let before = mesh.snapshot();

    refuser.fail.store(true, Ordering::SeqCst);
    let mut batch = registry.batch();
    batch
        .upsert(entry(3, 1)) // new vertex and link
        .upsert(entry(2, 1)) // link gained
        .upsert(entry(1, 0)) // link lost
        .remove(&p(2)) // removed with its gossip link
        .upsert(entry(2, 1)); // and back, without it
    assert!(batch.commit().await.is_err());
    assert_eq!(mesh.snapshot(), before);

    // The same batch committed for real.
    refuser.fail.store(false, Ordering::SeqCst);
    let mut batch = registry.batch();
    batch
        .upsert(entry(3, 1))
        .upsert(entry(2, 1))
        .upsert(entry(1, 0))
        .remove(&p(2))
        .upsert(entry(2, 1));
    batch.commit().await.unwrap();
    assert_eq!(mesh.local_neighbours(), vec![p(2), p(3)]);
    assert_eq!(
        mesh.neighbours(&p(2)),
        vec![p(0)],
        "the gossip link went with the removal"
    );
    assert!(mesh.contains(&p(5)) && mesh.neighbours(&p(5)).is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn verified_rule_needs_verification_and_an_address() {
    let registry = PeerRegistry::new();
    let mesh = Arc::new(MeshObserver::with_reachability(
        p(0),
        Reachability::VerifiedWithAddress,
    ));
    registry
        .register_observer(&mesh, ObserverOptions::critical())
        .await
        .unwrap();
    assert_eq!(mesh.reachability(), Reachability::VerifiedWithAddress);
    registry.upsert(entry(1, 1)).await.unwrap();
    assert!(mesh.local_neighbours().is_empty(), "address but unverified");
    let mut verified = entry(1, 0);
    verified.verified = true;
    registry.upsert(verified.clone()).await.unwrap();
    assert!(
        mesh.local_neighbours().is_empty(),
        "verified but no address"
    );
    verified.addrs = entry(1, 1).addrs;
    registry.upsert(verified).await.unwrap();
    assert_eq!(mesh.local_neighbours(), vec![p(1)]);
}

#[test]
fn application_cannot_change_the_local_nodes_links() {
    let mesh = MeshObserver::new(p(0));
    assert_eq!(
        mesh.add_link(p(0), p(1)),
        Err(MeshError::LocalLinkFollowsRegistry { peer: p(1) })
    );
    assert_eq!(
        mesh.remove_link(&p(2), &p(0)),
        Err(MeshError::LocalLinkFollowsRegistry { peer: p(2) })
    );
    assert_eq!(
        mesh.add_link(p(1), p(1)),
        Err(MeshError::SelfLink { peer: p(1) })
    );
    assert_eq!(mesh.node_count(), 1, "nothing was added");
    assert_eq!(mesh.add_link(p(1), p(2)), Ok(true));
    assert_eq!(mesh.remove_link(&p(2), &p(1)), Ok(true));
}

#[tokio::test(flavor = "current_thread")]
async fn application_removes_gossip_peers_but_not_reachable_registry_peers() {
    let (registry, mesh, _r) = setup().await;
    registry.upsert(entry(1, 1)).await.unwrap();
    mesh.add_link(p(1), p(2)).unwrap();
    assert_eq!(
        mesh.remove_node(&p(1)),
        Err(MeshError::LocalLinkFollowsRegistry { peer: p(1) })
    );
    assert_eq!(
        mesh.remove_node(&p(0)),
        Err(MeshError::LocalNode { peer: p(0) })
    );
    assert_eq!(mesh.remove_node(&p(2)), Ok(Some(vec![p(1)])));
    assert_eq!(mesh.remove_node(&p(2)), Ok(None));
}

#[tokio::test(flavor = "current_thread")]
async fn queries_through_the_observer_match_the_snapshot() {
    let (registry, mesh, _r) = setup().await;
    for n in 1..=4 {
        registry.upsert(entry(n, 1)).await.unwrap();
    }
    mesh.add_link(p(4), p(7)).unwrap();
    mesh.add_link(p(8), p(9)).unwrap();
    let snap = mesh.snapshot();
    assert_eq!(mesh.hop_count(&p(1), &p(7)), Some(3));
    assert_eq!(
        mesh.shortest_path(&p(1), &p(7)),
        snap.shortest_path(&p(1), &p(7))
    );
    assert_eq!(mesh.connected_components(), snap.connected_components());
    assert_eq!(mesh.connected_components().len(), 2);
    assert_eq!(mesh.fanout(2, 99), snap.fanout(2, 99));
    assert_eq!(mesh.local(), p(0));
    assert_eq!(mesh.link_count(), 6);
}
