//! The TAZCOM mesh: which peers are linked to which, seen from the local
//! node, kept in step with the peer registry.
//!
//! ```
//! use std::sync::Arc;
//! use tazcom_identity::Identity;
//! use tazcom_mesh::MeshObserver;
//! use tazcom_registry::{ObserverOptions, PeerEntry, PeerRegistry, Source};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let local = Identity::generate().peer_id();
//! let registry = PeerRegistry::new();
//! let mesh = Arc::new(MeshObserver::new(local));
//! registry.register_observer(&mesh, ObserverOptions::critical()).await?;
//!
//! // A registry peer with an address is a direct neighbour.
//! let a = Identity::generate().peer_id();
//! let mut entry = PeerEntry::new(a, Source::Static);
//! entry.addrs.push("127.0.0.1:7000".parse()?);
//! registry.upsert(entry).await?;
//! assert_eq!(mesh.local_neighbours(), vec![a]);
//!
//! // b is known from gossip only: linked to a, two hops from the local node.
//! let b = Identity::generate().peer_id();
//! mesh.add_link(a, b)?;
//! assert_eq!(mesh.hop_count(&local, &b), Some(2));
//! assert_eq!(mesh.shortest_path(&local, &b), Some(vec![local, a, b]));
//! assert_eq!(mesh.fanout(3, 42), vec![a]);
//!
//! // Removing a from the registry removes it and all its links.
//! registry.remove(&a).await?;
//! assert!(!mesh.contains(&a));
//! assert_eq!(mesh.hop_count(&local, &b), None);
//! assert_eq!(mesh.connected_components(), {
//!     let mut c = vec![vec![local], vec![b]];
//!     c.sort();
//!     c
//! });
//! # Ok(())
//! # }
//! ```
//!
//! - [`Mesh`] is the graph on its own (no registry needed): vertices are
//!   peer ids, links are undirected; hop counts, shortest paths (BFS),
//!   connected components, and a seeded gossip [`Mesh::fanout`].
//! - [`MeshObserver`] is a registry [`Observer`](tazcom_registry::Observer)
//!   over a `Mesh`: registry peers that are reachable ([`Reachability`]) are
//!   the local node's neighbours; a removed peer leaves with all its links;
//!   rollbacks are exact.
//!
//! `docs/mesh.md` describes the rules, rollback and costs.

mod components;
mod error;
mod fanout;
mod follow;
mod journal;
mod mesh;
mod observer;
mod paths;
mod reachability;
mod stats;

pub use error::MeshError;
pub use mesh::Mesh;
pub use observer::MeshObserver;
pub use reachability::Reachability;
pub use stats::MeshObserverStats;
pub use tazcom_identity::PeerId;
