//! Errors of mesh operations.

use tazcom_identity::PeerId;

/// Why a mesh operation was refused. Nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeshError {
    /// `add_link(a, a)`: the mesh is a simple graph and has no self-links.
    #[error("cannot link peer {peer} to itself: a mesh link joins two different peers")]
    SelfLink {
        /// The peer given as both ends.
        peer: PeerId,
    },
    /// `remove_node(local)`: the local node is always a vertex of its mesh.
    #[error("cannot remove the local node {peer}: remove its links instead")]
    LocalNode {
        /// The local node's id.
        peer: PeerId,
    },
    /// A link to or from the local node was changed through a
    /// [`MeshObserver`](crate::MeshObserver): those links follow the registry.
    #[error(
        "the link between the local node and {peer} follows the peer registry: \
         upsert or remove {peer} in the registry instead"
    )]
    LocalLinkFollowsRegistry {
        /// The other end of the link.
        peer: PeerId,
    },
}
