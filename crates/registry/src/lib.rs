//! The TAZCOM peer registry: one table of known peers, and observers that
//! follow every change to it in commit order.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use tazcom_identity::Identity;
//! use tazcom_registry::{
//!     Change, Observer, ObserverError, ObserverOptions, PeerEntry, PeerRegistry,
//!     RegistryEvent, Source, Upsert,
//! };
//!
//! /// Counts the peers it is told about.
//! #[derive(Default)]
//! struct Counter(Mutex<i64>);
//!
//! impl Observer for Counter {
//!     fn name(&self) -> &str {
//!         "counter"
//!     }
//!     fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
//!         let mut n = self.0.lock().map_err(|_| ObserverError::new("poisoned"))?;
//!         for change in event.changes() {
//!             match change {
//!                 Change::Added(_) => *n += 1,
//!                 Change::Removed(_) => *n -= 1,
//!                 Change::Updated { .. } => {}
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = PeerRegistry::new();
//! let counter = Arc::new(Counter::default());
//! registry.register_observer(&counter, ObserverOptions::critical()).await?;
//!
//! let peer = Identity::generate().peer_id();
//! let entry = PeerEntry::new(peer, Source::Static);
//! assert_eq!(registry.upsert(entry.clone()).await?, Upsert::Added);
//! assert_eq!(registry.upsert(entry).await?, Upsert::Unchanged); // nothing dispatched
//! assert_eq!(*counter.0.lock().unwrap(), 1);
//!
//! registry.remove(&peer).await?;
//! assert_eq!(*counter.0.lock().unwrap(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//! - Every observer sees every committed change exactly once, in commit
//!   order ([`RegistryEvent::seq`]); two commits never interleave at any
//!   observer. Batches ([`PeerRegistry::batch`]) are atomic.
//! - A [`Criticality::Critical`] observer that fails or times out aborts the
//!   commit: the registry is left as it was and each critical observer that
//!   was sent the change is sent its [`Origin::Rollback`]. A
//!   [`Criticality::BestEffort`] failure is logged and counted only.
//! - Readers ([`PeerRegistry::get`], [`PeerRegistry::snapshot`]) never wait
//!   for an observer.
//!
//! `docs/registry.md` explains the commit protocol, rollback and recovery.

mod batch;
mod config;
mod dispatch;
mod entry;
mod error;
mod event;
mod observer;
mod registry;
mod state;
pub mod stats;

pub use batch::{BatchOutcome, BatchUpdate};
pub use config::ObserverRegistryConfig;
pub use entry::{unix_ms, Capabilities, PeerEntry, Source};
pub use error::RegistryError;
pub use event::{Change, EventKind, Origin, RegistryEvent};
pub use observer::{
    AsyncObserver, Criticality, Observer, ObserverError, ObserverHandle, ObserverOptions,
};
pub use registry::{PeerRegistry, Upsert};
pub use stats::RegistryStats;
pub use tazcom_identity::PeerId;
