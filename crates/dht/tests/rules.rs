//! One test per rule of the routing table (see docs/dht.md).

mod common;

use common::{addr, peer, LOCAL};
use tazcom_dht::{DhtConfig, DhtError, Distance, InsertOutcome, PeerId, Removed, RoutingTable};

fn table(k: usize, cache: usize) -> RoutingTable {
    RoutingTable::new(
        LOCAL,
        DhtConfig::default().with_k(k).with_replacement_cache(cache),
    )
    .expect("valid config")
}

fn ids(list: &[tazcom_dht::Contact]) -> Vec<PeerId> {
    list.iter().map(|c| c.peer_id).collect()
}

#[test]
fn default_config_is_the_papers_k_and_a_cache_of_k() {
    let c = DhtConfig::default();
    assert_eq!((c.k, c.replacement_cache), (20, 20));
    assert_eq!(DhtConfig::default().with_k(3).replacement_cache, 3);
}

#[test]
fn k_zero_is_rejected_with_a_typed_error() {
    let err = RoutingTable::new(LOCAL, DhtConfig::default().with_k(0)).unwrap_err();
    assert!(matches!(err, DhtError::InvalidConfig { field: "k", .. }));
    assert!(err.to_string().contains("k must be at least 1"));
    assert!(RoutingTable::new(
        LOCAL,
        DhtConfig::default().with_k(1).with_replacement_cache(0)
    )
    .is_ok());
}

#[test]
fn local_id_is_never_inserted() {
    let mut t = table(2, 2);
    assert_eq!(t.insert(LOCAL, addr(1)), InsertOutcome::IsLocal);
    assert!(t.is_empty());
    assert!(!t.contains(&LOCAL));
    assert_eq!(t.remove(&LOCAL), None);
    assert!(t.closest(&LOCAL, 5).is_empty());
    assert_eq!(t.bucket_index_of(&LOCAL), None);
}

#[test]
fn a_peer_goes_in_the_bucket_of_its_highest_differing_bit() {
    let mut t = table(2, 2);
    let p = peer(200, 7);
    assert_eq!(t.insert(p, addr(1)), InsertOutcome::Inserted);
    assert_eq!(t.bucket_index_of(&p), Some(200));
    let b = t.bucket(200).expect("index < 256");
    assert_eq!(ids(&b.entries), vec![p]);
    assert_eq!(b.entries[0].addrs, addr(1));
    assert!(t.bucket(256).is_none());
    assert_eq!(t.len(), 1);
}

#[test]
fn a_known_peer_moves_to_the_tail_and_takes_the_new_addresses() {
    let mut t = table(3, 3);
    let (a, b, c) = (peer(100, 1), peer(100, 2), peer(100, 3));
    for p in [a, b, c] {
        t.insert(p, addr(1));
    }
    assert_eq!(t.insert(a, addr(2)), InsertOutcome::Updated);
    let bucket = t.bucket(100).expect("bucket");
    assert_eq!(ids(&bucket.entries), vec![b, c, a]);
    assert_eq!(t.get(&a).expect("entry").addrs, addr(2));
    assert_eq!(t.len(), 3);
}

#[test]
fn a_full_bucket_keeps_its_entries_and_parks_the_newcomer() {
    let mut t = table(2, 2);
    let (a, b, c) = (peer(50, 1), peer(50, 2), peer(50, 3));
    t.insert(a, addr(1));
    t.insert(b, addr(1));
    assert_eq!(t.insert(c, addr(3)), InsertOutcome::Pending { oldest: a });
    let bucket = t.bucket(50).expect("bucket");
    assert_eq!(ids(&bucket.entries), vec![a, b]);
    assert_eq!(ids(&bucket.pending), vec![c]);
    assert_eq!(bucket.pending[0].addrs, addr(3));
    assert!(!t.contains(&c));
    assert!(t.is_pending(&c));
    assert_eq!((t.len(), t.pending_len()), (2, 1));
}

#[test]
fn the_replacement_cache_keeps_the_most_recent_and_drops_the_oldest() {
    let mut t = table(1, 2);
    t.insert(peer(60, 0), addr(1));
    for n in 1..=4 {
        t.insert(peer(60, n), addr(1));
    }
    let bucket = t.bucket(60).expect("bucket");
    assert_eq!(ids(&bucket.pending), vec![peer(60, 3), peer(60, 4)]);
}

#[test]
fn a_cached_peer_seen_again_moves_to_the_cache_tail() {
    let mut t = table(1, 3);
    let head = peer(70, 0);
    t.insert(head, addr(1));
    for n in 1..=3 {
        t.insert(peer(70, n), addr(1));
    }
    let outcome = t.insert(peer(70, 1), addr(9));
    assert_eq!(outcome, InsertOutcome::Pending { oldest: head });
    let bucket = t.bucket(70).expect("bucket");
    assert_eq!(
        ids(&bucket.pending),
        vec![peer(70, 2), peer(70, 3), peer(70, 1)]
    );
    assert_eq!(bucket.pending[2].addrs, addr(9));
}

#[test]
fn without_a_cache_the_newcomer_to_a_full_bucket_is_discarded() {
    let mut t = table(1, 0);
    let head = peer(80, 0);
    t.insert(head, addr(1));
    assert_eq!(
        t.insert(peer(80, 1), addr(1)),
        InsertOutcome::Discarded { oldest: head }
    );
    assert_eq!(t.pending_len(), 0);
    assert!(!t.is_pending(&peer(80, 1)));
}

#[test]
fn removing_an_entry_promotes_the_most_recent_replacement() {
    let mut t = table(2, 3);
    let (a, b) = (peer(90, 1), peer(90, 2));
    t.insert(a, addr(1));
    t.insert(b, addr(1));
    for n in 3..=5 {
        t.insert(peer(90, n), addr(n.into()));
    }
    let removed = t.remove(&a).expect("was an entry");
    match removed {
        Removed::Entry { contact, promoted } => {
            assert_eq!(contact.peer_id, a);
            assert_eq!(promoted, Some(peer(90, 5)));
        }
        other => panic!("expected an entry removal, got {other:?}"),
    }
    let bucket = t.bucket(90).expect("bucket");
    assert_eq!(ids(&bucket.entries), vec![b, peer(90, 5)]);
    assert_eq!(bucket.entries[1].addrs, addr(5));
    assert_eq!(ids(&bucket.pending), vec![peer(90, 3), peer(90, 4)]);
    assert_eq!(t.len(), 2);
}

#[test]
fn removing_an_entry_with_an_empty_cache_promotes_nothing() {
    let mut t = table(2, 2);
    let a = peer(90, 1);
    t.insert(a, addr(1));
    assert_eq!(
        t.remove(&a),
        Some(Removed::Entry {
            contact: tazcom_dht::Contact {
                peer_id: a,
                addrs: addr(1)
            },
            promoted: None
        })
    );
    assert!(t.is_empty());
    assert_eq!(t.buckets().count(), 0);
}

#[test]
fn removing_a_cached_peer_leaves_the_bucket_alone() {
    let mut t = table(1, 2);
    t.insert(peer(99, 0), addr(1));
    t.insert(peer(99, 1), addr(2));
    assert_eq!(
        t.remove(&peer(99, 1)),
        Some(Removed::Pending(tazcom_dht::Contact {
            peer_id: peer(99, 1),
            addrs: addr(2)
        }))
    );
    assert_eq!(t.pending_len(), 0);
    assert_eq!(t.len(), 1);
    assert_eq!(t.remove(&peer(99, 1)), None);
    assert_eq!(t.remove(&peer(98, 1)), None);
}

#[test]
fn closest_is_sorted_by_xor_distance_and_includes_the_target() {
    let mut t = table(4, 4);
    let peers = [
        peer(255, 1),
        peer(255, 2),
        peer(254, 3),
        peer(10, 4),
        peer(9, 5),
        peer(200, 6),
    ];
    for p in peers {
        t.insert(p, addr(1));
    }
    let target = peer(10, 4);
    let got = t.closest(&target, 3);
    assert_eq!(got[0], (target, Distance::ZERO));
    assert_eq!(got[1].0, peer(9, 5));
    assert_eq!(got[2].0, peer(200, 6));
    for (p, d) in &got {
        assert_eq!(*d, Distance::between(p, &target));
    }
    assert_eq!(t.closest(&target, 100).len(), peers.len());
    assert!(t.closest(&target, 0).is_empty());
    assert_eq!(t.closest(&target, usize::MAX).len(), peers.len());
}

#[test]
fn closest_ignores_cached_peers() {
    let mut t = table(1, 2);
    t.insert(peer(30, 0), addr(1));
    t.insert(peer(30, 1), addr(1));
    let got = t.closest(&peer(30, 1), 5);
    assert_eq!(
        got.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        vec![peer(30, 0)]
    );
}

#[test]
fn buckets_lists_the_non_empty_ones_in_index_order() {
    let mut t = table(2, 2);
    t.insert(peer(40, 1), addr(1));
    t.insert(peer(12, 1), addr(1));
    t.insert(peer(255, 1), addr(1));
    let indexes: Vec<usize> = t.buckets().map(|b| b.index).collect();
    assert_eq!(indexes, vec![12, 40, 255]);
    assert_eq!(t.bucket(13).expect("exists").entries.len(), 0);
}

#[test]
fn len_counts_bucket_entries_but_not_caches_and_contains_matches() {
    let mut t = table(1, 5);
    for n in 0..4 {
        t.insert(peer(20, n), addr(1));
    }
    assert_eq!(t.len(), 1);
    assert_eq!(t.pending_len(), 3);
    assert!(t.contains(&peer(20, 0)));
    assert!(!t.contains(&peer(20, 1)));
}

#[test]
fn equal_tables_compare_equal_and_order_matters() {
    let mut a = table(3, 3);
    let mut b = table(3, 3);
    a.insert(peer(20, 1), addr(1));
    a.insert(peer(20, 2), addr(1));
    b.insert(peer(20, 2), addr(1));
    b.insert(peer(20, 1), addr(1));
    assert_ne!(a, b);
    b.insert(peer(20, 2), addr(1));
    assert_eq!(a, b);
}
