//! Connected components: which peers can reach each other over links.

use petgraph::visit::{Dfs, VisitMap};
use tazcom_identity::PeerId;

use crate::mesh::Mesh;

impl Mesh {
    /// The connected components: each one's peers sorted ascending, and the
    /// components sorted by their smallest peer. An isolated vertex is a
    /// component of one. The local node's component holds every peer it can
    /// reach. Depth-first search (petgraph [`Dfs`]), O(n log n + m).
    pub fn connected_components(&self) -> Vec<Vec<PeerId>> {
        let graph = self.graph();
        let mut dfs = Dfs::empty(graph);
        let mut components = Vec::new();
        for start in graph.node_indices() {
            if dfs.discovered.is_visited(&start) {
                continue;
            }
            dfs.move_to(start);
            let mut component = Vec::new();
            while let Some(ix) = dfs.next(graph) {
                component.push(graph[ix]);
            }
            component.sort_unstable();
            components.push(component);
        }
        // Components are disjoint and non-empty: their first peers differ.
        components.sort_unstable_by_key(|c| c.first().copied());
        components
    }
}
