//! `NodeBuilder`: the one entry point that configures and starts a node.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tazcom_discovery::{
    Discovery, LocalService, MdnsConfig, MdnsDiscovery, StaticDiscovery, StaticPeer,
};
use tazcom_identity::Identity;
use tazcom_registry::{Capabilities, PeerRegistry, Source};
use tazcom_transport::{Greeter, Listener, TransportConfig};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::caps::{self, PROTOCOL_VERSION};
use crate::error::NodeError;
use crate::event::NodeEvent;
use crate::liveness::{self, LivenessPolicy};
use crate::metrics::Counters;
use crate::node::{Node, Running, StartedSource};
use crate::observers::ObserverSpec;
use crate::shared::{GreetingPolicy, Shared, SharedRef};
use crate::tasks::Tasks;
use crate::{discovery_events, inbound};

/// Default capacity of the node event channel (events per subscriber that
/// may be waiting before the oldest are dropped for that subscriber).
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// Queue between the TCP server and the node (HELLOs waiting to be handled).
const INBOUND_QUEUE: usize = 256;

enum IdentitySource {
    Generate,
    KeyFile(PathBuf),
    Given(Identity),
}

enum DiscoverySpec {
    Mdns(MdnsConfig),
    Custom(Box<dyn Discovery>, Source),
}

/// Configures and starts a [`Node`]. Start from [`Node::builder`].
///
/// Defaults: a fresh in-memory identity (use [`key_file`](Self::key_file) to
/// keep one), listen on `0.0.0.0:0` (any interface, a free port), no
/// discovery source, [`TransportConfig::default`], a new [`PeerRegistry`].
pub struct NodeBuilder {
    identity: IdentitySource,
    listen: SocketAddr,
    discovery: Vec<DiscoverySpec>,
    transport: TransportConfig,
    registry: Option<PeerRegistry>,
    capabilities: Capabilities,
    greeting: GreetingPolicy,
    liveness: LivenessPolicy,
    event_capacity: usize,
    observers: ObserverSpec,
}

impl Default for NodeBuilder {
    fn default() -> Self {
        Self {
            identity: IdentitySource::Generate,
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            discovery: Vec::new(),
            transport: TransportConfig::default(),
            registry: None,
            capabilities: Capabilities {
                validator: false,
                protocol_version: PROTOCOL_VERSION,
            },
            greeting: GreetingPolicy::default(),
            liveness: LivenessPolicy::default(),
            event_capacity: DEFAULT_EVENT_CAPACITY,
            observers: ObserverSpec::default(),
        }
    }
}

impl NodeBuilder {
    /// Load the identity from `path`, creating the key file if it does not
    /// exist (see `tazcom_identity::Identity::load_or_generate`).
    pub fn key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.identity = IdentitySource::KeyFile(path.into());
        self
    }

    /// Use this identity.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = IdentitySource::Given(identity);
        self
    }

    /// The TCP listen address (port 0: any free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Discover peers over DNS-SD/mDNS with this configuration.
    pub fn mdns(mut self, config: MdnsConfig) -> Self {
        self.discovery.push(DiscoverySpec::Mdns(config));
        self
    }

    /// Greet these peers, for networks without multicast.
    pub fn static_peers(self, peers: Vec<StaticPeer>) -> Self {
        self.discovery(StaticDiscovery::new(peers), Source::Static)
    }

    /// Add any [`Discovery`] source; its peers are stored with `source`.
    pub fn discovery(mut self, discovery: impl Discovery + 'static, source: Source) -> Self {
        self.discovery
            .push(DiscoverySpec::Custom(Box::new(discovery), source));
        self
    }

    /// Transport limits and timeouts.
    pub fn transport(mut self, config: TransportConfig) -> Self {
        self.transport = config;
        self
    }

    /// Use this registry, e.g. one with observers already registered or a
    /// custom `ObserverRegistryConfig`. Observers can also be registered on
    /// [`Node::registry`] at any time (they get a replay of current peers).
    pub fn registry(mut self, registry: PeerRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Announce this node as a validator (TXT `caps=validator`, docs/wire.md).
    pub fn validator(mut self, validator: bool) -> Self {
        self.capabilities.validator = validator;
        self
    }

    /// How discovered peers are greeted.
    pub fn greeting(mut self, policy: GreetingPolicy) -> Self {
        self.greeting = policy;
        self
    }

    /// How known peers are checked for liveness (default
    /// [`LivenessPolicy::default`]: a signed PING to a peer not heard from
    /// for 4 s (plus 0–20 %), removal after 2 unanswered rounds;
    /// [`LivenessPolicy::disabled`] to rely on goodbyes and record expiry).
    pub fn liveness(mut self, policy: LivenessPolicy) -> Self {
        self.liveness = policy;
        self
    }

    /// Keep a Kademlia routing table of the peers (`tazcom_dht`, k-buckets by
    /// XOR distance from this node's id): [`Node::dht`]. Feature `dht`.
    #[cfg(feature = "dht")]
    pub fn dht(mut self, config: tazcom_dht::DhtConfig) -> Self {
        self.observers.dht = Some(config);
        self
    }

    /// Keep the mesh topology (`tazcom_mesh`; this node's neighbours are the
    /// registry's peers that are reachable per `reachability`):
    /// [`Node::mesh`]. Feature `mesh`.
    #[cfg(feature = "mesh")]
    pub fn mesh(mut self, reachability: tazcom_mesh::Reachability) -> Self {
        self.observers.mesh = Some(reachability);
        self
    }

    /// Keep the validator set (`tazcom_validators`, peers announcing
    /// `caps=validator`, plus this node when [`validator`](Self::validator)
    /// is set): [`Node::validators`]. Feature `validators`.
    #[cfg(feature = "validators")]
    pub fn validators(mut self, policy: tazcom_validators::ValidatorPolicy) -> Self {
        self.observers.validators = Some(policy);
        self
    }

    /// Capacity of the event channel, ≥ 1 (default [`DEFAULT_EVENT_CAPACITY`]).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Loads the identity, binds the listener, starts every discovery source
    /// (publishing this node), and starts handling events.
    ///
    /// # Errors
    /// [`NodeError::Identity`] (key file), [`NodeError::Transport`] (bind),
    /// [`NodeError::Discovery`] (a source failed to start; those already
    /// started are shut down), [`NodeError::Config`] (event capacity 0, an
    /// enabled liveness policy with a zero interval or timeout).
    pub async fn start(self) -> Result<Node, NodeError> {
        if self.event_capacity == 0 {
            return Err(NodeError::Config(
                "event_capacity must be at least 1".into(),
            ));
        }
        if self.liveness.enabled
            && (self.liveness.interval.is_zero() || self.liveness.timeout.is_zero())
        {
            return Err(NodeError::Config(
                "liveness interval and timeout must be non-zero; use LivenessPolicy::disabled() to turn checks off".into(),
            ));
        }
        let identity = Arc::new(match self.identity {
            IdentitySource::Generate => Identity::generate(),
            IdentitySource::KeyFile(path) => Identity::load_or_generate(path)?,
            IdentitySource::Given(identity) => identity,
        });
        let registry = self.registry.unwrap_or_default();
        let observers = self
            .observers
            .attach(&registry, identity.peer_id(), self.capabilities.validator)
            .await?;
        let listener = Listener::bind(self.listen, self.transport.clone())
            .await?
            .with_identity(Arc::clone(&identity));
        let local_addr = listener.local_addr();
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let server = listener.serve(inbound_tx);
        // Always the server's greeter (it has our identity), so one
        // TransportStats counts both directions; the fallback only satisfies the type.
        let greeter = server.greeter().unwrap_or_else(|| {
            Greeter::new(
                Arc::clone(&identity),
                Some(local_addr.port()),
                self.transport.clone(),
            )
        });
        let (events, first_events) = broadcast::channel(self.event_capacity);
        let cancel = CancellationToken::new();
        let shared: SharedRef = Arc::new(Shared {
            peer_id: identity.peer_id(),
            registry,
            events,
            counters: Counters::default(),
            greeter,
            greeting: self.greeting,
            greeted: Mutex::new(HashMap::new()),
            hinted: Mutex::new(HashMap::new()),
            departed: Mutex::default(),
            heard: Mutex::default(),
            liveness: self.liveness,
            tasks: Tasks::new(tracing::info_span!("node", peer = %identity.peer_id().short())),
            departing: cancel.child_token(),
            cancel,
            registry_writes: tokio::sync::Mutex::new(()),
        });
        spawn_inbound(&shared, inbound_rx);

        let local = LocalService {
            peer_id: shared.peer_id,
            port: local_addr.port(),
            txt_extra: caps::to_txt(&self.capabilities),
        };
        let span = shared.tasks.span().clone();
        let sources = match start_sources(&shared, self.discovery, local)
            .instrument(span)
            .await
        {
            Ok(sources) => sources,
            Err(e) => {
                shared.cancel.cancel();
                server.shutdown().await;
                return Err(e);
            }
        };
        liveness::spawn(&shared);
        tracing::info!(parent: shared.tasks.span(), peer = %shared.peer_id, addr = %local_addr, "node ready");
        shared.emit(NodeEvent::Ready {
            peer: shared.peer_id,
            addr: local_addr,
        });
        Ok(Node::new(
            shared,
            identity,
            local_addr,
            first_events,
            Running { server, sources },
            observers,
        ))
    }
}

/// Starts each source and one task that handles all their events in order.
async fn start_sources(
    shared: &SharedRef,
    specs: Vec<DiscoverySpec>,
    local: LocalService,
) -> Result<Vec<StartedSource>, NodeError> {
    let (merged_tx, merged_rx) = mpsc::channel(INBOUND_QUEUE);
    let mut started: Vec<StartedSource> = Vec::new();
    for spec in specs {
        let (mut source, kind) = match spec {
            DiscoverySpec::Mdns(config) => match MdnsDiscovery::new(config) {
                Ok(mdns) => (Box::new(mdns) as Box<dyn Discovery>, Source::Mdns),
                Err(e) => return Err(stop_all(started, e.into()).await),
            },
            DiscoverySpec::Custom(source, kind) => (source, kind),
        };
        let mut rx = match source.start(local.clone()).await {
            Ok(rx) => rx,
            Err(e) => return Err(stop_all(started, e.into()).await),
        };
        let (tx, cancel) = (merged_tx.clone(), shared.cancel.clone());
        shared.tasks.spawn(async move {
            loop {
                let event = tokio::select! {
                    () = cancel.cancelled() => break,
                    event = rx.recv() => event,
                };
                let Some(event) = event else { break };
                if tx.send((kind, event)).await.is_err() {
                    break;
                }
            }
        });
        started.push(StartedSource { source });
    }
    spawn_discovery_handler(shared, merged_rx);
    Ok(started)
}

async fn stop_all(started: Vec<StartedSource>, error: NodeError) -> NodeError {
    for mut s in started {
        if let Err(e) = s.source.shutdown().await {
            tracing::warn!(source = s.source.name(), error = %e, "shutdown after a failed start");
        }
    }
    error
}

fn spawn_discovery_handler(
    shared: &SharedRef,
    mut rx: mpsc::Receiver<(Source, tazcom_discovery::DiscoveryEvent)>,
) {
    let shared_task = SharedRef::clone(shared);
    shared.tasks.spawn(async move {
        let cancel = shared_task.cancel.clone();
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => break,
                next = rx.recv() => next,
            };
            let Some((kind, event)) = next else { break };
            discovery_events::handle(&shared_task, kind, event).await;
        }
    });
}

fn spawn_inbound(shared: &SharedRef, mut rx: mpsc::Receiver<tazcom_transport::InboundEvent>) {
    let shared_task = SharedRef::clone(shared);
    shared.tasks.spawn(async move {
        // Runs until the server drops its sender (at shutdown), so HELLOs
        // in flight when shutdown starts are still handled.
        while let Some(event) = rx.recv().await {
            inbound::handle(&shared_task, event).await;
        }
    });
}
