//! A read-only view of the node's registry.

use std::sync::Arc;

use tazcom_identity::PeerId;
use tazcom_registry::{
    AsyncObserver, Observer, ObserverHandle, ObserverOptions, PeerEntry, PeerRegistry,
    RegistryError, RegistryStats,
};

/// The node's registry as users see it ([`Node::registry`](crate::Node::registry)):
/// reads, and observer registration. Writes go through the node only, so
/// its peer book and the registry cannot drift apart. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RegistryView {
    registry: PeerRegistry,
}

impl RegistryView {
    pub(crate) fn new(registry: PeerRegistry) -> Self {
        Self { registry }
    }

    /// The stored entry for `peer`.
    pub fn get(&self, peer: &PeerId) -> Option<Arc<PeerEntry>> {
        self.registry.get(peer)
    }

    /// The entry of the peer that holds DNS-SD instance name `instance_name`.
    pub fn get_by_instance(&self, instance_name: &str) -> Option<Arc<PeerEntry>> {
        self.registry.get_by_instance(instance_name)
    }

    /// Whether `peer` is stored.
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.registry.contains(peer)
    }

    /// Number of stored peers.
    pub fn len(&self) -> usize {
        self.registry.len()
    }

    /// Whether no peer is stored.
    pub fn is_empty(&self) -> bool {
        self.registry.is_empty()
    }

    /// Every stored entry, sorted by peer id; a consistent copy taken
    /// between two commits.
    pub fn snapshot(&self) -> Vec<Arc<PeerEntry>> {
        self.registry.snapshot()
    }

    /// Sequence number of the last committed change (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.registry.last_seq()
    }

    /// The registry's statistics (commits, deliveries, observer latency).
    pub fn stats(&self) -> RegistryStats {
        self.registry.stats()
    }

    /// Registers a sync observer; it first gets a replay of the current
    /// peers. The registry holds it weakly: keep the `Arc`.
    ///
    /// # Errors
    /// As `PeerRegistry::register_observer`: the observer limit, already
    /// registered, or a failed replay.
    pub async fn register_observer<O: Observer>(
        &self,
        observer: &Arc<O>,
        options: ObserverOptions,
    ) -> Result<ObserverHandle, RegistryError> {
        self.registry.register_observer(observer, options).await
    }

    /// Registers an async observer; otherwise as
    /// [`register_observer`](Self::register_observer).
    ///
    /// # Errors
    /// As for [`register_observer`](Self::register_observer).
    pub async fn register_async_observer<O: AsyncObserver>(
        &self,
        observer: &Arc<O>,
        options: ObserverOptions,
    ) -> Result<ObserverHandle, RegistryError> {
        self.registry
            .register_async_observer(observer, options)
            .await
    }

    /// Unregisters an observer; `false` if it was not registered.
    pub async fn unregister_observer(&self, handle: ObserverHandle) -> bool {
        self.registry.unregister_observer(handle).await
    }
}
