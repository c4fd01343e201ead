//! `Node`: a running node's handle, a cheap `Clone`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tazcom_identity::{Identity, PeerId};
use tazcom_registry::PeerEntry;
use tazcom_transport::session::{Inbox, SendError, ServeError};
use tracing::Instrument;

use crate::error::ShutdownError;
use crate::events::Events;
use crate::metrics::NodeMetrics;
use crate::runtime::Handle;
use crate::view::RegistryView;
#[cfg(doc)]
use crate::SessionConfig;

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

    /// Sends `body` to `peer` on `protocol` over an encrypted session
    /// (`docs/wire.md` §3.8, §3.9), dialling one at the peer's registry
    /// addresses if none is open, and waits for the receipt: `Ok` with the
    /// round trip (µs precision) once the peer's node has queued the
    /// message for its application. Messages to one peer arrive in the
    /// order their `send`s were called, when called one after another.
    ///
    /// # Errors
    ///
    /// [`SendError::NotConnected`] (unknown peer, or no session could be
    /// opened), [`SendError::Unsupported`] (a prototype or an older node),
    /// [`SendError::Refused`] (no one serves `protocol` there, its queue is
    /// full, or the message is above its limit), [`SendError::TooLarge`]
    /// (above [`SessionConfig::max_message_bytes`]; nothing sent),
    /// [`SendError::InvalidProtocol`], [`SendError::TimedOut`] (no receipt
    /// within [`SessionConfig::send_timeout`]), [`SendError::SessionClosed`]
    /// (the session ended first, e.g. the peer restarted: the message may
    /// or may not have been delivered).
    pub async fn send(
        &self,
        peer: PeerId,
        protocol: &str,
        body: impl Into<Vec<u8>>,
    ) -> Result<Duration, SendError> {
        let link = self.inner.sessions.link(peer).await?;
        link.send(protocol, body.into()).await
    }

    /// Sends `body` to `peer` on `protocol` as a request and waits for the
    /// answer (the peer answers with [`Responder::respond`](crate::Responder::respond)).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), with [`SessionConfig::request_timeout`];
    /// [`SendError::Refused`] with [`Refusal::Unanswered`](crate::Refusal::Unanswered)
    /// when the peer's application dropped the request.
    pub async fn request(
        &self,
        peer: PeerId,
        protocol: &str,
        body: impl Into<Vec<u8>>,
    ) -> Result<Vec<u8>, SendError> {
        let link = self.inner.sessions.link(peer).await?;
        link.request(protocol, body.into()).await
    }

    /// Serves `protocol`: messages and requests peers send on it queue in
    /// the returned [`Inbox`] (at most `capacity`; beyond, each is refused
    /// with a `Busy` receipt and the inbox reports
    /// [`InboxError::Lagged`](crate::InboxError::Lagged)). A protocol no
    /// inbox serves is refused (`NoProtocol`). Dropping the inbox stops
    /// serving it.
    ///
    /// # Errors
    ///
    /// [`ServeError`]: a name that is not 1–255 bytes of printable ASCII,
    /// a protocol already served, a capacity of 0.
    pub fn serve(&self, protocol: &str, capacity: usize) -> Result<Inbox, ServeError> {
        self.inner.sessions.router.serve(protocol, capacity)
    }

    /// The peers with an open session now, sorted.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.inner.sessions.connected()
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
