//! `Node`: a running node's handle, a cheap `Clone`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tazcom_identity::{Identity, PeerId};
use tazcom_registry::{PeerEntry, PeerRegistry};
use tazcom_transport::{Server, TransportStats};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::builder::NodeBuilder;
use crate::error::ShutdownError;
use crate::events::{Emitter, Events};
use crate::metrics::{Counters, NodeMetrics};
use crate::observers::Attached;
use crate::runtime::actor::Command;
use crate::runtime::sources::Sources;
use crate::runtime::tasks::{self, Net};
use crate::view::RegistryView;

/// How long shutdown waits for the actor to finish after the listener
/// closed (it drains its tasks within 2 s).
const ACTOR_GRACE: Duration = Duration::from_secs(3);

/// What only a running node has; taken by `shutdown`.
pub(crate) struct Running {
    pub server: Server,
    pub sources: Sources,
    pub actor: JoinHandle<()>,
}

pub(crate) struct Inner {
    identity: Arc<Identity>,
    local_addr: SocketAddr,
    registry: PeerRegistry,
    emitter: Arc<Emitter>,
    counters: Arc<Counters>,
    commands: mpsc::Sender<Command>,
    net: Net,
    span: tracing::Span,
    running: Mutex<Option<Running>>,
    /// Held by the shutdown in progress; later calls wait, then find
    /// `running` empty and return.
    stopping: tokio::sync::Mutex<()>,
    final_transport: Mutex<Option<TransportStats>>,
    /// Owns the attached observers (the registry holds them only weakly).
    #[cfg_attr(
        not(any(feature = "dht", feature = "mesh", feature = "validators")),
        allow(dead_code)
    )]
    observers: Attached,
}

impl Inner {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        identity: Arc<Identity>,
        local_addr: SocketAddr,
        registry: PeerRegistry,
        emitter: Arc<Emitter>,
        counters: Arc<Counters>,
        commands: mpsc::Sender<Command>,
        net: Net,
        span: tracing::Span,
        running: Running,
        observers: Attached,
    ) -> Self {
        Self {
            identity,
            local_addr,
            registry,
            emitter,
            counters,
            commands,
            net,
            span,
            running: Mutex::new(Some(running)),
            stopping: tokio::sync::Mutex::new(()),
            final_transport: Mutex::new(None),
            observers,
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone without a shutdown: stop the actor and the
        // forwarders; the server and the sources stop as they are dropped
        // (mDNS still sends its goodbye as its daemon exits).
        if let Some(running) = lock(&self.running).take() {
            running.actor.abort();
        }
    }
}

/// A running TAZCOM node: it announces itself, discovers peers, keeps them
/// in its registry and greets them over TCP. Build one with
/// [`Node::builder`]; stop it with [`Node::shutdown`]. Cloning is cheap
/// (a reference count); every clone is the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
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
    /// A builder with the defaults documented on [`NodeBuilder`].
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    pub(crate) fn new(inner: Inner) -> Self {
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
    /// first, up to [`event_capacity`](NodeBuilder::event_capacity)), then
    /// live ones (see [`Events`]).
    pub fn events(&self) -> Events {
        self.inner.emitter.subscribe()
    }

    /// Counters of the node and of each layer.
    pub fn metrics(&self) -> NodeMetrics {
        let running = lock(&self.inner.running);
        let (transport, discovery) = match running.as_ref() {
            Some(r) => (
                r.server.stats(),
                r.sources
                    .started
                    .iter()
                    .map(|s| (s.name().to_owned(), s.stats()))
                    .collect(),
            ),
            None => (
                (*lock(&self.inner.final_transport)).unwrap_or_default(),
                Vec::new(),
            ),
        };
        NodeMetrics::new(
            &self.inner.counters,
            transport,
            discovery,
            self.inner.registry.stats(),
        )
    }

    /// The Kademlia routing table, if the builder asked for one
    /// ([`NodeBuilder::dht`]).
    #[cfg(feature = "dht")]
    pub fn dht(&self) -> Option<&tazcom_dht::DhtObserver> {
        self.inner.observers.dht.as_deref()
    }

    /// The mesh topology, if the builder asked for one ([`NodeBuilder::mesh`]).
    #[cfg(feature = "mesh")]
    pub fn mesh(&self) -> Option<&tazcom_mesh::MeshObserver> {
        self.inner.observers.mesh.as_deref()
    }

    /// The validator set, if the builder asked for one
    /// ([`NodeBuilder::validators`]).
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
        self.stop().instrument(span).await
    }

    async fn stop(&self) -> Result<(), ShutdownError> {
        let _stopping = self.inner.stopping.lock().await;
        let Some(mut running) = lock(&self.inner.running).take() else {
            return Ok(());
        };
        let (reply, targets) = oneshot::channel();
        let targets = match self.inner.commands.send(Command::Leave(reply)).await {
            Ok(()) => targets.await.unwrap_or_default(),
            Err(_) => Default::default(),
        };
        tasks::say_bye(&self.inner.net, targets).await;
        let mut first_error = None;
        for mut source in running.sources.started {
            if let Err(source_error) = source.shutdown().await {
                let name = source.name().to_owned();
                tracing::warn!(source = %name, error = %source_error, "discovery shutdown failed");
                first_error.get_or_insert(ShutdownError::Discovery {
                    name,
                    source: source_error,
                });
            }
        }
        running.sources.forwarders.shutdown().await;
        *lock(&self.inner.final_transport) = Some(running.server.stats());
        running.server.shutdown().await;
        let _ = self.inner.commands.send(Command::Stop).await;
        if tokio::time::timeout(ACTOR_GRACE, &mut running.actor)
            .await
            .is_err()
        {
            tracing::warn!("node actor aborted after the shutdown grace");
            running.actor.abort();
        }
        tracing::info!(peer = %self.peer_id(), "node stopped");
        first_error.map_or(Ok(()), Err)
    }
}

/// Locks `m`; a panic elsewhere while holding it does not make it unusable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
