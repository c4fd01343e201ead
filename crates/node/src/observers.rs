//! Opt-in observers the builder can attach to the node's registry: the
//! Kademlia routing table (feature `dht`), the mesh topology (`mesh`) and
//! the validator set (`validators`). Unused ones cost nothing: without the
//! feature the code is not compiled; with it, nothing runs unless asked for.

#[cfg(any(feature = "dht", feature = "mesh", feature = "validators"))]
use std::sync::Arc;

#[cfg(any(feature = "dht", feature = "mesh", feature = "validators"))]
use tazcom_registry::ObserverOptions;
use tazcom_registry::PeerRegistry;

use tazcom_identity::PeerId;

use crate::error::StartError;

/// What the builder was asked to attach.
#[derive(Default)]
pub(crate) struct ObserverSpec {
    #[cfg(feature = "dht")]
    pub dht: Option<tazcom_dht::DhtConfig>,
    #[cfg(feature = "mesh")]
    pub mesh: Option<tazcom_mesh::Reachability>,
    #[cfg(feature = "validators")]
    pub validators: Option<tazcom_validators::ValidatorPolicy>,
}

/// The attached observers; the node owns them (the registry does not).
#[derive(Default)]
pub(crate) struct Attached {
    #[cfg(feature = "dht")]
    pub dht: Option<Arc<tazcom_dht::DhtObserver>>,
    #[cfg(feature = "mesh")]
    pub mesh: Option<Arc<tazcom_mesh::MeshObserver>>,
    #[cfg(feature = "validators")]
    pub validators: Option<Arc<tazcom_validators::ValidatorObserver>>,
}

impl ObserverSpec {
    /// Creates and registers the requested observers, best-effort: they never
    /// refuse a change, and best-effort observers never see an aborted one.
    /// `local_is_validator` puts this node in its own validator set.
    pub(crate) async fn attach(
        self,
        registry: &PeerRegistry,
        local: PeerId,
        local_is_validator: bool,
    ) -> Result<Attached, StartError> {
        #[allow(unused_mut)]
        let mut attached = Attached::default();
        #[cfg(feature = "dht")]
        if let Some(config) = self.dht {
            let dht = tazcom_dht::DhtObserver::new(local, config).map_err(StartError::Dht)?;
            let dht = Arc::new(dht);
            registry
                .register_observer(&dht, ObserverOptions::best_effort())
                .await
                .map_err(StartError::Observer)?;
            attached.dht = Some(dht);
        }
        #[cfg(feature = "mesh")]
        if let Some(reachability) = self.mesh {
            let mesh = Arc::new(tazcom_mesh::MeshObserver::with_reachability(
                local,
                reachability,
            ));
            registry
                .register_observer(&mesh, ObserverOptions::best_effort())
                .await
                .map_err(StartError::Observer)?;
            attached.mesh = Some(mesh);
        }
        #[cfg(feature = "validators")]
        if let Some(mut policy) = self.validators {
            if local_is_validator {
                policy = policy.with_local(local);
            }
            let validators = Arc::new(tazcom_validators::ValidatorObserver::new(policy));
            registry
                .register_observer(&validators, ObserverOptions::best_effort())
                .await
                .map_err(StartError::Observer)?;
            attached.validators = Some(validators);
        }
        let _ = (registry, local, local_is_validator);
        Ok(attached)
    }
}
