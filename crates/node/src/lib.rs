//! The TAZCOM node: an Ed25519 identity, DNS-SD/mDNS discovery, a peer
//! registry and the TCP greeting, wired together behind one builder.
//!
//! Two nodes on loopback, the second told about the first by a static peer
//! list (with [`NodeBuilder::mdns`] they find each other on their own):
//!
//! ```
//! use tazcom_node::{Node, NodeEvent, StaticPeer};
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
//! - **Finds** peers three ways, each reported as [`NodeEvent::Discovered`]
//!   with its source (`docs/node.md`, "How peers are found"):
//!   - a DNS-SD announcement or static entry becomes a registry upsert
//!     ([`NodeEvent::Updated`] when it changes); its id is a claim until
//!     the greeting proves it;
//!   - an mDNS probe hint: the prober is greeted at once and stored only
//!     if its signed ACK proves the hinted key at the hinted address;
//!   - a verified signed HELLO or PING from a peer the registry does not
//!     hold registers it (`Source::Greeting`: its IP as seen, the listen
//!     port it signed) and the node greets it back. Until its DNS-SD
//!     records resolve, such an entry has no instance name and default
//!     capabilities (protocol version 0, not a validator).
//! - **Greets** each new peer, and a known peer whose addresses changed,
//!   with one signed HELLO addressed to its id (retried per
//!   [`GreetingPolicy`]): [`NodeEvent::HelloAcked`] with the round-trip
//!   time and whether the peer proved its id (a signed ACK marks its entry
//!   `verified`; a prototype's plain `ACK` does not), or
//!   [`NodeEvent::HelloFailed`] (also when another key answers).
//! - **Answers** HELLOs ([`NodeEvent::HelloReceived`]), PINGs and BYEs; the
//!   transport rejects signed ones that fail a check. A HELLO refreshes a
//!   known sender's `last_seen_ms`, and a verified one from a listed
//!   address marks the entry `verified`.
//! - **Checks liveness** per [`LivenessPolicy`]: a peer not heard from for
//!   the interval (default 4 s, + 0–20 %) gets a signed PING; one that
//!   answers none of the rounds (default 2) is removed (static peers are
//!   kept). A PING from a known peer resets only the node's own liveness
//!   clock, not the registry's `last_seen_ms` (no observer churn).
//! - **Removes** peers with a [`RemovalReason`] in [`NodeEvent::Removed`]:
//!   [`Withdrawn`](RemovalReason::Withdrawn) (mDNS goodbye or record
//!   expiry), [`Bye`](RemovalReason::Bye) (the peer's verified BYE; it is
//!   not re-added by discovery for 5 s unless it proves it is back) or
//!   [`Unreachable`](RemovalReason::Unreachable) (failed liveness check).
//! - **Talks** over encrypted sessions (`docs/wire.md` §3.8–3.9): one Noise
//!   XX session per peer, bound to both ids and to the connection's
//!   addresses, dialled on demand and by every verified greeting (the
//!   handshake at the greeted address is what marks the entry `verified`:
//!   a relay cannot pass it). [`Node::send`] resolves on the peer's
//!   receipt, [`Node::request`] on its answer, [`Node::serve`] gives the
//!   messages of one protocol; liveness checks run as keep-alive frames
//!   over the open session ([`NodeEvent::SessionOpened`],
//!   [`NodeEvent::SessionClosed`]).
//! - **Stops** cleanly with [`Node::shutdown`]: no new contact, a signed
//!   BYE to every verified or greeted peer (500 ms at most), the mDNS
//!   goodbye, listener closed, [`NodeEvent::Stopped`].
//!
//! Observers (DHT, mesh, validator set…) plug into the read-only
//! [`Node::registry`] or [`NodeBuilder::observer`]. Counters of every layer:
//! [`Node::metrics`]. See `docs/node.md`.
//!
//! # One dependency
//! This crate re-exports each layer as a module ([`identity`],
//! [`discovery`], [`registry`], [`transport`]; `dht`, `mesh` and
//! `validators` behind their features) and the types every user needs at
//! its root, so `tazcom-node` is the only TAZCOM crate to depend on. A LAN
//! node that finds its peers over mDNS:
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tazcom_node::{MdnsConfig, Node};
//!
//! let node = Node::builder().mdns(MdnsConfig::default()).start().await?;
//! let mut events = node.events();
//! while let Ok(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Messages
//! One node serves a protocol, another sends on it; `send` resolves once
//! the peer's node has queued the message for its application:
//!
//! ```
//! use tazcom_node::{Node, StaticPeer};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let a = Node::builder().listen("127.0.0.1:0".parse()?).start().await?;
//! let mut inbox = a.serve("/example/chat/1", 64)?;
//! let b = Node::builder()
//!     .listen("127.0.0.1:0".parse()?)
//!     .static_peers(vec![StaticPeer { peer_id: a.peer_id(), addr: a.local_addr() }])
//!     .start()
//!     .await?;
//! // `send` dials the addresses the registry holds: wait until B knows A.
//! while b.registry().get(&a.peer_id()).is_none() {
//!     tokio::time::sleep(std::time::Duration::from_millis(5)).await;
//! }
//!
//! let rtt = b.send(a.peer_id(), "/example/chat/1", b"hello".to_vec()).await?;
//! let message = inbox.recv().await?;
//! assert_eq!((message.peer, message.body.as_slice()), (b.peer_id(), &b"hello"[..]));
//! println!("delivered in {} µs", rtt.as_micros());
//! b.shutdown().await?;
//! a.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Inside
//! One task, the actor, owns the node's peer book: a state machine with no
//! I/O that turns each input (an announcement, a HELLO, a greeting's
//! outcome, the clock…) into effects (registry commits, greetings, PINGs,
//! events). The actor is the only writer of the registry. `docs/node.md`
//! states every rule.
//!
//! # Features
//! - `serde`: [`NodeEvent`] and its parts derive `Serialize` and
//!   `Deserialize` (the JSON schema in `docs/node.md`).
//! - `dht`, `mesh`, `validators` (all three: `observers`): the observers of
//!   those crates, attached by the builder.

mod book;
mod builder;
pub mod caps;
mod config;
mod error;
mod event;
mod events;
mod metrics;
mod node;
mod observers;
mod runtime;
mod view;

pub use builder::{NodeBuilder, DEFAULT_EVENT_CAPACITY};
pub use config::{GreetingPolicy, LivenessPolicy};
pub use error::{ConfigError, ShutdownError, StartError};
pub use event::{GreetFailure, NodeEvent, Rejection, RemovalReason};
pub use events::{Events, RecvError, TryRecvError};
pub use metrics::NodeMetrics;
pub use node::Node;
pub use view::RegistryView;

// The layers, as modules: `tazcom-node` is the one dependency users need.
#[cfg(feature = "dht")]
pub use tazcom_dht as dht;
pub use tazcom_discovery as discovery;
pub use tazcom_identity as identity;
#[cfg(feature = "mesh")]
pub use tazcom_mesh as mesh;
pub use tazcom_registry as registry;
pub use tazcom_transport as transport;
#[cfg(feature = "validators")]
pub use tazcom_validators as validators;

// What every user needs, at the root.
pub use tazcom_discovery::{MdnsConfig, StaticPeer};
pub use tazcom_identity::{Identity, PeerId};
pub use tazcom_registry::{PeerEntry, Source};
pub use tazcom_transport::session::{
    Inbox, InboxError, Incoming, Refusal, Responder, SendError, ServeError, SessionConfig,
};
pub use tazcom_transport::TransportConfig;
