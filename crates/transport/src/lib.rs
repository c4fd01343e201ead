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
//! - [`Message`] / [`ParsedLine`] (`message.rs`): the JSON messages and
//!   their exact line encoding; [`SignedHello`], [`SignedAck`], [`Nonce`]
//!   (`signed.rs`): the signed greeting and the bytes it signs;
//!   [`SignedPing`](wire::SignedPing), [`SignedBye`](wire::SignedBye)
//!   (`liveness.rs`): the signed liveness check and departure notice
//!   (`docs/wire.md` §3.7); [`SignedMessage`] (`signed.rs`): what the four
//!   signed messages share, written once: the bytes a signature covers and
//!   its verification. All message types and wire constants are in
//!   [`wire`].
//! - [`FrameReader`] (`codec.rs`): bounded `\n` framing (1024 bytes by
//!   default, newline included).
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
mod config;
mod connection;
mod error;
mod event;
mod greeter;
mod limits;
mod liveness;
mod message;
mod replay;
mod server;
mod signed;
mod stats;
pub mod wire;

#[cfg(feature = "test-support")]
pub use client::{send_hello, send_line, send_message};
pub use codec::FrameReader;
pub use config::{
    TransportConfig, DEFAULT_ACK_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HELLO_RATE_BURST,
    DEFAULT_HELLO_RATE_PER_SEC, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
    DEFAULT_MAX_LINE_BYTES, DEFAULT_RATE_LIMIT_SOURCES, DEFAULT_READ_TIMEOUT,
    DEFAULT_REPLAY_CACHE_CAPACITY, DEFAULT_SHUTDOWN_GRACE, DEFAULT_TIMESTAMP_WINDOW,
    DEFAULT_WRITE_TIMEOUT, MAX_MAX_CONNECTIONS, MAX_MAX_LINE_BYTES, MAX_RATE_LIMIT_SETTING,
    MAX_REPLAY_CACHE_CAPACITY, MAX_TIMEOUT, MIN_LINE_BYTES,
};
pub use error::{
    AckRejection, ConfigError, EncodeError, FrameError, ParseError, TimeoutPhase, TransportError,
};
pub use event::InboundEvent;
#[cfg(feature = "test-support")]
pub use greeter::{send_signed_bye, send_signed_hello, send_signed_ping};
pub use greeter::{Greeter, Greeting};
pub use server::{Listener, Server};
pub use stats::{RejectReason, TransportStats};
pub use wire::{Message, Nonce, ParsedLine, SignedAck, SignedHello, SignedMessage};
