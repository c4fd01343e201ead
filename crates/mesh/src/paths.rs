//! Hop counts and shortest paths: breadth-first search over the links.

use std::collections::VecDeque;

use petgraph::stable_graph::NodeIndex;
use petgraph::visit::NodeIndexable;
use tazcom_identity::PeerId;

use crate::mesh::Mesh;

/// How a breadth-first search expands a vertex.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expand {
    /// In petgraph's adjacency order: enough for a distance.
    AnyOrder,
    /// In ascending id order: makes the found path canonical.
    ById,
}

impl Mesh {
    /// The number of links on a shortest path from `a` to `b`: `Some(0)` when
    /// `a == b` and it is a vertex, `None` when either is not a vertex or no
    /// path joins them. Breadth-first search, O(n + m), stopping once `b` is
    /// reached.
    pub fn hop_count(&self, a: &PeerId, b: &PeerId) -> Option<usize> {
        let (parents, target) = self.bfs(a, b, Expand::AnyOrder)?;
        Some(walk_back(&parents, target).count() - 1)
    }

    /// A shortest path from `a` to `b`, both ends included (`[a]` when
    /// `a == b`); `None` when either is not a vertex or no path joins them.
    ///
    /// When several shortest paths exist this is the lexicographically
    /// smallest one, comparing peer ids from `a` onwards, so the answer
    /// depends only on the vertices and links, never on insertion order.
    /// Breadth-first search expanding neighbours in ascending id order,
    /// O(n + m log d).
    pub fn shortest_path(&self, a: &PeerId, b: &PeerId) -> Option<Vec<PeerId>> {
        let (parents, target) = self.bfs(a, b, Expand::ById)?;
        let mut path: Vec<PeerId> = walk_back(&parents, target)
            .map(|ix| self.graph()[ix])
            .collect();
        path.reverse();
        Some(path)
    }

    /// BFS from `a` until `b` is discovered. Returns the parent of each
    /// discovered vertex (the source is its own parent) and `b`'s index.
    fn bfs(
        &self,
        a: &PeerId,
        b: &PeerId,
        expand: Expand,
    ) -> Option<(Vec<Option<NodeIndex>>, NodeIndex)> {
        let graph = self.graph();
        let source = self.index_of(a)?;
        let target = self.index_of(b)?;
        let mut parents = vec![None; graph.node_bound()];
        *parents.get_mut(source.index())? = Some(source);
        let mut queue = VecDeque::from([source]);
        let mut next = Vec::new();
        while let Some(at) = queue.pop_front() {
            if at == target {
                return Some((parents, target));
            }
            next.clear();
            next.extend(graph.neighbors(at));
            if expand == Expand::ById {
                next.sort_unstable_by_key(|&ix| graph[ix]);
            }
            for &n in &next {
                if let Some(slot @ None) = parents.get_mut(n.index()) {
                    *slot = Some(at);
                    queue.push_back(n);
                }
            }
        }
        None
    }
}

/// The vertices from `target` back to the BFS source, both included.
fn walk_back(
    parents: &[Option<NodeIndex>],
    target: NodeIndex,
) -> impl Iterator<Item = NodeIndex> + '_ {
    let mut at = Some(target);
    std::iter::from_fn(move || {
        let here = at?;
        let parent = parents.get(here.index()).copied().flatten();
        // The source is its own parent: stop after yielding it.
        at = parent.filter(|&p| p != here);
        Some(here)
    })
}
