//! What a running node reports.

use std::net::SocketAddr;
use std::time::Duration;

use tazcom_identity::PeerId;

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
        /// Its announced addresses (TCP listener), IPv4 first.
        addrs: Vec<SocketAddr>,
    },
    /// A known peer's announcement changed (addresses, TXT).
    Updated {
        /// The peer.
        peer: PeerId,
        /// Its addresses now.
        addrs: Vec<SocketAddr>,
    },
    /// A peer left (goodbye, expiry) and was removed from the registry.
    Removed {
        /// The peer.
        peer: PeerId,
    },
    /// Our HELLO to a peer was acknowledged.
    HelloAcked {
        /// The peer.
        peer: PeerId,
        /// The address that answered.
        addr: SocketAddr,
        /// Connect → `ACK` received.
        rtt: Duration,
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
        /// The peer id it claims.
        peer: PeerId,
        /// The connection's source address (its port is ephemeral).
        remote: SocketAddr,
        /// Whether it proved the claim. Always `false` for the prototype's
        /// plain HELLO, the only greeting so far.
        verified: bool,
    },
    /// Input from the network was rejected (e.g. a DNS-SD instance whose TXT
    /// `id` is not a peer id).
    Rejected {
        /// What was rejected and why.
        reason: String,
    },
    /// The node shut down; no event follows.
    Stopped,
}
