//! `NodeBuilder`: the one entry point that configures and starts a node.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tazcom_discovery::{Discovery, MdnsConfig, StaticDiscovery, StaticPeer};
use tazcom_identity::Identity;
use tazcom_registry::{
    AsyncObserver, Capabilities, Observer, ObserverOptions, ObserverRegistryConfig, PeerRegistry,
    RegistryError, Source,
};
use tazcom_transport::session::SessionConfig;
use tazcom_transport::TransportConfig;

use crate::caps::PROTOCOL_VERSION;
use crate::config::{GreetingPolicy, LivenessPolicy, NodeConfig};
use crate::error::StartError;
use crate::node::Node;
use crate::observers::ObserverSpec;
use crate::runtime::{self, sources::SourceSpec, Plan};

/// Default capacity of the node event channel: events kept for late
/// subscribers, and events a subscriber may fall behind by before it loses
/// the oldest.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

enum IdentitySource {
    Generate,
    KeyFile(PathBuf),
    Given(Identity),
}

type Registration = Box<
    dyn FnOnce(PeerRegistry) -> Pin<Box<dyn Future<Output = Result<(), RegistryError>> + Send>>
        + Send,
>;

impl Node {
    /// A builder with the defaults documented on [`NodeBuilder`].
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }
}

/// Configures and starts a [`Node`]. Start from [`Node::builder`].
///
/// Defaults: a fresh in-memory identity (use [`key_file`](Self::key_file) to
/// keep one), listen on `0.0.0.0:0` (any interface, a free port), no
/// discovery source, [`TransportConfig::default`], [`GreetingPolicy`] and
/// [`LivenessPolicy`] defaults, a registry with the default
/// `ObserverRegistryConfig`. Settings are validated once, by
/// [`start`](Self::start).
pub struct NodeBuilder {
    identity: IdentitySource,
    listen: SocketAddr,
    sources: Vec<SourceSpec>,
    transport: TransportConfig,
    registry_config: Option<ObserverRegistryConfig>,
    registrations: Vec<Registration>,
    capabilities: Capabilities,
    config: NodeConfig,
    observers: ObserverSpec,
    sessions: SessionConfig,
}

impl Default for NodeBuilder {
    fn default() -> Self {
        Self {
            identity: IdentitySource::Generate,
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            sources: Vec::new(),
            transport: TransportConfig::default(),
            registry_config: None,
            registrations: Vec::new(),
            capabilities: Capabilities {
                validator: false,
                protocol_version: PROTOCOL_VERSION,
                sessions: true,
            },
            config: NodeConfig {
                greeting: GreetingPolicy::default(),
                liveness: LivenessPolicy::default(),
                event_capacity: DEFAULT_EVENT_CAPACITY,
            },
            observers: ObserverSpec::default(),
            sessions: SessionConfig::default(),
        }
    }
}

impl NodeBuilder {
    /// Load the identity from `path`, creating the key file if it does not
    /// exist (see [`Identity::load_or_generate`]).
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

    /// Discover peers over DNS-SD/mDNS with this configuration
    /// ([`MdnsConfig::default`] for the LAN, service type `_tazcom._tcp`).
    pub fn mdns(mut self, config: MdnsConfig) -> Self {
        self.sources.push(SourceSpec::Mdns(config));
        self
    }

    /// Greet these peers, for networks without multicast.
    pub fn static_peers(self, peers: Vec<StaticPeer>) -> Self {
        self.discovery(StaticDiscovery::new(peers), Source::Static)
    }

    /// Add any [`Discovery`] source; its peers are stored with `source`.
    pub fn discovery(mut self, discovery: impl Discovery + 'static, source: Source) -> Self {
        self.sources
            .push(SourceSpec::Custom(Box::new(discovery), source));
        self
    }

    /// Transport limits and timeouts, validated by [`start`](Self::start)
    /// before anything starts: a refused config is
    /// [`StartError::TransportConfig`].
    pub fn transport(mut self, config: TransportConfig) -> Self {
        self.transport = config;
        self
    }

    /// The message layer's limits and timeouts over each session (default
    /// [`SessionConfig::default`]: messages up to 1 MiB, 256 in flight,
    /// receipt within 10 s, response within 30 s, idle close after 5 min).
    /// Checked by [`start`](Self::start): a refused config is
    /// [`StartError::SessionConfig`].
    pub fn sessions(mut self, config: SessionConfig) -> Self {
        self.sessions = config;
        self
    }

    /// The registry's observer limits and timeouts.
    pub fn registry_config(mut self, config: ObserverRegistryConfig) -> Self {
        self.registry_config = Some(config);
        self
    }

    /// Register a sync observer before the node starts, so it sees every
    /// peer as a commit (not a replay). The registry holds it weakly: keep
    /// the `Arc`. Observers can also be registered later on
    /// [`Node::registry`] (they then get a replay of current peers).
    pub fn observer<O: Observer>(mut self, observer: &Arc<O>, options: ObserverOptions) -> Self {
        let observer = Arc::clone(observer);
        self.registrations.push(Box::new(move |registry| {
            Box::pin(async move {
                registry.register_observer(&observer, options).await?;
                Ok(())
            })
        }));
        self
    }

    /// As [`observer`](Self::observer), for an async observer.
    pub fn async_observer<O: AsyncObserver>(
        mut self,
        observer: &Arc<O>,
        options: ObserverOptions,
    ) -> Self {
        let observer = Arc::clone(observer);
        self.registrations.push(Box::new(move |registry| {
            Box::pin(async move {
                registry.register_async_observer(&observer, options).await?;
                Ok(())
            })
        }));
        self
    }

    /// Announce this node as a validator (TXT `caps=validator`, docs/wire.md).
    pub fn validator(mut self, validator: bool) -> Self {
        self.capabilities.validator = validator;
        self
    }

    /// How discovered peers are greeted.
    pub fn greeting(mut self, policy: GreetingPolicy) -> Self {
        self.config.greeting = policy;
        self
    }

    /// How known peers are checked for liveness (default
    /// [`LivenessPolicy::default`]: a signed PING to a peer not heard from
    /// for 4 s (plus 0–20 %), removal after 2 unanswered rounds;
    /// [`LivenessPolicy::disabled`] to rely on goodbyes and record expiry).
    pub fn liveness(mut self, policy: LivenessPolicy) -> Self {
        self.config.liveness = policy;
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

    /// Events kept for late subscribers and per-subscriber backlog, ≥ 1
    /// (default [`DEFAULT_EVENT_CAPACITY`]).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.config.event_capacity = capacity;
        self
    }

    /// Validates the settings, loads the identity, registers the observers,
    /// binds the listener, starts every discovery source (publishing this
    /// node) and the node's actor; the first event is
    /// [`NodeEvent::Ready`](crate::NodeEvent::Ready).
    ///
    /// # Errors
    /// [`StartError::Config`] or [`StartError::TransportConfig`] (a setting
    /// out of range, before anything starts),
    /// [`StartError::Identity`] (key file), [`StartError::Registry`] or
    /// [`StartError::Observer`] (registry config, observer registration),
    /// [`StartError::Bind`], [`StartError::Discovery`] (a source failed to
    /// start; those already started are stopped).
    pub async fn start(self) -> Result<Node, StartError> {
        self.config.validate()?;
        self.transport
            .validate()
            .map_err(StartError::TransportConfig)?;
        self.sessions
            .validate()
            .map_err(StartError::SessionConfig)?;
        let identity = Arc::new(match self.identity {
            IdentitySource::Generate => Identity::generate(),
            IdentitySource::KeyFile(path) => {
                Identity::load_or_generate(path).map_err(StartError::Identity)?
            }
            IdentitySource::Given(identity) => identity,
        });
        let registry = match self.registry_config {
            Some(config) => PeerRegistry::with_config(config).map_err(StartError::Registry)?,
            None => PeerRegistry::new(),
        };
        for register in self.registrations {
            register(registry.clone())
                .await
                .map_err(StartError::Observer)?;
        }
        let observers = self
            .observers
            .attach(&registry, identity.peer_id(), self.capabilities.validator)
            .await?;
        runtime::start(Plan {
            identity,
            listen: self.listen,
            transport: self.transport,
            sources: self.sources,
            capabilities: self.capabilities,
            config: self.config,
            registry,
            observers,
            sessions: self.sessions,
        })
        .await
        .map(Node::new)
    }
}
