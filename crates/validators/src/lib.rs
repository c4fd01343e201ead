//! The TAZCOM validator set: the peers that announce the validator
//! capability, with a membership epoch, the number of faulty validators
//! tolerated (`f`) and the BFT quorum, kept in step with the peer registry.
//!
//! ```
//! use std::sync::Arc;
//! use tazcom_identity::Identity;
//! use tazcom_registry::{ObserverOptions, PeerEntry, PeerRegistry, Source};
//! use tazcom_validators::{ValidatorObserver, ValidatorPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = PeerRegistry::new();
//! let me = Identity::generate().peer_id();
//! let validators = Arc::new(ValidatorObserver::new(ValidatorPolicy::default().with_local(me)));
//! // Best-effort: the set never vetoes a change and never sees an aborted one.
//! registry.register_observer(&validators, ObserverOptions::best_effort()).await?;
//! let watch = validators.watch();
//!
//! // Three peers that announced `caps=validator` (docs/wire.md §2), one that did not.
//! for validator in [true, true, true, false] {
//!     let mut entry = PeerEntry::new(Identity::generate().peer_id(), Source::Mdns);
//!     entry.capabilities.validator = validator;
//!     entry.verified = true; // proved by the authenticated greeting
//!     registry.upsert(entry).await?;
//! }
//!
//! let snap = watch.borrow().clone();
//! assert_eq!(snap.len(), 4); // three peers and the local node
//! assert_eq!((snap.f, snap.quorum), (1, Some(3))); // n = 3f + 1: quorum 2f + 1
//! assert_eq!(snap.epoch, 3); // one bump per change of membership
//! assert!(snap.contains(&me));
//! # Ok(())
//! # }
//! ```
//!
//! - [`ValidatorSet`]: the set itself (sorted members, epoch, `f`, quorum,
//!   apply / revert), usable without a registry.
//! - [`ValidatorObserver`]: the registry observer over it, with a
//!   [`watch`](ValidatorObserver::watch) of [`ValidatorSnapshot`]s and a
//!   broadcast of [`ValidatorChange`]s.
//! - [`ValidatorPolicy`]: which peers count. **Without verification anyone
//!   can claim to be a validator**; see [`ValidatorPolicy::require_verified`].
//! - [`max_faulty`], [`quorum_size`]: the arithmetic (Lamport, Shostak,
//!   Pease 1982; Castro, Liskov 1999).
//!
//! `docs/validators.md` explains where the numbers come from, how registry
//! events map to the set, and rollback.

mod error;
mod observer;
mod policy;
mod quorum;
mod set;
mod snapshot;

pub use error::ValidatorError;
pub use observer::{ValidatorObserver, DEFAULT_CHANGE_CAPACITY};
pub use policy::ValidatorPolicy;
pub use quorum::{max_faulty, quorum_size};
pub use set::ValidatorSet;
pub use snapshot::{ValidatorChange, ValidatorSnapshot};
