//! `Node`: a running node's handle.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tazcom_discovery::Discovery;
use tazcom_identity::{Identity, PeerId};
use tazcom_registry::{PeerEntry, PeerRegistry};
use tazcom_transport::{Server, TransportStats};
use tokio::sync::broadcast;
use tracing::Instrument;

use crate::builder::NodeBuilder;
use crate::departure;
use crate::error::NodeError;
use crate::event::NodeEvent;
use crate::metrics::NodeMetrics;
use crate::observers::Attached;
use crate::shared::{lock, SharedRef};

/// How long shutdown waits for the node's own tasks (greetings in flight)
/// after the listener closed, before it stops waiting.
const TASK_GRACE: Duration = Duration::from_secs(2);

pub(crate) struct StartedSource {
    pub source: Box<dyn Discovery>,
}

/// What only a running node has; taken by `shutdown`.
pub(crate) struct Running {
    pub server: Server,
    pub sources: Vec<StartedSource>,
}

/// A running TAZCOM node: it announces itself, discovers peers, keeps them
/// in its [`PeerRegistry`] and greets them over TCP. Build one with
/// [`Node::builder`]; stop it with [`Node::shutdown`].
pub struct Node {
    shared: SharedRef,
    identity: Arc<Identity>,
    local_addr: SocketAddr,
    first_events: Mutex<Option<broadcast::Receiver<NodeEvent>>>,
    running: Mutex<Option<Running>>,
    final_transport: Mutex<Option<TransportStats>>,
    /// Owns the attached observers (the registry holds them only weakly).
    #[cfg_attr(
        not(any(feature = "dht", feature = "mesh", feature = "validators")),
        allow(dead_code)
    )]
    observers: Attached,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("peer_id", &self.shared.peer_id)
            .field("local_addr", &self.local_addr)
            .field("peers", &self.shared.registry.len())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A builder with the defaults documented on [`NodeBuilder`].
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    pub(crate) fn new(
        shared: SharedRef,
        identity: Arc<Identity>,
        local_addr: SocketAddr,
        first_events: broadcast::Receiver<NodeEvent>,
        running: Running,
        observers: Attached,
    ) -> Self {
        Self {
            shared,
            identity,
            local_addr,
            first_events: Mutex::new(Some(first_events)),
            running: Mutex::new(Some(running)),
            final_transport: Mutex::new(None),
            observers,
        }
    }

    /// The Kademlia routing table, if the builder asked for one
    /// ([`NodeBuilder::dht`]).
    #[cfg(feature = "dht")]
    pub fn dht(&self) -> Option<&tazcom_dht::DhtObserver> {
        self.observers.dht.as_deref()
    }

    /// The mesh topology, if the builder asked for one ([`NodeBuilder::mesh`]).
    #[cfg(feature = "mesh")]
    pub fn mesh(&self) -> Option<&tazcom_mesh::MeshObserver> {
        self.observers.mesh.as_deref()
    }

    /// The validator set, if the builder asked for one
    /// ([`NodeBuilder::validators`]).
    #[cfg(feature = "validators")]
    pub fn validators(&self) -> Option<&tazcom_validators::ValidatorObserver> {
        self.observers.validators.as_deref()
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.shared.peer_id
    }

    /// This node's identity (to sign with).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The TCP listener's bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The known peers, sorted by peer id.
    pub fn peers(&self) -> Vec<Arc<PeerEntry>> {
        self.shared.registry.snapshot()
    }

    /// The registry: read it, or register observers on it.
    pub fn registry(&self) -> &PeerRegistry {
        &self.shared.registry
    }

    /// A stream of [`NodeEvent`]s. The first call returns a receiver that
    /// holds every event since the node started (`Ready` first); later calls
    /// return receivers that see events from the call on. A receiver that
    /// falls more than the event capacity behind loses the oldest events
    /// (`RecvError::Lagged`).
    pub fn events(&self) -> broadcast::Receiver<NodeEvent> {
        lock(&self.first_events)
            .take()
            .unwrap_or_else(|| self.shared.events.subscribe())
    }

    /// Counters of the node and of each layer.
    pub fn metrics(&self) -> NodeMetrics {
        let running = lock(&self.running);
        let (transport, discovery) = match running.as_ref() {
            Some(r) => (
                r.server.stats(),
                r.sources
                    .iter()
                    .map(|s| (s.source.name().to_owned(), s.source.stats()))
                    .collect(),
            ),
            None => (
                (*lock(&self.final_transport)).unwrap_or_default(),
                Vec::new(),
            ),
        };
        NodeMetrics::new(
            &self.shared.counters,
            transport,
            discovery,
            self.shared.registry.stats(),
        )
    }

    /// Stops the node: a signed BYE goes to every verified peer (they drop
    /// this node at once; at most 500 ms, `docs/wire.md` §3.7), every
    /// discovery source sends its goodbye (peers that missed the BYE drop
    /// it 1 s later, RFC 6762 §10.1) and stops, the listener closes after serving
    /// the connections in flight (up to the transport's shutdown grace),
    /// greetings in flight are cancelled, and [`NodeEvent::Stopped`] is sent.
    ///
    /// # Errors
    /// [`NodeError::AlreadyStopped`] on a second call;
    /// [`NodeError::Discovery`] if a source failed to shut down cleanly (the
    /// rest of the shutdown still ran).
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        let span = self.shared.tasks.span().clone();
        self.stop().instrument(span).await
    }

    async fn stop(&self) -> Result<(), NodeError> {
        let running = lock(&self.running)
            .take()
            .ok_or(NodeError::AlreadyStopped)?;
        // No new contact from here on: a PING or greeting sent after the BYE
        // would register this node again at its peers.
        self.shared.departing.cancel();
        departure::say_bye(&self.shared).await;
        let mut first_error = None;
        for mut s in running.sources {
            if let Err(e) = s.source.shutdown().await {
                tracing::warn!(source = s.source.name(), error = %e, "discovery shutdown failed");
                first_error.get_or_insert(NodeError::from(e));
            }
        }
        *lock(&self.final_transport) = Some(running.server.stats());
        running.server.shutdown().await;
        self.shared.cancel.cancel();
        let aborted = self.shared.tasks.shutdown(TASK_GRACE).await;
        if aborted > 0 {
            tracing::warn!(aborted, "node tasks aborted after the shutdown grace");
        }
        tracing::info!(peer = %self.shared.peer_id, "node stopped");
        self.shared.emit(NodeEvent::Stopped);
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Not shut down: stop the tasks; the sources and the server stop as
        // they are dropped (mDNS still sends its goodbye as its daemon exits).
        self.shared.cancel.cancel();
    }
}
