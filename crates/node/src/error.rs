//! Node errors.

use thiserror::Error;

/// Why a node could not start or stop cleanly.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The key file could not be loaded or created.
    #[error("identity: {0}")]
    Identity(#[from] tazcom_identity::KeyFileError),
    /// The TCP listener could not be bound (address in use, no permission…).
    #[error("transport: {0}")]
    Transport(#[from] tazcom_transport::TransportError),
    /// A discovery source failed to start or to shut down.
    #[error("discovery: {0}")]
    Discovery(#[from] tazcom_discovery::DiscoveryError),
    /// The registry configuration was rejected.
    #[error("registry: {0}")]
    Registry(#[from] tazcom_registry::RegistryError),
    /// A builder setting is out of range.
    #[error("invalid node config: {0}")]
    Config(String),
    /// `shutdown` was called twice.
    #[error("the node is already shut down")]
    AlreadyStopped,
}
