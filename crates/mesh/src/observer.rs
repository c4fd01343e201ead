//! The registry observer that keeps a [`Mesh`] in step with the registry.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tazcom_identity::PeerId;
use tazcom_registry::{Observer, ObserverError, RegistryEvent};

use crate::error::MeshError;
use crate::follow::Follower;
use crate::mesh::Mesh;
use crate::reachability::Reachability;
use crate::stats::MeshObserverStats;

/// A [`Mesh`] that follows a [`PeerRegistry`](tazcom_registry::PeerRegistry):
/// register it as an observer (critical or best-effort) and its local node's
/// links track the registry.
///
/// | Registry change | Mesh operation |
/// |---|---|
/// | `Added(e)` | `e.peer_id` becomes a vertex; linked to the local node if reachable ([`Reachability`]) |
/// | `Updated { new, .. }` | the local link is added or removed to match `new`'s reachability |
/// | `Removed(e)` | `e.peer_id` is removed with all its links (gossip links included) |
///
/// Entries for the local node's own id are ignored. `Replay` events apply
/// like commits. A `Rollback` restores the mesh exactly as it was before the
/// commit it undoes (removed vertices come back with all their links), from
/// an undo record of the last commit. Links between other peers (gossip) are
/// the application's: [`MeshObserver::add_link`] / [`MeshObserver::remove_link`].
///
/// The mesh sits behind a mutex; every accessor returns owned data and holds
/// the lock only for its own computation (the path and component queries are
/// O(n + m): take a [`MeshObserver::snapshot`] for repeated analysis).
/// Applying an event costs O(Σ degree) of the peers it touches; it never
/// fails.
#[derive(Debug)]
pub struct MeshObserver {
    state: Mutex<Follower>,
}

impl MeshObserver {
    /// An observer with an empty mesh around `local`, and the default
    /// [`Reachability::AnyAddress`] rule.
    pub fn new(local: PeerId) -> Self {
        Self::with_reachability(local, Reachability::default())
    }

    /// An observer with an empty mesh around `local` and the given rule.
    pub fn with_reachability(local: PeerId, reachability: Reachability) -> Self {
        Self {
            state: Mutex::new(Follower::new(Mesh::new(local), reachability)),
        }
    }

    /// The rule deciding which registry peers are linked to the local node.
    pub fn reachability(&self) -> Reachability {
        self.lock().reachability
    }

    /// A copy of the mesh, O(n + m).
    pub fn snapshot(&self) -> Mesh {
        self.lock().mesh.clone()
    }

    /// Event counters.
    pub fn stats(&self) -> MeshObserverStats {
        self.lock().stats
    }

    /// The local node's id.
    pub fn local(&self) -> PeerId {
        self.lock().mesh.local()
    }

    /// See [`Mesh::contains`].
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.lock().mesh.contains(peer)
    }

    /// See [`Mesh::node_count`].
    pub fn node_count(&self) -> usize {
        self.lock().mesh.node_count()
    }

    /// See [`Mesh::link_count`].
    pub fn link_count(&self) -> usize {
        self.lock().mesh.link_count()
    }

    /// See [`Mesh::neighbours`].
    pub fn neighbours(&self, peer: &PeerId) -> Vec<PeerId> {
        self.lock().mesh.neighbours(peer)
    }

    /// See [`Mesh::local_neighbours`].
    pub fn local_neighbours(&self) -> Vec<PeerId> {
        self.lock().mesh.local_neighbours()
    }

    /// See [`Mesh::hop_count`].
    pub fn hop_count(&self, a: &PeerId, b: &PeerId) -> Option<usize> {
        self.lock().mesh.hop_count(a, b)
    }

    /// See [`Mesh::shortest_path`].
    pub fn shortest_path(&self, a: &PeerId, b: &PeerId) -> Option<Vec<PeerId>> {
        self.lock().mesh.shortest_path(a, b)
    }

    /// See [`Mesh::connected_components`].
    pub fn connected_components(&self) -> Vec<Vec<PeerId>> {
        self.lock().mesh.connected_components()
    }

    /// See [`Mesh::fanout`].
    pub fn fanout(&self, n: usize, seed: u64) -> Vec<PeerId> {
        self.lock().mesh.fanout(n, seed)
    }

    /// Links two peers other than the local node (e.g. learned by gossip),
    /// adding unknown ones as vertices. Returns `true` if the link is new.
    ///
    /// # Errors
    /// - [`MeshError::SelfLink`] when `a == b`.
    /// - [`MeshError::LocalLinkFollowsRegistry`] when either is the local
    ///   node: its links follow the registry.
    pub fn add_link(&self, a: PeerId, b: PeerId) -> Result<bool, MeshError> {
        let mut state = self.lock();
        refuse_local_link(&state.mesh, &a, &b)?;
        state.mesh.add_link(a, b)
    }

    /// Removes the link between two peers other than the local node. Returns
    /// `true` if there was one.
    ///
    /// # Errors
    /// [`MeshError::LocalLinkFollowsRegistry`] when either is the local node.
    pub fn remove_link(&self, a: &PeerId, b: &PeerId) -> Result<bool, MeshError> {
        let mut state = self.lock();
        refuse_local_link(&state.mesh, a, b)?;
        Ok(state.mesh.remove_link(a, b))
    }

    /// Removes a peer known from gossip, with all its links. Returns the
    /// peers it was linked to (sorted), `None` if it was not a vertex.
    ///
    /// # Errors
    /// - [`MeshError::LocalNode`] for the local node.
    /// - [`MeshError::LocalLinkFollowsRegistry`] when `peer` is linked to
    ///   the local node: it is a reachable registry peer; remove it from the
    ///   registry instead.
    pub fn remove_node(&self, peer: &PeerId) -> Result<Option<Vec<PeerId>>, MeshError> {
        let mut state = self.lock();
        let local = state.mesh.local();
        if *peer != local && state.mesh.has_link(peer, &local) {
            return Err(MeshError::LocalLinkFollowsRegistry { peer: *peer });
        }
        state.mesh.remove_node(peer)
    }

    /// The state. Nothing here panics while holding it (petgraph would only
    /// past 2^32 vertices), so a poisoned lock is used as is rather than
    /// failing every later call.
    fn lock(&self) -> MutexGuard<'_, Follower> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Refuses an application change to a link of the local node.
fn refuse_local_link(mesh: &Mesh, a: &PeerId, b: &PeerId) -> Result<(), MeshError> {
    let local = mesh.local();
    if a == b {
        return Err(MeshError::SelfLink { peer: *a });
    }
    match (*a == local, *b == local) {
        (true, _) => Err(MeshError::LocalLinkFollowsRegistry { peer: *b }),
        (_, true) => Err(MeshError::LocalLinkFollowsRegistry { peer: *a }),
        _ => Ok(()),
    }
}

impl Observer for MeshObserver {
    fn name(&self) -> &str {
        "tazcom-mesh"
    }

    /// Applies the event; never fails.
    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        self.lock().apply(event);
        Ok(())
    }
}
