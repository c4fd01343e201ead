//! TCP transport for TAZCOM: newline-delimited JSON frames and the HELLO/ACK
//! greeting, byte-compatible with the Python prototype (POC-02).
//!
//! ```
//! use std::net::SocketAddr;
//! use tazcom_identity::PeerId;
//! use tazcom_transport::{send_hello, InboundEvent, Listener, TransportConfig};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = TransportConfig::default();
//!     let addr: SocketAddr = "127.0.0.1:0".parse()?;
//!     let listener = Listener::bind(addr, config.clone()).await?;
//!     let (events_tx, mut events) = tokio::sync::mpsc::channel(16);
//!     let server = listener.serve(events_tx);
//!
//!     let me = PeerId::from_bytes([7; 32]);
//!     let rtt = send_hello(server.local_addr(), &me, &config).await?;
//!     println!("HELLO acknowledged in {} µs", rtt.as_micros());
//!
//!     match events.recv().await {
//!         Some(InboundEvent::Hello { from, .. }) => assert_eq!(from, me),
//!         other => panic!("unexpected event {other:?}"),
//!     }
//!     assert_eq!(server.stats().hellos, 1);
//!     server.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! # Layers
//!
//! - [`Message`] / [`ParsedLine`] (`message.rs`): the JSON messages and
//!   their exact line encoding.
//! - [`FrameReader`] (`codec.rs`): bounded `\n` framing (1024 bytes by
//!   default, newline included).
//! - [`Listener`] / [`Server`] (`server.rs`): accept, answer each valid line
//!   with `ACK\n`, report HELLOs as [`InboundEvent`]s, count rejections in
//!   [`TransportStats`].
//! - [`send_hello`], [`send_message`], [`send_line`] (`client.rs`): one-shot
//!   exchanges returning the round-trip time.
//! - [`TransportConfig`] (`config.rs`): limits and timeouts, validated.
//!
//! The wire format (and the DNS-SD records that announce the TCP port) is
//! specified in `docs/wire.md`; this layer's behaviour (limits, timeouts,
//! counters, shutdown) in `docs/transport.md`.

mod client;
mod codec;
mod config;
mod connection;
mod error;
mod event;
mod message;
mod server;
mod stats;

pub use client::{send_hello, send_line, send_message};
pub use codec::FrameReader;
pub use config::{
    TransportConfig, TransportConfigBuilder, DEFAULT_ACK_TIMEOUT, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_LINE_BYTES, DEFAULT_READ_TIMEOUT, DEFAULT_SHUTDOWN_GRACE,
    DEFAULT_WRITE_TIMEOUT, MAX_MAX_CONNECTIONS, MAX_MAX_LINE_BYTES, MAX_TIMEOUT, MIN_LINE_BYTES,
};
pub use error::{ConfigError, EncodeError, FrameError, ParseError, TimeoutPhase, TransportError};
pub use event::InboundEvent;
pub use message::{
    Message, ParsedLine, UnknownMessage, ACK, ACK_LINE, HELLO_LINE_BYTES, MAX_LINE_BYTES,
};
pub use server::{Listener, Server};
pub use stats::TransportStats;
