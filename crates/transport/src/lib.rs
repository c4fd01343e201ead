//! TCP transport for TAZCOM: newline-delimited JSON frames and the HELLO/ACK
//! greeting, byte-compatible with the Python prototype (POC-02), plus the
//! authenticated greeting (signed HELLO, signed ACK) that proves both peers'
//! ids, and the signed liveness check (PING) and departure notice (BYE)
//! between verified peers.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use tazcom_identity::Identity;
//! use tazcom_transport::{send_hello, InboundEvent, Listener, TransportConfig};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = TransportConfig::default();
//!     let addr: SocketAddr = "127.0.0.1:0".parse()?;
//!     let (server_id, client_id) = (Arc::new(Identity::generate()), Arc::new(Identity::generate()));
//!     let listener = Listener::bind(addr, config.clone()).await?.with_identity(Arc::clone(&server_id));
//!     let (events_tx, mut events) = tokio::sync::mpsc::channel(16);
//!     let server = listener.serve(events_tx);
//!
//!     // Signed HELLO → signed ACK: each side proves its id.
//!     let greeter = tazcom_transport::Greeter::new(Arc::clone(&client_id), None, config.clone())?;
//!     let greeting = greeter.greet(server.local_addr(), &server_id.peer_id()).await?;
//!     assert_eq!(greeting.verified_peer, Some(server_id.peer_id()));
//!     match events.recv().await {
//!         Some(InboundEvent::Hello { from, verified, .. }) => {
//!             assert_eq!(from, client_id.peer_id());
//!             assert!(verified);
//!         }
//!         other => panic!("unexpected event {other:?}"),
//!     }
//!
//!     // The prototype's HELLO still gets `ACK`; its `from` is only a claim.
//!     // (`send_hello` is a test helper: feature `test-support`.)
//!     let rtt = send_hello(server.local_addr(), &client_id.peer_id(), &config).await?;
//!     println!("legacy HELLO acknowledged in {} µs", rtt.as_micros());
//!     assert!(matches!(events.recv().await, Some(InboundEvent::Hello { verified: false, .. })));
//!
//!     let stats = server.stats();
//!     assert_eq!((stats.hellos, stats.hellos_verified), (2, 1));
//!     server.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! # Layers
//!
//! The crate root holds what a node needs: [`Listener`] / [`Server`],
//! [`Greeter`] / [`Greeting`], [`TransportConfig`], [`InboundEvent`],
//! [`TransportStats`] / [`RejectReason`], and the two errors it returns,
//! [`TransportError`] and [`ConfigError`]. The rest is in four modules:
//!
//! - [`wire`]: the line protocol itself. [`Message`](wire::Message) /
//!   [`ParsedLine`](wire::ParsedLine) (`message.rs`): the JSON messages and
//!   their exact line encoding; [`SignedHello`](wire::SignedHello),
//!   [`SignedAck`](wire::SignedAck), [`Nonce`](wire::Nonce) (`signed.rs`):
//!   the signed greeting and the bytes it signs;
//!   [`SignedPing`](wire::SignedPing), [`SignedBye`](wire::SignedBye)
//!   (`liveness.rs`): the signed liveness check and departure notice
//!   (`docs/wire.md` §3.7); [`SignedMessage`](wire::SignedMessage)
//!   (`signed.rs`): what the four signed messages share, written once: the
//!   bytes a signature covers and its verification;
//!   [`FrameReader`](wire::FrameReader) (`codec.rs`): bounded `\n` framing
//!   (1024 bytes by default, newline included); the wire constants.
//! - [`session`]: encrypted sessions (`docs/wire.md` §3.8–3.9): the
//!   `SESSION` upgrade line, the Noise XX handshake bound to both peers'
//!   ids, to the connection's addresses and to the initiator's listen
//!   port, encrypted frames, and the message layer over them ([`Link`](session::Link):
//!   messages named by protocol, receipts, request/response, keep-alive;
//!   [`Router`](session::Router) / [`Inbox`](session::Inbox) on the
//!   receiving side). The server accepts upgrades when given Noise keys
//!   ([`Listener::with_sessions`]); the node dials and keeps one session
//!   per peer.
//! - [`config`]: [`TransportConfig`]'s defaults and bounds (`DEFAULT_*`,
//!   `MAX_*`, `MIN_LINE_BYTES`).
//! - [`error`]: the errors, including the types carried inside
//!   [`TransportError`] variants ([`AckRejection`](error::AckRejection),
//!   [`TimeoutPhase`](error::TimeoutPhase), [`FrameError`](error::FrameError),
//!   [`ParseError`](error::ParseError), [`EncodeError`](error::EncodeError)).
//!
//! Behind them:
//!
//! - [`Listener`] / [`Server`] (`server.rs`, `connection.rs`): accept,
//!   answer each valid line with `ACK\n` (a verified signed HELLO, PING or
//!   BYE with a signed ACK, `authenticate.rs`, `replay.rs`), report HELLOs,
//!   PINGs and BYEs as [`InboundEvent`]s, count rejections in
//!   [`TransportStats`] (one counter per [`RejectReason`]); per-source
//!   connection caps and request rate limits (`limits.rs`).
//! - [`Greeter`] (`greeter.rs`): the signed requests (HELLO, PING, BYE),
//!   their replies checked and counted. With the `test-support` feature,
//!   one-shot helpers for tests and benches: `send_hello`, `send_message`,
//!   `send_line` (`client.rs`: one line, `ACK` required, round-trip time)
//!   and `send_signed_hello`, `send_signed_ping`, `send_signed_bye` (an
//!   uncounted greeter).
//! - [`TransportConfig`] (`config.rs`): limits and timeouts, validated by
//!   [`Listener::bind`] and [`Greeter::new`] before any socket is opened.
//!
//! The wire format (and the DNS-SD records that announce the TCP port) is
//! specified in `docs/wire.md`; this layer's behaviour (limits, timeouts,
//! counters, shutdown) in `docs/transport.md`.

mod authenticate;
mod client;
mod codec;
pub mod config;
mod connection;
pub mod error;
mod event;
mod greeter;
mod limits;
mod liveness;
mod message;
mod replay;
mod server;
pub mod session;
mod signed;
mod stats;
pub mod wire;

// What a node user needs, at the root; the rest is in `config`, `error` and
// `wire`.
#[cfg(feature = "test-support")]
pub use client::{send_hello, send_line, send_message};
pub use config::TransportConfig;
pub use error::{ConfigError, TransportError};
pub use event::InboundEvent;
#[cfg(feature = "test-support")]
pub use greeter::{send_signed_bye, send_signed_hello, send_signed_ping};
pub use greeter::{Greeter, Greeting};
pub use server::{Listener, Server};
pub use stats::{RejectReason, TransportStats};
