//! `Node`: a running node's handle, a cheap `Clone`.

use std::net::SocketAddr;
use std::sync::Arc;

use tazcom_identity::{Identity, PeerId};
use tazcom_registry::PeerEntry;
use tracing::Instrument;

use crate::error::ShutdownError;
use crate::events::Events;
use crate::metrics::NodeMetrics;
use crate::runtime::Handle;
use crate::view::RegistryView;

/// A running TAZCOM node: it announces itself, discovers peers, keeps them
/// in its registry and greets them over TCP. Build one with
/// [`Node::builder`](crate::Node::builder); stop it with [`Node::shutdown`]. Cloning is cheap
/// (a reference count); every clone is the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("peer_id", &self.peer_id())
            .field("local_addr", &self.inner.local_addr)
            .field("peers", &self.inner.registry.len())
            .finish_non_exhaustive()
    }
}

impl Node {
    pub(crate) fn new(inner: Handle) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.identity.peer_id()
    }

    /// This node's identity (to sign with).
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The TCP listener's bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The known peers, sorted by peer id.
    pub fn peers(&self) -> Vec<Arc<PeerEntry>> {
        self.inner.registry.snapshot()
    }

    /// The registry, read-only: read it, or register observers on it. Only
    /// the node writes to it.
    pub fn registry(&self) -> RegistryView {
        RegistryView::new(self.inner.registry.clone())
    }

    /// A stream of [`NodeEvent`](crate::NodeEvent)s; every call behaves the
    /// same: the events the node retained since it started (`Ready`
    /// first, up to [`event_capacity`](crate::NodeBuilder::event_capacity)), then
    /// live ones (see [`Events`]).
    pub fn events(&self) -> Events {
        self.inner.emitter.subscribe()
    }

    /// Counters of the node and of each layer.
    pub fn metrics(&self) -> NodeMetrics {
        self.inner.metrics()
    }

    /// The Kademlia routing table, if the builder asked for one
    /// ([`NodeBuilder::dht`](crate::NodeBuilder::dht)).
    #[cfg(feature = "dht")]
    pub fn dht(&self) -> Option<&tazcom_dht::DhtObserver> {
        self.inner.observers.dht.as_deref()
    }

    /// The mesh topology, if the builder asked for one ([`NodeBuilder::mesh`](crate::NodeBuilder::mesh)).
    #[cfg(feature = "mesh")]
    pub fn mesh(&self) -> Option<&tazcom_mesh::MeshObserver> {
        self.inner.observers.mesh.as_deref()
    }

    /// The validator set, if the builder asked for one
    /// ([`NodeBuilder::validators`](crate::NodeBuilder::validators)).
    #[cfg(feature = "validators")]
    pub fn validators(&self) -> Option<&tazcom_validators::ValidatorObserver> {
        self.inner.observers.validators.as_deref()
    }

    /// Stops the node: no new contact; a signed BYE goes to every verified
    /// or greeted peer (they drop this node at once; at most 500 ms,
    /// `docs/wire.md` §3.7); every discovery source sends its goodbye
    /// (peers that missed the BYE drop it 1 s later, RFC 6762 §10.1) and
    /// stops; the listener closes after serving the connections in flight
    /// (up to the transport's shutdown grace); HELLOs already received are
    /// still handled; [`NodeEvent::Stopped`](crate::NodeEvent::Stopped) is
    /// sent.
    ///
    /// Idempotent: a call while another runs waits for it; a call after the
    /// node stopped returns `Ok(())` at once.
    ///
    /// # Errors
    /// [`ShutdownError::Discovery`] if a source failed to stop cleanly (the
    /// rest of the shutdown still ran; only the first failure is returned).
    pub async fn shutdown(&self) -> Result<(), ShutdownError> {
        let span = self.inner.span.clone();
        self.inner.stop().instrument(span).await
    }
}
