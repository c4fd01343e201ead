//! What a running node reports.

use std::net::SocketAddr;
use std::time::Duration;

use tazcom_identity::PeerId;
use tazcom_registry::Source;

/// One thing that happened in a node, in the order it happened.
///
/// Read them from [`Node::events`](crate::Node::events). The `node`
/// example prints each as one JSON line (`--json`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeEvent {
    /// The node is listening and announcing itself.
    Ready {
        /// This node's peer id.
        peer: PeerId,
        /// The TCP listener's bound address.
        addr: SocketAddr,
    },
    /// A peer was seen for the first time (and added to the registry).
    Discovered {
        /// The peer.
        peer: PeerId,
        /// Its addresses (TCP listener), IPv4 first: as announced, or the
        /// one address it proved its key at.
        addrs: Vec<SocketAddr>,
        /// How: [`Source::Mdns`] (its DNS-SD records, or its mDNS probe
        /// confirmed by a signed ACK), [`Source::Static`], or
        /// [`Source::Greeting`] (it greeted us with a verified signed HELLO
        /// or PING before discovery reported it).
        source: Source,
    },
    /// A known peer's announcement changed (addresses, TXT).
    Updated {
        /// The peer.
        peer: PeerId,
        /// Its addresses now.
        addrs: Vec<SocketAddr>,
    },
    /// A peer left and was removed from the registry.
    Removed {
        /// The peer.
        peer: PeerId,
        /// Why it was removed.
        reason: RemovalReason,
    },
    /// Our signed HELLO to a peer was acknowledged.
    HelloAcked {
        /// The peer.
        peer: PeerId,
        /// The address that answered.
        addr: SocketAddr,
        /// Connect → reply line received.
        rtt: Duration,
        /// `true`: the peer answered with a signed ACK proving it holds the
        /// key of `peer` (its entry is now verified). `false`: a plain
        /// `ACK` (a prototype node): acknowledged, identity not proven.
        verified: bool,
    },
    /// Every attempt to greet a peer failed.
    HelloFailed {
        /// The peer.
        peer: PeerId,
        /// The last error.
        reason: String,
    },
    /// A peer greeted us.
    HelloReceived {
        /// The peer id: proven when `verified`, a claim otherwise.
        peer: PeerId,
        /// The connection's source address (its port is ephemeral).
        remote: SocketAddr,
        /// `true` for a signed HELLO that passed every check (addressed to
        /// us, fresh timestamp and nonce, signed by `peer`); `false` for the
        /// prototype's legacy HELLO.
        verified: bool,
    },
    /// Input from the network was rejected: a DNS-SD instance whose TXT
    /// `id` is not a peer id (`discovery: instance '…': …`), or a TCP
    /// connection the transport closed without reply (`transport: <reason>
    /// from <ip:port>`, reason as in `tazcom_transport::RejectReason`, e.g.
    /// `rate_limited`, `per_source_limit`, `read_timeout`). Transport
    /// rejections are best effort under a flood (dropped when the
    /// transport's event queue is full); the counters in
    /// [`NodeMetrics::transport`](crate::NodeMetrics::transport) are exact.
    Rejected {
        /// What was rejected and why.
        reason: String,
    },
    /// The node shut down; no event follows.
    Stopped,
}

/// Why a peer was removed ([`NodeEvent::Removed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalReason {
    /// Its discovery source withdrew it: an mDNS goodbye (TTL 0 records,
    /// RFC 6762 §10.1, acted on after the 1 s it requires) or the expiry of
    /// its records.
    Withdrawn,
    /// It said goodbye itself with a verified signed BYE (`docs/wire.md`
    /// §3.7) as it shut down.
    Bye,
    /// It stopped answering liveness checks ([`LivenessPolicy`](crate::LivenessPolicy)).
    Unreachable,
}

impl RemovalReason {
    /// The lowercase name used in logs and JSON: `withdrawn`, `bye`,
    /// `unreachable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Withdrawn => "withdrawn",
            Self::Bye => "bye",
            Self::Unreachable => "unreachable",
        }
    }
}
