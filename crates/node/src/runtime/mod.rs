//! Starting a node: bind the listener, start the discovery sources, spawn
//! the actor that owns the peer book (`actor.rs`) and its tasks
//! (`tasks.rs`).

pub(crate) mod actor;
mod handle;
pub(crate) mod sessions;
pub(crate) mod sources;
pub(crate) mod tasks;

pub(crate) use handle::Handle;

use std::net::SocketAddr;
use std::sync::Arc;

use rand_core::OsRng;
use tazcom_discovery::LocalService;
use tazcom_identity::Identity;
use tazcom_registry::{Capabilities, PeerRegistry};
use tazcom_transport::session::{NoiseKeys, Router, Session, SessionConfig, SessionCounters};
use tazcom_transport::{Greeter, Listener, TransportConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::book::PeerBook;
use crate::caps;
use crate::config::NodeConfig;
use crate::error::StartError;
use crate::event::NodeEvent;
use crate::events::Emitter;
use crate::metrics::Counters;
use crate::observers::Attached;
use actor::{Actor, Inbox};
use handle::Running;
pub(crate) use sessions::Sessions;
use sources::SourceSpec;
use tasks::Net;

/// Queue between the TCP server, the discovery sources and the actor.
const INBOUND_QUEUE: usize = 256;

/// Everything `start` needs; the builder has validated it.
pub(crate) struct Plan {
    pub identity: Arc<Identity>,
    pub listen: SocketAddr,
    pub transport: TransportConfig,
    pub sources: Vec<SourceSpec>,
    pub capabilities: Capabilities,
    pub config: NodeConfig,
    pub registry: PeerRegistry,
    pub observers: Attached,
    pub sessions: SessionConfig,
}

/// Binds, starts the sources, spawns the actor; sends `Ready`.
pub(crate) async fn start(plan: Plan) -> Result<Handle, StartError> {
    let me = plan.identity.peer_id();
    let span = tracing::info_span!("node", peer = %me.short());
    let keys = NoiseKeys::generate().map_err(StartError::SessionKey)?;
    let (accepted_tx, accepted) = mpsc::channel(INBOUND_QUEUE);
    let listener = Listener::bind(plan.listen, plan.transport.clone())
        .await
        .map_err(StartError::Bind)?
        .with_identity(Arc::clone(&plan.identity))
        .with_sessions(keys.clone(), accepted_tx);
    let local_addr = listener.local_addr();
    let (inbound_tx, inbound) = mpsc::channel(INBOUND_QUEUE);
    let server = listener.serve(inbound_tx);
    // The server's greeter (it has our identity), so one TransportStats
    // counts both directions; the fallback only satisfies the type.
    let greeter = server.greeter().unwrap_or_else(|| {
        Greeter::new(
            Arc::clone(&plan.identity),
            Some(local_addr.port()),
            plan.transport.clone(),
        )
        .expect("Listener::bind has validated this config")
    });
    let local = LocalService {
        peer_id: me,
        port: local_addr.port(),
        txt_extra: caps::to_txt(&plan.capabilities),
    };
    let (discovery_tx, discovery) = mpsc::channel(INBOUND_QUEUE);
    let sources = match sources::start(plan.sources, local, discovery_tx)
        .instrument(span.clone())
        .await
    {
        Ok(sources) => sources,
        Err(e) => {
            server.shutdown().await;
            return Err(e);
        }
    };
    let counters = Arc::new(Counters::default());
    let emitter = Arc::new(Emitter::new(plan.config.event_capacity));
    let (commands_tx, commands) = mpsc::channel(4);
    let (session_tx, session_inputs) = mpsc::channel(INBOUND_QUEUE);
    let sessions = Arc::new(Sessions {
        identity: Arc::clone(&plan.identity),
        keys,
        router: Router::new(),
        config: plan.sessions,
        slots: server.session_slots().clone(),
        counters: Arc::new(SessionCounters::default()),
        registry: plan.registry.clone(),
        emitter: Arc::clone(&emitter),
        connect_timeout: plan.transport.connect_timeout,
        handshake_timeout: plan.transport.handshake_timeout,
        listen_port: local_addr.port(),
        actor: session_tx,
        table: Default::default(),
    });
    tokio::spawn(accept_sessions(Arc::clone(&sessions), accepted).instrument(span.clone()));
    let net = Net {
        greeter,
        greeting: plan.config.greeting,
        liveness: plan.config.liveness,
        counters: Arc::clone(&counters),
        sessions: Arc::clone(&sessions),
    };
    let actor = Actor {
        book: PeerBook::new(
            me,
            plan.config.liveness,
            Box::new(OsRng),
            Arc::clone(&counters),
        ),
        registry: plan.registry.clone(),
        emitter: Arc::clone(&emitter),
        counters: Arc::clone(&counters),
        net: net.clone(),
        departing: CancellationToken::new(),
        span: span.clone(),
    };
    tracing::info!(parent: &span, peer = %me, addr = %local_addr, "node ready");
    emitter.emit(NodeEvent::Ready {
        peer: me,
        addr: local_addr,
    });
    let inbox = Inbox {
        commands,
        inbound,
        discovery,
        sessions: session_inputs,
    };
    let actor = tokio::spawn(actor.run(inbox).instrument(span.clone()));
    Ok(Handle {
        identity: plan.identity,
        local_addr,
        registry: plan.registry,
        emitter,
        counters,
        commands: commands_tx,
        net,
        span,
        running: std::sync::Mutex::new(Some(Running {
            server,
            sources,
            actor,
        })),
        stopping: tokio::sync::Mutex::new(()),
        final_transport: std::sync::Mutex::new(None),
        observers: plan.observers,
        sessions,
    })
}

/// Hands each session the server accepted to the session table.
async fn accept_sessions(sessions: Arc<Sessions>, mut accepted: mpsc::Receiver<Session>) {
    while let Some(session) = accepted.recv().await {
        sessions.adopt(session);
    }
}
