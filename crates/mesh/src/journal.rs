//! The undo record of the last commit, for exact rollback.

use tazcom_identity::PeerId;

use crate::mesh::Mesh;

/// One change a commit made to the mesh, with what is needed to undo it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// A vertex was added (with no links).
    NodeAdded(PeerId),
    /// A link was added.
    LinkAdded(PeerId, PeerId),
    /// A link was removed.
    LinkRemoved(PeerId, PeerId),
    /// A vertex was removed together with its links to `links`.
    NodeRemoved { peer: PeerId, links: Vec<PeerId> },
}

/// What the commit with sequence number `seq` changed, in order.
///
/// Kept until the next commit: a rollback of `seq` arrives right after that
/// commit's delivery, before any other commit (registry contract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Journal {
    pub(crate) seq: u64,
    pub(crate) ops: Vec<Op>,
}

impl Journal {
    /// Undoes the recorded changes, last first. When nothing else changed the
    /// mesh in between, the mesh is then equal to what it was before the
    /// commit: removed vertices come back with all their links, added links
    /// and vertices go.
    pub(crate) fn undo(self, mesh: &mut Mesh) {
        for op in self.ops.into_iter().rev() {
            match op {
                // Only the commit could have linked it; if the application
                // has linked it since, keep it rather than drop its links.
                Op::NodeAdded(peer) => {
                    if mesh.degree(&peer) == 0 {
                        // Never the local node: the local node is never added.
                        let _ = mesh.remove_node(&peer);
                    }
                }
                Op::LinkAdded(a, b) => {
                    mesh.remove_link(&a, &b);
                }
                Op::LinkRemoved(a, b) => {
                    // Ends differ: the link existed before.
                    let _ = mesh.add_link(a, b);
                }
                Op::NodeRemoved { peer, links } => {
                    mesh.add_node(peer);
                    for other in links {
                        let _ = mesh.add_link(peer, other);
                    }
                }
            }
        }
    }
}
