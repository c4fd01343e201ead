//! What can happen to a node: the book's inputs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tazcom_discovery::PeerInfo;
use tazcom_identity::PeerId;
use tazcom_registry::Source;

use crate::event::{GreetFailure, Rejection};

/// One thing that happened, from the network, a discovery source, a task
/// of the node's, or the clock.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    /// A discovery source of kind `source` reported a peer (new or changed).
    Announced { source: Source, info: PeerInfo },
    /// A discovery source withdrew a DNS-SD instance (goodbye or expiry);
    /// `peer` is its TXT `id` when the source still knew it.
    Withdrawn {
        instance: String,
        peer: Option<PeerId>,
    },
    /// A peer is probing for its DNS-SD records (RFC 6762 §8.1): a hint,
    /// checked by a greeting before it changes anything.
    Probe(PeerInfo),
    /// A HELLO line was received (transport `InboundEvent::Hello`).
    /// `sent_ms`: the sender's signed timestamp (verified HELLOs only).
    Hello {
        from: PeerId,
        remote: SocketAddr,
        verified: bool,
        listen_port: Option<u16>,
        sent_ms: Option<u64>,
    },
    /// A verified signed PING was received (`sent_ms`: its signed timestamp).
    Ping {
        from: PeerId,
        remote: SocketAddr,
        listen_port: Option<u16>,
        sent_ms: u64,
    },
    /// A verified signed BYE was received (`sent_ms`: its signed timestamp).
    Bye { from: PeerId, sent_ms: u64 },
    /// A layer refused some input from the network.
    Rejected(Rejection),
    /// A greeting task finished.
    Greeted {
        peer: PeerId,
        token: u64,
        outcome: GreetOutcome,
    },
    /// A liveness check finished.
    Pinged {
        peer: PeerId,
        started: Instant,
        outcome: PingOutcome,
    },
    /// A session with `peer` was established: it proved its key. `proven`:
    /// its listen address as the handshake bound it (the address we dialled,
    /// or its source IP with the listen port it signed; `None` when it
    /// dialled us without a listen port).
    SessionOpened {
        peer: PeerId,
        proven: Option<SocketAddr>,
    },
    /// A session with `peer` ended without a `CLOSE` (the peer stopped,
    /// crashed, or broke the protocol): check its liveness now.
    SessionBroken { peer: PeerId },
    /// The liveness sweep's clock.
    Tick,
    /// Shutdown has begun: no new contact from here on.
    Leave,
}

/// How a greeting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GreetOutcome {
    /// An ACK from `addr`; `verified` when it was a signed ACK proving the
    /// expected key.
    Acked {
        addr: SocketAddr,
        rtt: Duration,
        verified: bool,
    },
    /// Every attempt failed; the last was at `addr`.
    Failed {
        addr: SocketAddr,
        reason: GreetFailure,
    },
}

/// How a liveness check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PingOutcome {
    /// The peer answered (with a signed ACK if its entry is verified).
    Answered,
    /// No round got an acceptable answer.
    Unanswered,
}
