//! The running node's parts, owned by every `Node` handle through one
//! `Arc`: what `Node`'s methods read, and the shutdown sequence.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tazcom_identity::Identity;
use tazcom_registry::PeerRegistry;
use tazcom_transport::{Server, TransportStats};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::actor::Command;
use super::sessions::Sessions;
use super::sources::Sources;
use super::tasks::{self, Net};
use crate::error::ShutdownError;
use crate::events::Emitter;
use crate::metrics::{Counters, NodeMetrics};
use crate::observers::Attached;

/// How long shutdown waits for the actor to finish after the listener
/// closed (it drains its tasks within 2 s).
const ACTOR_GRACE: Duration = Duration::from_secs(3);

/// What only a running node has; taken by `shutdown`.
pub(crate) struct Running {
    pub server: Server,
    pub sources: Sources,
    pub actor: JoinHandle<()>,
}

/// A running node, shared by its `Node` handles.
pub(crate) struct Handle {
    pub identity: Arc<Identity>,
    pub local_addr: SocketAddr,
    pub registry: PeerRegistry,
    pub emitter: Arc<Emitter>,
    pub counters: Arc<Counters>,
    pub commands: mpsc::Sender<Command>,
    pub net: Net,
    pub span: tracing::Span,
    pub running: Mutex<Option<Running>>,
    /// Held by the shutdown in progress; later calls wait, then find
    /// `running` empty and return.
    pub stopping: tokio::sync::Mutex<()>,
    pub final_transport: Mutex<Option<TransportStats>>,
    /// Owns the attached observers (the registry holds them only weakly).
    #[cfg_attr(
        not(any(feature = "dht", feature = "mesh", feature = "validators")),
        allow(dead_code)
    )]
    pub observers: Attached,
    pub sessions: Arc<Sessions>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The last handle is gone without a shutdown: stop the actor and the
        // forwarders; the server and the sources stop as they are dropped
        // (mDNS still sends its goodbye as its daemon exits).
        if let Some(running) = lock(&self.running).take() {
            running.actor.abort();
        }
        self.sessions.abort_all();
    }
}

impl Handle {
    /// Counters of the node and of each layer.
    pub(crate) fn metrics(&self) -> NodeMetrics {
        let running = lock(&self.running);
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
                (*lock(&self.final_transport)).unwrap_or_default(),
                Vec::new(),
            ),
        };
        NodeMetrics::new(
            &self.counters,
            transport,
            discovery,
            self.registry.stats(),
            self.sessions.counters.snapshot(),
        )
    }

    /// The shutdown sequence (`Node::shutdown` documents it).
    pub(crate) async fn stop(&self) -> Result<(), ShutdownError> {
        let _stopping = self.stopping.lock().await;
        let Some(mut running) = lock(&self.running).take() else {
            return Ok(());
        };
        let (reply, targets) = oneshot::channel();
        let targets = match self.commands.send(Command::Leave(reply)).await {
            Ok(()) => targets.await.unwrap_or_default(),
            Err(_) => Default::default(),
        };
        self.sessions.close_all();
        tasks::say_bye(&self.net, targets).await;
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
        *lock(&self.final_transport) = Some(running.server.stats());
        running.server.shutdown().await;
        let _ = self.commands.send(Command::Stop).await;
        if tokio::time::timeout(ACTOR_GRACE, &mut running.actor)
            .await
            .is_err()
        {
            tracing::warn!("node actor aborted after the shutdown grace");
            running.actor.abort();
        }
        tracing::info!(peer = %self.identity.peer_id(), "node stopped");
        first_error.map_or(Ok(()), Err)
    }
}

/// Locks `m`; a panic elsewhere while holding it does not make it unusable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
