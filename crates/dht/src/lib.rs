//! A Kademlia routing table (Maymounkov & Mazières, 2002) that follows the
//! TAZCOM peer registry.
//!
//! ```
//! use std::sync::Arc;
//! use tazcom_dht::{DhtConfig, DhtObserver, Distance};
//! use tazcom_identity::Identity;
//! use tazcom_registry::{ObserverOptions, PeerEntry, PeerRegistry, Source};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let local = Identity::generate().peer_id();
//! let registry = PeerRegistry::new();
//! let dht = Arc::new(DhtObserver::new(local, DhtConfig::default())?);
//! registry.register_observer(&dht, ObserverOptions::critical()).await?;
//!
//! let mut peers = Vec::new();
//! for port in 7001..7011 {
//!     let peer = Identity::generate().peer_id();
//!     let mut entry = PeerEntry::new(peer, Source::Static);
//!     entry.addrs = vec![([127, 0, 0, 1], port).into()];
//!     registry.upsert(entry).await?;
//!     peers.push(peer);
//! }
//! assert_eq!(dht.len(), 10);
//!
//! // The 3 entries closest to a key, closest first.
//! let target = peers[4];
//! let closest = dht.closest(&target, 3);
//! assert_eq!(closest[0], (target, Distance::ZERO));
//! assert!(closest.windows(2).all(|w| w[0].1 < w[1].1));
//!
//! registry.remove(&target).await?;
//! assert!(!dht.contains(&target));
//! for bucket in dht.buckets() {
//!     println!("bucket {}: {} entries", bucket.index, bucket.entries.len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Rules
//! - **Keys and distance** (paper §2.1): a key is the 32 bytes of a
//!   [`PeerId`]; the distance is their XOR read as a big-endian 256-bit
//!   integer ([`Distance`]).
//! - **Buckets** (§2.2): bucket `i` (0..=255) holds contacts at distance
//!   `[2^i, 2^(i+1))` from the local id, i.e. whose highest bit differing
//!   from the local id is bit `i` ([`Distance::bucket_index`]). At most
//!   [`DhtConfig::k`] entries each, least recently seen first.
//! - **Seen again**: inserting a known entry moves it to its bucket's tail
//!   and replaces its addresses.
//! - **Full bucket**: the old entries stay (long-lived contacts are the
//!   likeliest to stay up, §2.2); the newcomer is parked in the bucket's
//!   replacement cache (§4.1), which keeps the most recent
//!   [`DhtConfig::replacement_cache`] contacts. This table sends nothing: a
//!   node may ping [`InsertOutcome::Pending::oldest`] and remove it if it
//!   does not answer.
//! - **Removal** promotes the cache's most recently seen contact.
//! - The local id is never stored ([`InsertOutcome::IsLocal`]).
//!
//! [`RoutingTable`] is usable on its own; [`DhtObserver`] is the thin,
//! mutex-guarded layer that applies registry events to one, with exact
//! rollback. `docs/dht.md` has the algorithm of [`RoutingTable::closest`]
//! and the complexity of each operation.
//!
//! Layout: [`distance`](Distance) (`distance.rs`), buckets
//! ([`Contact`], [`BucketView`]; `bucket.rs`), the table (`table.rs`), the
//! bucket walk of `closest` (`lookup.rs`), the undo log (`undo.rs`), the
//! observer (`observer.rs`), config and errors.

mod bucket;
mod config;
mod distance;
mod error;
mod lookup;
mod observer;
mod table;
mod undo;

pub use bucket::{BucketView, Contact};
pub use config::{DhtConfig, DEFAULT_K};
pub use distance::{Distance, NUM_BUCKETS};
pub use error::DhtError;
pub use observer::DhtObserver;
pub use table::{InsertOutcome, Removed, RoutingTable};
pub use tazcom_identity::PeerId;
