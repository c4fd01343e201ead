//! Peer discovery for TAZCOM: DNS-SD over mDNS and static peer lists.
//!
//! Start a source with the [`LocalService`] this node offers, then read
//! [`DiscoveryEvent`]s from the channel it returns:
//!
//! ```no_run
//! // no_run: needs multicast on the chosen interface (here loopback).
//! use tazcom_discovery::{Discovery, DiscoveryEvent, LocalService, MdnsConfig, MdnsDiscovery};
//! use tazcom_identity::PeerId;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let me = PeerId::from_bytes([7; 32]); // this node's id, from its identity
//!     let config = MdnsConfig::default().with_interfaces(["lo"]);
//!     let mut mdns = MdnsDiscovery::new(config)?;
//!     // Publish our TCP listener port (4000) and browse `_tazcom._tcp.local.`.
//!     let mut events = mdns.start(LocalService::new(me, 4000).with_txt("v", "1")).await?;
//!     while let Some(event) = events.recv().await {
//!         match event {
//!             DiscoveryEvent::Discovered(peer) => println!("{} at {:?}", peer.peer_id, peer.addrs),
//!             DiscoveryEvent::Removed { instance_name, .. } => {
//!                 println!("{instance_name} left");
//!                 break;
//!             }
//!             other => println!("{other:?}"),
//!         }
//!     }
//!     mdns.shutdown().await?; // sends the goodbye, then stops the daemon
//!     Ok(())
//! }
//! ```
//!
//! Without multicast, list the peers as `PEERID@IP:PORT`:
//!
//! ```
//! use tazcom_discovery::{Discovery, DiscoveryEvent, LocalService, StaticDiscovery};
//! use tazcom_identity::PeerId;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let peer = "ab".repeat(32);
//!     let mut source = StaticDiscovery::from_entries([format!("{peer}@192.168.1.10:4000")])?;
//!     let me = PeerId::from_bytes([1; 32]);
//!     let mut events = source.start(LocalService::new(me, 4000)).await?;
//!     match events.recv().await {
//!         Some(DiscoveryEvent::Discovered(info)) => {
//!             assert_eq!(info.peer_id.to_string(), peer);
//!             assert_eq!(info.addrs, ["192.168.1.10:4000".parse()?]);
//!         }
//!         other => panic!("expected Discovered, got {other:?}"),
//!     }
//!     source.shutdown().await?;
//!     assert!(events.recv().await.is_none(), "the stream ends at shutdown");
//!     Ok(())
//! }
//! ```
//!
//! # Parts
//!
//! - [`Discovery`]: the trait every source implements (start, shutdown,
//!   name, stats), so other sources can plug in.
//! - [`MdnsDiscovery`] with [`MdnsConfig`]: publishes `TAZCOM Node <short id>`
//!   under `_tazcom._tcp.local.` with TXT `id=<64 hex>` and browses for the
//!   same type; interoperates with the Python prototype (python-zeroconf).
//!   It also reads the probes of starting peers (RFC 6762 §8.1) and reports
//!   them as [`DiscoveryEvent::Probing`] hints, about 1 s before they are
//!   `Discovered` ([`MdnsConfig::probe_hints`], IPv4 only).
//! - [`StaticDiscovery`]: a fixed list of [`StaticPeer`]s.
//! - [`config`]: [`MdnsConfig`]'s defaults and bounds, the interface
//!   selection and the service-type check.
//! - [`error`]: the errors; [`DiscoveryError`] is also at the root, the
//!   typed causes it carries (`ServiceTypeError`, `StaticPeerError`) only
//!   here.
//! - [`wire`]: the published names and TXT keys (docs/wire.md), and the
//!   instance name prefix of static peers.
//!
//! Received data is never trusted: an instance with a missing or invalid
//! TXT `id` becomes [`DiscoveryEvent::Rejected`], is counted in
//! [`DiscoveryStats`] and logged. A discovered peer id is only a claim,
//! proven by the node's signed greeting (docs/node.md); a `Probing` hint is
//! not even announced yet and should lead to nothing but such a check. See
//! docs/discovery.md.

pub mod config;
pub mod error;
mod event;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod mdns;
mod source;
mod static_source;
mod stats;
pub mod wire;

// What a node user needs, at the root; the rest is in `config`, `error` and
// `wire`.
pub use error::DiscoveryError;
pub use event::{DiscoveryEvent, PeerInfo, RejectReason};
pub use mdns::{MdnsConfig, MdnsDiscovery};
pub use source::{Discovery, LocalService};
pub use static_source::{StaticDiscovery, StaticPeer};
pub use stats::DiscoveryStats;
