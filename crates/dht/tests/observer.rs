//! The registry observer: how events map to table operations, and rollback.

mod common;

use std::sync::Arc;

use common::{addr, peer, Gate, LOCAL};
use tazcom_dht::{DhtConfig, DhtObserver, PeerId, RoutingTable};
use tazcom_registry::{ObserverOptions, PeerEntry, PeerRegistry, RegistryError, Source};

fn entry(p: PeerId, port: u16) -> PeerEntry {
    let mut e = PeerEntry::new(p, Source::Static);
    e.addrs = addr(port);
    e
}

fn order(dht: &DhtObserver, index: usize) -> (Vec<PeerId>, Vec<PeerId>) {
    let table = dht.snapshot();
    let b = table.bucket(index).expect("bucket");
    (
        b.entries.iter().map(|c| c.peer_id).collect(),
        b.pending.iter().map(|c| c.peer_id).collect(),
    )
}

async fn setup(k: usize) -> (PeerRegistry, Arc<DhtObserver>, Arc<Gate>) {
    let registry = PeerRegistry::new();
    let dht = Arc::new(DhtObserver::new(LOCAL, DhtConfig::default().with_k(k)).expect("config"));
    let gate = Gate::new();
    registry
        .register_observer(&dht, ObserverOptions::critical())
        .await
        .expect("register dht");
    registry
        .register_observer(&gate, ObserverOptions::critical())
        .await
        .expect("register gate");
    (registry, dht, gate)
}

#[tokio::test(flavor = "current_thread")]
async fn added_inserts_updated_refreshes_removed_promotes() {
    let (registry, dht, _gate) = setup(2).await;
    let (a, b, c) = (peer(64, 1), peer(64, 2), peer(64, 3));
    for p in [a, b, c] {
        registry.upsert(entry(p, 1)).await.expect("upsert");
    }
    assert_eq!(order(&dht, 64), (vec![a, b], vec![c]));
    assert_eq!(dht.len(), 2);

    // Updated (new address): a moves to the tail with the new address.
    registry.upsert(entry(a, 2)).await.expect("update");
    assert_eq!(order(&dht, 64), (vec![b, a], vec![c]));
    assert_eq!(dht.snapshot().get(&a).expect("entry").addrs, addr(2));

    // Removed: c is promoted.
    registry.remove(&b).await.expect("remove");
    assert_eq!(order(&dht, 64), (vec![a, c], vec![]));
    assert!(dht.contains(&c) && !dht.contains(&b));
}

#[tokio::test(flavor = "current_thread")]
async fn a_refresh_of_last_seen_counts_as_seen_again() {
    let (registry, dht, _gate) = setup(3).await;
    let (a, b) = (peer(64, 1), peer(64, 2));
    registry.upsert(entry(a, 1)).await.expect("upsert");
    registry.upsert(entry(b, 1)).await.expect("upsert");
    let mut again = entry(a, 1);
    again.last_seen_ms += 1000;
    registry.upsert(again).await.expect("refresh");
    assert_eq!(order(&dht, 64).0, vec![b, a]);
}

#[tokio::test(flavor = "current_thread")]
async fn registration_replays_the_stored_peers() {
    let registry = PeerRegistry::new();
    for n in 1..=3 {
        registry
            .upsert(entry(peer(64, n), 1))
            .await
            .expect("upsert");
    }
    let dht = Arc::new(DhtObserver::new(LOCAL, DhtConfig::default().with_k(2)).expect("config"));
    registry
        .register_observer(&dht, ObserverOptions::best_effort())
        .await
        .expect("register");
    assert_eq!(dht.len(), 2);
    assert_eq!(dht.snapshot().pending_len(), 1);
    assert_eq!(dht.buckets().len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn the_local_id_from_the_registry_is_not_stored() {
    let (registry, dht, _gate) = setup(2).await;
    registry.upsert(entry(LOCAL, 1)).await.expect("upsert");
    assert!(dht.is_empty());
    assert!(dht.closest(&LOCAL, 3).is_empty());
    assert_eq!(dht.local_id(), LOCAL);
}

#[tokio::test(flavor = "current_thread")]
async fn an_aborted_update_restores_the_bucket_order_exactly() {
    let (registry, dht, gate) = setup(3).await;
    let peers: Vec<PeerId> = (1..=5).map(|n| peer(64, n)).collect();
    for p in &peers {
        registry.upsert(entry(*p, 1)).await.expect("upsert");
    }
    let before = dht.snapshot();

    // An update moves the head to the tail; aborted, the head is back.
    gate.arm();
    let err = registry.upsert(entry(peers[0], 7)).await.unwrap_err();
    assert!(matches!(err, RegistryError::Aborted { .. }));
    assert_eq!(dht.snapshot(), before);

    // A removal promotes from the cache; aborted, the cache is back.
    gate.arm();
    assert!(registry.remove(&peers[1]).await.is_err());
    assert_eq!(dht.snapshot(), before);
}

#[tokio::test(flavor = "current_thread")]
async fn an_aborted_batch_restores_buckets_and_caches_exactly() {
    let (registry, dht, gate) = setup(2).await;
    for n in 1..=4 {
        registry
            .upsert(entry(peer(64, n), 1))
            .await
            .expect("upsert");
    }
    let before: RoutingTable = dht.snapshot();
    gate.arm();
    let mut batch = registry.batch();
    batch
        .remove(&peer(64, 1))
        .upsert(entry(peer(64, 3), 9))
        .upsert(entry(peer(64, 9), 1))
        .upsert(entry(peer(200, 1), 1))
        .remove(&peer(64, 2));
    assert!(batch.commit().await.is_err());
    assert_eq!(dht.snapshot(), before);

    // The same batch, committed, changes the table.
    let mut batch = registry.batch();
    batch.remove(&peer(64, 1)).upsert(entry(peer(200, 1), 1));
    batch.commit().await.expect("commit");
    assert_ne!(dht.snapshot(), before);
    assert!(dht.contains(&peer(200, 1)));
}
