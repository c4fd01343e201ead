//! The mesh graph: peers as vertices, undirected links between them.

use std::collections::HashMap;
use std::fmt;

use foldhash::fast::RandomState;
use petgraph::stable_graph::{NodeIndex, StableUnGraph};
use tazcom_identity::PeerId;

use crate::error::MeshError;

/// An undirected, simple graph of peers (vertices) and links (edges), seen
/// from one local node.
///
/// - The local node ([`Mesh::local`]) is always a vertex; its neighbours are
///   the peers it has a direct link to ([`Mesh::local_neighbours`]).
/// - Links between any two different peers are added and removed with
///   [`Mesh::add_link`] / [`Mesh::remove_link`]; adding a link to an unknown
///   peer adds that peer. There are no self-links and no parallel links.
/// - A vertex stays until [`Mesh::remove_node`] removes it with all its links
///   (removing its last link does not remove it).
///
/// Stored as a petgraph [`StableUnGraph`] (indices stay valid across
/// removals) plus a `PeerId → NodeIndex` map. A link change costs
/// O(deg(a) + deg(b)): petgraph keeps each vertex's edges in a linked list
/// that is walked to find or unlink an edge. See `docs/mesh.md`.
///
/// Equality ([`PartialEq`]) compares the canonical form: the local node, the
/// set of vertices and the set of links, whatever the petgraph indices or the
/// order in which they were added.
#[derive(Clone)]
pub struct Mesh {
    local: PeerId,
    graph: StableUnGraph<PeerId, ()>,
    index: HashMap<PeerId, NodeIndex, RandomState>,
}

impl Mesh {
    /// A mesh holding only the local node, with no links.
    pub fn new(local: PeerId) -> Self {
        let mut graph = StableUnGraph::default();
        let mut index = HashMap::with_hasher(RandomState::default());
        index.insert(local, graph.add_node(local));
        Self {
            local,
            graph,
            index,
        }
    }

    /// The local node's id.
    pub fn local(&self) -> PeerId {
        self.local
    }

    /// Whether `peer` is a vertex (the local node always is).
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.index.contains_key(peer)
    }

    /// Number of vertices, the local node included (so at least 1).
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of links (each undirected link counts once).
    pub fn link_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Whether `a` and `b` are linked. O(deg(a)).
    pub fn has_link(&self, a: &PeerId, b: &PeerId) -> bool {
        match (self.index.get(a), self.index.get(b)) {
            (Some(&ia), Some(&ib)) => self.graph.find_edge(ia, ib).is_some(),
            _ => false,
        }
    }

    /// The peers linked to `peer`, sorted ascending by id; empty when `peer`
    /// is not a vertex. O(d log d) for degree d.
    pub fn neighbours(&self, peer: &PeerId) -> Vec<PeerId> {
        let Some(&ix) = self.index.get(peer) else {
            return Vec::new();
        };
        let mut out: Vec<PeerId> = self.graph.neighbors(ix).map(|n| self.graph[n]).collect();
        out.sort_unstable();
        out
    }

    /// The local node's neighbours, sorted ascending by id.
    pub fn local_neighbours(&self) -> Vec<PeerId> {
        self.neighbours(&self.local)
    }

    /// Number of links of `peer` (0 when it is not a vertex). O(degree).
    pub fn degree(&self, peer: &PeerId) -> usize {
        self.index
            .get(peer)
            .map_or(0, |&ix| self.graph.neighbors(ix).count())
    }

    /// Every vertex, sorted ascending by id. O(n log n).
    pub fn peers(&self) -> Vec<PeerId> {
        let mut out: Vec<PeerId> = self.index.keys().copied().collect();
        out.sort_unstable();
        out
    }

    /// Every link as `(smaller id, larger id)`, sorted. O(m log m).
    pub fn links(&self) -> Vec<(PeerId, PeerId)> {
        let mut out: Vec<(PeerId, PeerId)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| ordered(self.graph[a], self.graph[b]))
            .collect();
        out.sort_unstable();
        out
    }

    /// Adds `peer` as a vertex with no links. Returns `true` if it was new.
    pub fn add_node(&mut self, peer: PeerId) -> bool {
        if self.index.contains_key(&peer) {
            return false;
        }
        self.node_of(peer);
        true
    }

    /// Links `a` and `b`, adding either as a vertex if unknown. Returns
    /// `true` if the link is new, `false` if it already existed.
    /// O(deg(a)) to look for an existing link.
    ///
    /// # Errors
    /// [`MeshError::SelfLink`] when `a == b` (nothing is added).
    pub fn add_link(&mut self, a: PeerId, b: PeerId) -> Result<bool, MeshError> {
        if a == b {
            return Err(MeshError::SelfLink { peer: a });
        }
        let ia = self.node_of(a);
        let ib = self.node_of(b);
        if self.graph.find_edge(ia, ib).is_some() {
            return Ok(false);
        }
        self.graph.add_edge(ia, ib, ());
        Ok(true)
    }

    /// Removes the link between `a` and `b`; both stay vertices. Returns
    /// `true` if there was such a link. O(deg(a) + deg(b)).
    pub fn remove_link(&mut self, a: &PeerId, b: &PeerId) -> bool {
        let (Some(&ia), Some(&ib)) = (self.index.get(a), self.index.get(b)) else {
            return false;
        };
        match self.graph.find_edge(ia, ib) {
            Some(e) => self.graph.remove_edge(e).is_some(),
            None => false,
        }
    }

    /// Removes `peer` and all its links. Returns the peers it was linked to
    /// (sorted), or `None` if it was not a vertex.
    /// O(Σ deg(n)) over its neighbours n (each unlink walks both lists).
    ///
    /// # Errors
    /// [`MeshError::LocalNode`] when `peer` is the local node (nothing is
    /// removed; remove its links one by one instead).
    pub fn remove_node(&mut self, peer: &PeerId) -> Result<Option<Vec<PeerId>>, MeshError> {
        if *peer == self.local {
            return Err(MeshError::LocalNode { peer: *peer });
        }
        let Some(ix) = self.index.remove(peer) else {
            return Ok(None);
        };
        let mut former: Vec<PeerId> = self.graph.neighbors(ix).map(|n| self.graph[n]).collect();
        self.graph.remove_node(ix);
        former.sort_unstable();
        Ok(Some(former))
    }

    /// The vertex of `peer`, if any (for the algorithms in this crate).
    pub(crate) fn index_of(&self, peer: &PeerId) -> Option<NodeIndex> {
        self.index.get(peer).copied()
    }

    /// The graph (for the algorithms in this crate).
    pub(crate) fn graph(&self) -> &StableUnGraph<PeerId, ()> {
        &self.graph
    }

    /// The vertex of `peer`, added if unknown.
    fn node_of(&mut self, peer: PeerId) -> NodeIndex {
        let graph = &mut self.graph;
        *self
            .index
            .entry(peer)
            .or_insert_with(|| graph.add_node(peer))
    }
}

/// The pair with the smaller id first: the canonical form of an undirected link.
pub(crate) fn ordered(a: PeerId, b: PeerId) -> (PeerId, PeerId) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl PartialEq for Mesh {
    /// Same local node, same vertices, same links; petgraph indices and
    /// insertion order do not matter. O(n + m·d) without allocating.
    fn eq(&self, other: &Self) -> bool {
        self.local == other.local
            && self.node_count() == other.node_count()
            && self.link_count() == other.link_count()
            && self.index.keys().all(|p| other.contains(p))
            && self.graph.edge_indices().all(|e| {
                self.graph
                    .edge_endpoints(e)
                    .is_some_and(|(a, b)| other.has_link(&self.graph[a], &self.graph[b]))
            })
    }
}

impl Eq for Mesh {}

/// Prints the canonical form: local node, sorted vertices, sorted links.
impl fmt::Debug for Mesh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mesh")
            .field("local", &self.local)
            .field("nodes", &self.peers())
            .field("links", &self.links())
            .finish()
    }
}
