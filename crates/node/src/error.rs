//! Node errors: one type per operation ([`StartError`] for
//! [`NodeBuilder::start`](crate::NodeBuilder::start), [`ShutdownError`] for
//! [`Node::shutdown`](crate::Node::shutdown)). Messages are short and do
//! not repeat their source: walk [`std::error::Error::source`] for it.

use thiserror::Error;

/// Why [`NodeBuilder::start`](crate::NodeBuilder::start) failed. Whatever
/// had been started (listener, discovery sources) is stopped again.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting is out of range (see [`ConfigError`]).
    #[error("invalid node config")]
    Config(#[from] ConfigError),
    /// The transport configuration is out of range
    /// (`TransportConfig::validate`); checked before anything starts.
    #[error("invalid transport config")]
    TransportConfig(#[source] tazcom_transport::ConfigError),
    /// The session configuration is out of range (`SessionConfig::validate`);
    /// checked before anything starts.
    #[error("invalid session config")]
    SessionConfig(#[source] tazcom_transport::session::SessionConfigError),
    /// The Noise static key could not be generated (the OS random source failed).
    #[error("cannot generate the session key")]
    SessionKey(#[source] tazcom_transport::session::HandshakeError),
    /// The key file could not be loaded or created.
    #[error("cannot load the identity")]
    Identity(#[source] tazcom_identity::KeyFileError),
    /// The TCP listener could not be bound (address in use, no permission…).
    #[error("cannot bind the listener")]
    Bind(#[source] tazcom_transport::TransportError),
    /// A discovery source failed to start (e.g. the mDNS daemon found no
    /// usable interface, or its socket could not be bound).
    #[error("cannot start discovery")]
    Discovery(#[source] tazcom_discovery::DiscoveryError),
    /// An observer asked for with the builder could not be registered
    /// (observer limit, or its replay failed).
    #[error("cannot register an observer")]
    Observer(#[source] tazcom_registry::RegistryError),
    /// The registry configuration was refused.
    #[error("invalid registry config")]
    Registry(#[source] tazcom_registry::RegistryError),
    /// The Kademlia configuration was refused (feature `dht`).
    #[cfg(feature = "dht")]
    #[error("invalid dht config")]
    Dht(#[source] tazcom_dht::DhtError),
}

/// A builder setting out of range; checked once, before anything starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// [`NodeBuilder::event_capacity`](crate::NodeBuilder::event_capacity) is 0.
    #[error("event capacity must be at least 1")]
    EventCapacity,
    /// [`GreetingPolicy::attempts`](crate::GreetingPolicy::attempts) is 0.
    #[error("greeting attempts must be at least 1")]
    GreetingAttempts,
    /// An enabled [`LivenessPolicy`](crate::LivenessPolicy) has a zero
    /// interval, timeout or attempt count (use `LivenessPolicy::disabled()`
    /// to turn checks off).
    #[error("liveness interval, timeout and attempts must be non-zero")]
    Liveness,
}

/// What went wrong while [`Node::shutdown`](crate::Node::shutdown) ran; the
/// rest of the shutdown still ran, and the node is stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// A discovery source failed to stop cleanly (its goodbye may not have
    /// gone out).
    #[error("discovery source {name} did not stop cleanly")]
    Discovery {
        /// The source's name (`mdns`, `static`, or a custom source's).
        name: String,
        /// What failed.
        #[source]
        source: tazcom_discovery::DiscoveryError,
    },
}
