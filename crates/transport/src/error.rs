//! The errors of this crate, one enum per concern. [`TransportError`] (a
//! refused config, binding, connecting, sending, awaiting `ACK`) and
//! [`ConfigError`] (a [`TransportConfig`](crate::TransportConfig) value out
//! of range) are what a node sees, and are also at the crate root; the
//! others are carried inside their variants or returned by the [`wire`]
//! layer: [`AckRejection`] (why a signed ACK was refused), [`TimeoutPhase`]
//! (which step ran out of time), [`FrameError`] (the byte stream could not be
//! cut into lines, [`FrameReader`](crate::wire::FrameReader)),
//! [`ParseError`] (a received line is not an acceptable message) and
//! [`EncodeError`] (a message cannot be put on the wire). Limits and formats
//! are specified in `docs/wire.md`.
//!
//! [`wire`]: crate::wire

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Which step of a client exchange ran out of time (see [`TransportError::Timeout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutPhase {
    /// Establishing the TCP connection ([`TransportConfig::connect_timeout`](crate::TransportConfig::connect_timeout)).
    Connect,
    /// Writing the line ([`TransportConfig::write_timeout`](crate::TransportConfig::write_timeout)).
    Write,
    /// Waiting for the reply line ([`TransportConfig::ack_timeout`](crate::TransportConfig::ack_timeout)).
    Read,
}

impl TimeoutPhase {
    /// The name of the [`TransportConfig`](crate::TransportConfig) setting that bounds this phase.
    pub fn setting(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect_timeout",
            TimeoutPhase::Write => "write_timeout",
            TimeoutPhase::Read => "ack_timeout",
        }
    }
}

/// Prints `connect`, `write` or `read`.
impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Write => "write",
            TimeoutPhase::Read => "read",
        })
    }
}

/// A transport operation failed: binding a listener or a client exchange
/// (connect, write one line, read the `ACK` reply).
///
/// Every client-side variant names the peer address, so the error can be
/// logged as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The [`TransportConfig`](crate::TransportConfig) was refused by its
    /// [`validate`](crate::TransportConfig::validate), before any socket was
    /// opened.
    #[error("invalid transport config")]
    Config(#[source] ConfigError),
    /// The listener could not be bound.
    ///
    /// Use port 0 to let the OS pick a free port, or an address of a local
    /// interface.
    #[error("cannot bind TCP listener on {addr}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Nothing listens on the peer's port (TCP RST on connect).
    #[error(
        "connection refused by {addr}: no TAZCOM listener on that port (the peer has not \
         started its server yet, or has stopped); retry when the peer is announced again"
    )]
    ConnectionRefused {
        /// The peer address.
        addr: SocketAddr,
    },
    /// A phase of the exchange did not finish in time.
    #[error(
        "{phase} to {addr} timed out after {} ms; the peer is unreachable or overloaded; \
         check the network or raise `{}` in TransportConfig",
        after.as_millis(),
        phase.setting()
    )]
    Timeout {
        /// The phase that timed out.
        phase: TimeoutPhase,
        /// The peer address.
        addr: SocketAddr,
        /// The configured limit that was reached.
        after: Duration,
    },
    /// A line to send, or the peer's reply, does not fit in the line limit
    /// (bytes, including the `\n`).
    #[error(
        "a line exchanged with {addr} exceeds the {limit}-byte line limit (newline \
         included); send shorter messages, or raise `max_line_bytes` on both peers"
    )]
    FrameTooLarge {
        /// The peer address.
        addr: SocketAddr,
        /// The limit in bytes, newline included.
        limit: usize,
    },
    /// A line to send, or the peer's reply, is not a valid frame
    /// (for example it contains a newline, or the reply is not UTF-8).
    #[error("malformed line exchanged with {addr}: {reason}")]
    MalformedFrame {
        /// The peer address.
        addr: SocketAddr,
        /// What is wrong with the line.
        reason: String,
    },
    /// The peer replied with a line other than `ACK`.
    #[error(
        "{addr} replied {received:?} instead of \"ACK\"; the peer is not a TAZCOM node \
         or speaks an incompatible protocol (see docs/wire.md)"
    )]
    BadAck {
        /// The peer address.
        addr: SocketAddr,
        /// The reply, lossily decoded and cut to at most 64 bytes for logs.
        received: String,
    },
    /// The peer answered a signed HELLO, PING or BYE with a signed ACK that
    /// fails a check (`docs/wire.md` §3.6): it cannot be taken as proof of
    /// the peer's id.
    #[error("{addr} answered the signed request with an ACK that fails verification: {reason}")]
    AckRejected {
        /// The peer address.
        addr: SocketAddr,
        /// Which check failed.
        reason: AckRejection,
    },
    /// The peer closed (or reset) the connection before a complete reply line.
    ///
    /// A TAZCOM server does this when it rejects the line (malformed, too
    /// large, over its source's rate; for a signed HELLO, PING or BYE also:
    /// addressed to another id, timestamp outside its window, bad signature,
    /// replayed) or is shutting down.
    #[error(
        "{addr} closed the connection before replying ACK; it rejected the line \
         (malformed or too large; a signed request addressed to another peer id, \
         with a clock skew beyond the peer's window, or replayed) or is shutting \
         down; check the peer's logs and the expected peer id"
    )]
    EofBeforeReply {
        /// The peer address.
        addr: SocketAddr,
    },
    /// The message could not be encoded as a line.
    #[error("cannot encode message for {addr}")]
    Encode {
        /// The peer address.
        addr: SocketAddr,
        /// Why encoding failed.
        #[source]
        source: EncodeError,
    },
    /// Any other I/O failure while talking to the peer.
    #[error("I/O error talking to {addr}")]
    Io {
        /// The peer address.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Why a client rejected a signed ACK (see [`TransportError::AckRejected`]);
/// each reason has its own counter in
/// [`TransportStats`](crate::TransportStats) (`acks_rejected_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckRejection {
    /// The ACK's `from` is not the peer id the client expected (the TXT
    /// `id` it greeted): another node, or a node with a new key, answers at
    /// that address. The discovery record and the key must agree.
    WrongPeer {
        /// The peer id the client greeted.
        expected: tazcom_identity::PeerId,
        /// The peer id the ACK names.
        found: tazcom_identity::PeerId,
    },
    /// The ACK's `to` is not the client's own peer id.
    WrongAddressee {
        /// The peer id the ACK names as addressee.
        found: tazcom_identity::PeerId,
    },
    /// The ACK's nonce is not the one the request (HELLO, PING or BYE)
    /// carried (a stale or replayed ACK).
    NonceMismatch,
    /// The signature does not verify under the ACK's `from`.
    BadSignature,
}

impl fmt::Display for AckRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AckRejection::WrongPeer { expected, found } => write!(
                f,
                "signed by peer {found}, not by the expected peer {expected}; the address \
                 belongs to another node (stale discovery record or static entry), fix the \
                 expected id or wait for a fresh announcement"
            ),
            AckRejection::WrongAddressee { found } => write!(
                f,
                "addressed to peer {found}, not to this node; the peer answered another greeting"
            ),
            AckRejection::NonceMismatch => f.write_str(
                "its nonce is not the request's; the ACK answers another request (stale or replayed)",
            ),
            AckRejection::BadSignature => f.write_str(
                "its signature does not verify under its `from` key; the reply was altered or forged",
            ),
        }
    }
}

/// A received line is not an acceptable message (see `docs/wire.md`, "Parsing").
///
/// A well-formed JSON object with a string `type` that this crate does not
/// know is *not* an error: it parses to
/// [`ParsedLine::Unknown`](crate::wire::ParsedLine::Unknown).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line is not valid UTF-8.
    #[error(
        "line is not valid UTF-8 (first invalid byte at offset {valid_up_to}); \
         messages must be UTF-8 JSON"
    )]
    BadUtf8 {
        /// Byte offset of the first invalid byte.
        valid_up_to: usize,
    },
    /// The line is not JSON.
    #[error("line is not valid JSON ({reason}); each line must hold one JSON object")]
    NotJson {
        /// The JSON parser's message (line and column included).
        reason: String,
    },
    /// The line is JSON, but not an object.
    #[error("line is a JSON {found}, expected a JSON object with a \"type\" field")]
    NotObject {
        /// The JSON kind found: `array`, `string`, `number`, `boolean` or `null`.
        found: &'static str,
    },
    /// The object has no `type` field, or it is not a string.
    #[error("JSON object has no string \"type\" field; every message needs one, e.g. \"HELLO\"")]
    MissingType,
    /// The `type` is known but the fields are wrong (e.g. a HELLO whose
    /// `from` is not 64 lowercase hex characters).
    #[error("invalid {message_type} message: {reason}")]
    InvalidMessage {
        /// The wire type, e.g. `HELLO`.
        message_type: String,
        /// What is wrong with the fields.
        reason: String,
    },
    /// A HELLO carries some but not all of the signed fields (`to`, `nonce`,
    /// `ts`, `port`, `sig`), or an ACK, PING or BYE object lacks one of its
    /// fields (`docs/wire.md` §3.6, §3.7).
    #[error(
        "{message_type} message has only part of its signed fields (missing: {}); \
         send all of them (a signed message) or, for a HELLO, none (a legacy HELLO)",
        missing.join(", ")
    )]
    TruncatedFields {
        /// The wire type: `HELLO`, `ACK`, `PING` or `BYE`.
        message_type: String,
        /// The names of the missing fields, in wire order.
        missing: Vec<&'static str>,
    },
}

/// The byte stream could not be cut into a line (see [`FrameReader`](crate::wire::FrameReader)).
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// `limit` bytes arrived without a newline: the line (with its `\n`)
    /// would exceed the limit. Nothing more is read; close the connection.
    #[error(
        "line exceeds the {limit}-byte limit (newline included); the peer must send \
         shorter lines or both sides must raise `max_line_bytes`"
    )]
    TooLarge {
        /// The limit in bytes, newline included.
        limit: usize,
    },
    /// The stream ended after some bytes of a line but before its newline.
    #[error("stream ended in the middle of a line ({buffered} bytes without a newline)")]
    EofMidLine {
        /// Bytes of the unfinished line.
        buffered: usize,
    },
    /// The line is not valid UTF-8 (the line has been consumed).
    #[error("line is not valid UTF-8 (first invalid byte at offset {valid_up_to})")]
    BadUtf8 {
        /// Byte offset of the first invalid byte.
        valid_up_to: usize,
    },
    /// Reading from the stream failed.
    #[error("read failed")]
    Io(#[from] io::Error),
}

/// A message cannot be put on the wire.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The encoded line, newline included, is longer than the limit.
    #[error(
        "encoded message is {len} bytes, more than the {limit}-byte line limit \
         (newline included); shorten its fields"
    )]
    TooLarge {
        /// Length of the encoded line in bytes, newline included.
        len: usize,
        /// The limit in bytes, newline included.
        limit: usize,
    },
    /// JSON serialization failed (a field's `Serialize` impl returned an error).
    #[error("cannot serialize message as JSON")]
    Json(#[from] serde_json::Error),
}

/// A [`TransportConfig`](crate::TransportConfig) value is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `max_line_bytes` is outside `min..=max`.
    #[error(
        "max_line_bytes = {value} is out of range; use {min}..={max} bytes \
         (the wire default is 1024, see docs/wire.md)"
    )]
    LineLimitOutOfRange {
        /// The rejected value.
        value: usize,
        /// Smallest accepted value.
        min: usize,
        /// Largest accepted value.
        max: usize,
    },
    /// A timeout is zero or longer than the maximum.
    #[error(
        "{name} = {} ms is out of range; use 1..={} ms",
        value.as_millis(),
        max.as_millis()
    )]
    TimeoutOutOfRange {
        /// The setting's name, e.g. `read_timeout`.
        name: &'static str,
        /// The rejected value.
        value: Duration,
        /// Largest accepted value.
        max: Duration,
    },
    /// `replay_cache_capacity` is zero or above the maximum.
    #[error("replay_cache_capacity = {value} is out of range; use 1..={max} entries")]
    ReplayCacheOutOfRange {
        /// The rejected value.
        value: usize,
        /// Largest accepted value.
        max: usize,
    },
    /// `max_connections` is zero or above the maximum.
    #[error("max_connections = {value} is out of range; use 1..={max}")]
    ConnectionsOutOfRange {
        /// The rejected value.
        value: usize,
        /// Largest accepted value.
        max: usize,
    },
    /// A flood limit (`max_connections_per_source`, `hello_rate_burst`,
    /// `hello_rate_per_sec`, `rate_limit_sources`) is zero or above its
    /// maximum.
    #[error("{name} = {value} is out of range; use 1..={max} (see docs/transport.md, limits)")]
    LimitOutOfRange {
        /// The setting's name, e.g. `hello_rate_burst`.
        name: &'static str,
        /// The rejected value.
        value: usize,
        /// Largest accepted value.
        max: usize,
    },
}
