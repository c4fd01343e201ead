//! Fan-out: choosing which neighbours to forward a message to.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use tazcom_identity::PeerId;

use crate::mesh::Mesh;

impl Mesh {
    /// `n` of the local node's neighbours, for gossip fan-out: all of them
    /// (in rank order) when it has `n` or fewer.
    ///
    /// Neighbours are ranked by a hash of their id seeded with `seed`
    /// (foldhash [`FixedState::with_seed`]), ties broken by id, and the `n`
    /// lowest ranks are returned in rank order. The result depends only on
    /// `seed` and the neighbour set: the same inputs give the same peers in
    /// the same order, and different seeds (e.g. a message id) spread the
    /// load over all neighbours. Use a fresh seed per message; the ranking is
    /// stable within one build, not a wire format (foldhash may change its
    /// output between versions). O(d) to select, plus O(n log n) to order.
    pub fn fanout(&self, n: usize, seed: u64) -> Vec<PeerId> {
        // Unsorted is fine: ranking breaks ties by id, so input order is moot.
        let graph = self.graph();
        let neighbours = self
            .index_of(&self.local())
            .into_iter()
            .flat_map(|ix| graph.neighbors(ix))
            .map(|ix| graph[ix]);
        rank(neighbours, n, seed)
    }
}

/// The `n` lowest-ranked of `peers`, in rank order.
fn rank(peers: impl Iterator<Item = PeerId>, n: usize, seed: u64) -> Vec<PeerId> {
    let state = FixedState::with_seed(seed);
    let mut keyed: Vec<(u64, PeerId)> = peers.map(|p| (state.hash_one(p.as_bytes()), p)).collect();
    if n < keyed.len() {
        if let Some(last) = n.checked_sub(1) {
            keyed.select_nth_unstable(last);
        }
        keyed.truncate(n);
    }
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, p)| p).collect()
}
