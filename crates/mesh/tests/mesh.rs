//! The `Mesh` graph on its own: links, nodes, BFS, components, fan-out, equality.

use std::collections::{BTreeMap, BTreeSet};

use tazcom_mesh::{Mesh, MeshError, PeerId};

/// Peer ids ordered like their numbers.
fn p(n: u8) -> PeerId {
    PeerId::from_bytes([n; 32])
}

fn ps(ns: &[u8]) -> Vec<PeerId> {
    ns.iter().map(|&n| p(n)).collect()
}

/// A mesh around p(0) with the given links.
fn mesh(links: &[(u8, u8)]) -> Mesh {
    let mut m = Mesh::new(p(0));
    for &(a, b) in links {
        m.add_link(p(a), p(b)).expect("distinct ends");
    }
    m
}

#[test]
fn new_mesh_holds_only_the_local_node() {
    let m = Mesh::new(p(0));
    assert_eq!(m.local(), p(0));
    assert!(m.contains(&p(0)));
    assert_eq!((m.node_count(), m.link_count()), (1, 0));
    assert!(m.local_neighbours().is_empty());
    assert_eq!(m.peers(), ps(&[0]));
}

#[test]
fn add_link_adds_unknown_nodes_once_and_is_symmetric() {
    let mut m = Mesh::new(p(0));
    assert_eq!(m.add_link(p(1), p(2)), Ok(true));
    assert_eq!(m.add_link(p(2), p(1)), Ok(false), "same undirected link");
    assert_eq!((m.node_count(), m.link_count()), (3, 1));
    assert!(m.has_link(&p(1), &p(2)) && m.has_link(&p(2), &p(1)));
    assert_eq!(m.neighbours(&p(1)), ps(&[2]));
    assert_eq!(m.neighbours(&p(2)), ps(&[1]));
    assert_eq!(m.links(), vec![(p(1), p(2))]);
}

#[test]
fn self_link_is_refused_and_adds_nothing() {
    let mut m = Mesh::new(p(0));
    assert_eq!(
        m.add_link(p(3), p(3)),
        Err(MeshError::SelfLink { peer: p(3) })
    );
    assert!(!m.contains(&p(3)));
    assert_eq!(
        m.add_link(p(0), p(0)),
        Err(MeshError::SelfLink { peer: p(0) })
    );
    assert_eq!(m.link_count(), 0);
}

#[test]
fn remove_link_keeps_both_vertices() {
    let mut m = mesh(&[(1, 2)]);
    assert!(m.remove_link(&p(2), &p(1)));
    assert!(!m.remove_link(&p(1), &p(2)), "already gone");
    assert!(!m.remove_link(&p(1), &p(9)), "unknown peer");
    assert!(m.contains(&p(1)) && m.contains(&p(2)));
    assert_eq!(m.link_count(), 0);
}

#[test]
fn add_node_adds_an_isolated_vertex_once() {
    let mut m = Mesh::new(p(0));
    assert!(m.add_node(p(4)));
    assert!(!m.add_node(p(4)));
    assert!(!m.add_node(p(0)), "the local node is always there");
    assert_eq!(m.degree(&p(4)), 0);
    assert_eq!(m.node_count(), 2);
}

#[test]
fn remove_node_removes_every_link_and_returns_former_neighbours_sorted() {
    let mut m = mesh(&[(0, 3), (3, 2), (1, 3), (1, 2)]);
    assert_eq!(m.remove_node(&p(3)), Ok(Some(ps(&[0, 1, 2]))));
    assert!(!m.contains(&p(3)));
    assert_eq!(m.links(), vec![(p(1), p(2))]);
    assert!(m.local_neighbours().is_empty());
    assert_eq!(m.remove_node(&p(3)), Ok(None));
}

#[test]
fn local_node_cannot_be_removed() {
    let mut m = mesh(&[(0, 1)]);
    assert_eq!(
        m.remove_node(&p(0)),
        Err(MeshError::LocalNode { peer: p(0) })
    );
    assert_eq!(m.local_neighbours(), ps(&[1]));
}

#[test]
fn neighbours_are_sorted_and_empty_for_unknown_peers() {
    let m = mesh(&[(0, 5), (0, 2), (0, 9), (0, 1)]);
    assert_eq!(m.local_neighbours(), ps(&[1, 2, 5, 9]));
    assert_eq!(m.degree(&p(0)), 4);
    assert!(m.neighbours(&p(7)).is_empty());
    assert_eq!(m.degree(&p(7)), 0);
}

#[test]
fn hop_count_on_a_path_graph() {
    // 0 - 1 - 2 - 3, and 4 isolated.
    let mut m = mesh(&[(0, 1), (1, 2), (2, 3)]);
    m.add_node(p(4));
    assert_eq!(m.hop_count(&p(0), &p(0)), Some(0));
    assert_eq!(m.hop_count(&p(0), &p(1)), Some(1));
    assert_eq!(m.hop_count(&p(0), &p(3)), Some(3));
    assert_eq!(m.hop_count(&p(3), &p(0)), Some(3));
    assert_eq!(m.hop_count(&p(0), &p(4)), None, "disconnected");
    assert_eq!(m.hop_count(&p(0), &p(8)), None, "unknown");
    assert_eq!(m.hop_count(&p(8), &p(8)), None, "unknown, even to itself");
}

#[test]
fn hop_count_takes_the_shortcut() {
    // A cycle 0-1-2-3-4-5-0: 0 to 3 is 3 hops either way, 0 to 4 is 2.
    let m = mesh(&[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)]);
    assert_eq!(m.hop_count(&p(0), &p(3)), Some(3));
    assert_eq!(m.hop_count(&p(0), &p(4)), Some(2));
    assert_eq!(m.hop_count(&p(1), &p(5)), Some(2));
}

#[test]
fn shortest_path_is_the_lexicographically_smallest_whatever_the_insertion_order() {
    // Diamond 0-{3,2}-4, inserted with the larger middle first.
    let a = mesh(&[(0, 3), (3, 4), (0, 2), (2, 4)]);
    let b = mesh(&[(2, 4), (0, 2), (3, 4), (0, 3)]);
    assert_eq!(a.shortest_path(&p(0), &p(4)), Some(ps(&[0, 2, 4])));
    assert_eq!(b.shortest_path(&p(0), &p(4)), Some(ps(&[0, 2, 4])));
    assert_eq!(a.shortest_path(&p(4), &p(0)), Some(ps(&[4, 2, 0])));
}

#[test]
fn shortest_path_ends_and_length_match_hop_count() {
    // Two routes 1→6: 1-2-3-6 (3 hops) and 1-5-6 (2 hops).
    let m = mesh(&[(1, 2), (2, 3), (3, 6), (1, 5), (5, 6)]);
    assert_eq!(m.shortest_path(&p(1), &p(6)), Some(ps(&[1, 5, 6])));
    assert_eq!(m.hop_count(&p(1), &p(6)), Some(2));
    assert_eq!(m.shortest_path(&p(2), &p(2)), Some(ps(&[2])));
    assert_eq!(
        m.shortest_path(&p(0), &p(6)),
        None,
        "local node is isolated"
    );
    assert_eq!(m.shortest_path(&p(1), &p(9)), None, "unknown");
}

#[test]
fn components_are_sorted_inside_and_by_smallest_member() {
    let mut m = mesh(&[(7, 3), (3, 5), (0, 6), (2, 4), (4, 8)]);
    m.add_node(p(1));
    assert_eq!(
        m.connected_components(),
        vec![ps(&[0, 6]), ps(&[1]), ps(&[2, 4, 8]), ps(&[3, 5, 7])]
    );
    m.add_link(p(6), p(5)).unwrap();
    assert_eq!(
        m.connected_components(),
        vec![ps(&[0, 3, 5, 6, 7]), ps(&[1]), ps(&[2, 4, 8])]
    );
}

#[test]
fn components_of_a_lone_local_node() {
    assert_eq!(Mesh::new(p(0)).connected_components(), vec![ps(&[0])]);
}

fn star(leaves: impl IntoIterator<Item = u8>) -> Mesh {
    let mut m = Mesh::new(p(0));
    for n in leaves {
        m.add_link(p(0), p(n)).unwrap();
    }
    m
}

#[test]
fn fanout_is_deterministic_given_seed_and_neighbour_set() {
    let a = star(1..=20);
    let b = star((1..=20).rev());
    for seed in 0..50 {
        let chosen = a.fanout(5, seed);
        assert_eq!(chosen, a.fanout(5, seed), "same mesh, same seed");
        assert_eq!(chosen, b.fanout(5, seed), "same set, other insertion order");
    }
}

#[test]
fn fanout_picks_distinct_neighbours_in_rank_order() {
    let m = star(1..=12);
    let neighbours: BTreeSet<PeerId> = m.local_neighbours().into_iter().collect();
    for seed in 0..20 {
        let four = m.fanout(4, seed);
        assert_eq!(four.len(), 4);
        assert_eq!(
            four.iter().collect::<BTreeSet<_>>().len(),
            4,
            "no duplicates"
        );
        assert!(four.iter().all(|x| neighbours.contains(x)));
        // Rank order: a smaller fan-out is a prefix of a larger one.
        assert_eq!(m.fanout(2, seed), four[..2].to_vec());
        assert_eq!(m.fanout(12, seed)[..4].to_vec(), four);
    }
}

#[test]
fn fanout_larger_than_degree_returns_all_and_zero_returns_none() {
    let m = star([3, 1, 2]);
    let mut all = m.fanout(10, 7);
    all.sort();
    assert_eq!(all, ps(&[1, 2, 3]));
    assert!(m.fanout(0, 7).is_empty());
    assert!(Mesh::new(p(0)).fanout(3, 7).is_empty());
}

#[test]
fn fanout_only_picks_local_neighbours() {
    let m = mesh(&[(0, 1), (1, 2), (2, 3)]);
    for seed in 0..10 {
        assert_eq!(m.fanout(3, seed), ps(&[1]));
    }
}

#[test]
fn different_seeds_spread_the_choice_over_all_neighbours() {
    // 10 neighbours, 3 picked per seed, 2000 seeds: 600 expected picks each.
    let m = star(1..=10);
    let mut picks: BTreeMap<PeerId, u32> = BTreeMap::new();
    let mut distinct = BTreeSet::new();
    for seed in 0..2000u64 {
        let chosen = m.fanout(3, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        distinct.insert(chosen.clone());
        for x in chosen {
            *picks.entry(x).or_default() += 1;
        }
    }
    assert_eq!(picks.len(), 10, "every neighbour gets picked");
    for (peer, n) in &picks {
        assert!((400..=800).contains(n), "{peer:?} picked {n} times of ~600");
    }
    assert!(
        distinct.len() > 100,
        "only {} distinct choices",
        distinct.len()
    );
}

#[test]
fn equality_ignores_insertion_order_and_indices() {
    let a = mesh(&[(0, 1), (1, 2), (2, 3)]);
    let mut b = mesh(&[(3, 2), (9, 8), (2, 1), (1, 0)]);
    assert_ne!(a, b);
    b.remove_node(&p(9)).unwrap();
    assert_ne!(a, b, "p(8) is still a vertex");
    b.remove_node(&p(8)).unwrap();
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn equality_compares_local_vertices_and_links() {
    let a = mesh(&[(1, 2)]);
    let mut other_local = Mesh::new(p(1));
    other_local.add_link(p(1), p(2)).unwrap();
    other_local.add_node(p(0));
    assert_ne!(a, other_local, "different local node");

    let mut extra_vertex = a.clone();
    extra_vertex.add_node(p(5));
    assert_ne!(a, extra_vertex);

    let mut other_link = mesh(&[(1, 0)]);
    other_link.add_node(p(2));
    assert_ne!(a, other_link, "same vertices, same count, other link");
}
