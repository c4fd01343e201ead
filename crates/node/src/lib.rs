//! The TAZCOM node: an Ed25519 identity, DNS-SD/mDNS discovery, a peer
//! registry and the TCP greeting, wired together behind one builder.
//!
//! Two nodes on loopback, the second told about the first by a static peer
//! list (with [`NodeBuilder::mdns`] they find each other on their own):
//!
//! ```
//! use tazcom_discovery::StaticPeer;
//! use tazcom_node::{Node, NodeEvent};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let a = Node::builder().listen("127.0.0.1:0".parse()?).start().await?;
//! let b = Node::builder()
//!     .listen("127.0.0.1:0".parse()?)
//!     .static_peers(vec![StaticPeer { peer_id: a.peer_id(), addr: a.local_addr() }])
//!     .start()
//!     .await?;
//!
//! let mut events = b.events();
//! loop {
//!     match events.recv().await? {
//!         NodeEvent::HelloAcked { peer, rtt, verified, .. } => {
//!             assert_eq!(peer, a.peer_id());
//!             assert!(verified, "A proved its id with a signed ACK");
//!             println!("greeted {peer} in {} µs", rtt.as_micros());
//!             break;
//!         }
//!         other => println!("{other:?}"),
//!     }
//! }
//! assert_eq!(b.peers().len(), 1);
//! assert!(b.peers()[0].verified);
//! b.shutdown().await?;
//! a.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What a node does
//! - **Announces** itself through each discovery source (DNS-SD instance
//!   `TAZCOM Node <short id>`, TXT `id=`, `v=`, `caps=`; `docs/wire.md`).
//! - **Discovers** peers: each announcement becomes a registry upsert
//!   ([`NodeEvent::Discovered`] / [`NodeEvent::Updated`]); a goodbye removes
//!   the peer by DNS-SD instance name ([`NodeEvent::Removed`]).
//! - **Greets** each newly discovered peer, and a known peer whose
//!   addresses changed, with one signed HELLO addressed to the announced id
//!   (retried per [`GreetingPolicy`]): [`NodeEvent::HelloAcked`] with the
//!   round-trip time and whether the peer proved its id (a signed ACK
//!   marks its entry `verified`; a prototype's plain `ACK` does not), or
//!   [`NodeEvent::HelloFailed`] (also when another key answers).
//! - **Answers** HELLOs ([`NodeEvent::HelloReceived`]; the transport
//!   rejects signed ones that fail a check) and refreshes the sender's
//!   `last_seen_ms` when the registry knows it; a verified signed HELLO
//!   from a listed address marks the entry `verified`.
//! - **Stops** cleanly with [`Node::shutdown`]: goodbye sent, listener
//!   closed, greetings in flight cancelled, [`NodeEvent::Stopped`].
//!
//! Observers (DHT, mesh, validator set…) plug into [`Node::registry`].
//! Counters of every layer: [`Node::metrics`]. See `docs/node.md`.

mod builder;
pub mod caps;
mod departure;
mod discovery_events;
mod error;
mod event;
mod greeting;
mod hints;
mod inbound;
mod liveness;
mod metrics;
mod node;
mod observers;
mod shared;
mod tasks;

pub use builder::{NodeBuilder, DEFAULT_EVENT_CAPACITY};
pub use error::NodeError;
pub use event::{NodeEvent, RemovalReason};
pub use liveness::LivenessPolicy;
pub use metrics::NodeMetrics;
pub use node::Node;
pub use shared::GreetingPolicy;
