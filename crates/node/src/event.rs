//! What a running node reports, and its JSON form (feature `serde`).

use std::net::SocketAddr;
use std::time::Duration;

use tazcom_identity::PeerId;
use tazcom_registry::Source;
use tazcom_transport::TransportError;

/// One thing that happened in a node, in the order it happened.
///
/// Read them from [`Node::events`](crate::Node::events). With the `serde`
/// feature each event is one JSON object tagged by `event` (snake case),
/// e.g. `{"event":"hello_acked","peer":"…","addr":"10.0.0.2:7000",
/// "rtt_us":240,"verified":true}`; `docs/node.md` ("Event schema") lists
/// every field and unit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "event", rename_all = "snake_case")
)]
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
    /// A known peer's announcement changed: its addresses, DNS-SD instance
    /// name, capabilities or source (a re-announcement of the same records
    /// is not reported).
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
        /// Connect → reply line received. JSON: `rtt_us`, microseconds.
        #[cfg_attr(feature = "serde", serde(rename = "rtt_us", with = "micros"))]
        rtt: Duration,
        /// `true`: the peer answered with a signed ACK proving it holds the
        /// key of `peer` (its entry is now verified). `false`: a plain
        /// `ACK` (a prototype node): acknowledged, identity not proven.
        verified: bool,
    },
    /// Every attempt to greet a peer failed ([`GreetingPolicy`](crate::GreetingPolicy)).
    HelloFailed {
        /// The peer.
        peer: PeerId,
        /// The address of the last attempt.
        addr: SocketAddr,
        /// Why the last attempt failed.
        reason: GreetFailure,
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
    /// An encrypted session with a peer was established (`docs/wire.md`
    /// §3.8): its key is proven; messages can flow.
    SessionOpened {
        /// The peer.
        peer: PeerId,
        /// Its address on this connection (a dialled listen address, or
        /// its ephemeral port when it dialled us).
        remote: SocketAddr,
        /// `true` when this node dialled.
        initiator: bool,
    },
    /// A session ended.
    SessionClosed {
        /// The peer.
        peer: PeerId,
        /// `true` when it ended without `CLOSE` (the peer stopped or
        /// crashed, or broke the protocol): a liveness check follows.
        broken: bool,
    },
    /// Input from the network was rejected (see [`Rejection`]). Transport
    /// rejections are best effort under a flood (dropped when the
    /// transport's event queue is full); the counters in
    /// [`NodeMetrics::transport`](crate::NodeMetrics::transport) are exact.
    Rejected(Rejection),
    /// The node shut down; no event follows.
    Stopped,
}

impl NodeEvent {
    /// The event's name: its JSON `event` tag (`ready`, `discovered`,
    /// `updated`, `removed`, `hello_acked`, `hello_failed`,
    /// `hello_received`, `rejected`, `stopped`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ready { .. } => "ready",
            Self::Discovered { .. } => "discovered",
            Self::Updated { .. } => "updated",
            Self::Removed { .. } => "removed",
            Self::HelloAcked { .. } => "hello_acked",
            Self::HelloFailed { .. } => "hello_failed",
            Self::HelloReceived { .. } => "hello_received",
            Self::SessionOpened { .. } => "session_opened",
            Self::SessionClosed { .. } => "session_closed",
            Self::Rejected(_) => "rejected",
            Self::Stopped => "stopped",
        }
    }

    /// The peer the event is about (`None` for `Ready`, `Rejected`,
    /// `Stopped`).
    pub fn peer(&self) -> Option<PeerId> {
        match self {
            Self::Discovered { peer, .. }
            | Self::Updated { peer, .. }
            | Self::Removed { peer, .. }
            | Self::HelloAcked { peer, .. }
            | Self::HelloFailed { peer, .. }
            | Self::HelloReceived { peer, .. }
            | Self::SessionOpened { peer, .. }
            | Self::SessionClosed { peer, .. } => Some(*peer),
            Self::Ready { .. } | Self::Rejected(_) | Self::Stopped => None,
        }
    }
}

/// Why a peer was removed ([`NodeEvent::Removed`]). JSON: `withdrawn`,
/// `bye`, `unreachable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
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

/// Why the last attempt of a greeting failed ([`NodeEvent::HelloFailed`]);
/// the transport error it comes from is logged at `debug`. JSON: the snake
/// case name, e.g. `refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum GreetFailure {
    /// The connection was refused: nothing listens at the address.
    Refused,
    /// No reply within the transport's timeout (connect, write or read).
    TimedOut,
    /// A signed ACK came back that does not prove the expected key: someone
    /// else answers at the peer's address (`docs/wire.md` §3.6).
    WrongKey,
    /// The reply was not an ACK the protocol allows (malformed, too large).
    BadReply,
    /// The peer closed the connection before replying.
    Closed,
    /// Any other I/O error.
    Io,
}

impl GreetFailure {
    /// The failure class of a transport error.
    pub(crate) fn of(error: &TransportError) -> Self {
        match error {
            TransportError::ConnectionRefused { .. } => Self::Refused,
            TransportError::Timeout { .. } => Self::TimedOut,
            TransportError::AckRejected { .. } => Self::WrongKey,
            TransportError::BadAck { .. }
            | TransportError::MalformedFrame { .. }
            | TransportError::FrameTooLarge { .. } => Self::BadReply,
            TransportError::EofBeforeReply { .. } => Self::Closed,
            _ => Self::Io,
        }
    }
}

/// Input a layer refused ([`NodeEvent::Rejected`]). JSON: tagged by
/// `layer` (`discovery` or `transport`), with the layer's own reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "layer", rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Rejection {
    /// A DNS-SD service instance whose records are unusable (e.g. its TXT
    /// `id` is not a peer id); counted in
    /// [`NodeMetrics::discovery_rejected`](crate::NodeMetrics::discovery_rejected).
    Discovery {
        /// The DNS-SD instance name.
        instance: String,
        /// Why.
        reason: tazcom_discovery::RejectReason,
    },
    /// A TCP connection the transport closed without reply (counted in
    /// `TransportStats` as `rejected_<reason>`).
    Transport {
        /// The connection's source address.
        remote: SocketAddr,
        /// Why, e.g. `rate_limited`, `per_source_limit`, `read_timeout`.
        reason: tazcom_transport::RejectReason,
    },
}

#[cfg(all(test, feature = "serde"))]
mod json_tests {
    use super::*;

    fn peer() -> PeerId {
        PeerId::from_bytes([7; 32])
    }

    /// Each event's JSON line: its tag is `name()`, the documented field
    /// names and units, and it reads back as the same event.
    #[test]
    fn every_event_has_the_documented_json_form_and_reads_back() {
        let addr: SocketAddr = "10.0.0.2:7000".parse().expect("addr");
        let p = peer().to_string();
        let cases = [
            (
                NodeEvent::Ready { peer: peer(), addr },
                serde_json::json!({"event": "ready", "peer": p, "addr": "10.0.0.2:7000"}),
            ),
            (
                NodeEvent::Discovered {
                    peer: peer(),
                    addrs: vec![addr],
                    source: Source::Mdns,
                },
                serde_json::json!({"event": "discovered", "peer": p, "addrs": ["10.0.0.2:7000"], "source": "mdns"}),
            ),
            (
                NodeEvent::Updated {
                    peer: peer(),
                    addrs: vec![addr],
                },
                serde_json::json!({"event": "updated", "peer": p, "addrs": ["10.0.0.2:7000"]}),
            ),
            (
                NodeEvent::Removed {
                    peer: peer(),
                    reason: RemovalReason::Bye,
                },
                serde_json::json!({"event": "removed", "peer": p, "reason": "bye"}),
            ),
            (
                NodeEvent::HelloAcked {
                    peer: peer(),
                    addr,
                    rtt: Duration::from_micros(240),
                    verified: true,
                },
                serde_json::json!({"event": "hello_acked", "peer": p, "addr": "10.0.0.2:7000", "rtt_us": 240, "verified": true}),
            ),
            (
                NodeEvent::HelloFailed {
                    peer: peer(),
                    addr,
                    reason: GreetFailure::Refused,
                },
                serde_json::json!({"event": "hello_failed", "peer": p, "addr": "10.0.0.2:7000", "reason": "refused"}),
            ),
            (
                NodeEvent::HelloReceived {
                    peer: peer(),
                    remote: addr,
                    verified: false,
                },
                serde_json::json!({"event": "hello_received", "peer": p, "remote": "10.0.0.2:7000", "verified": false}),
            ),
            (
                NodeEvent::SessionOpened {
                    peer: peer(),
                    remote: addr,
                    initiator: true,
                },
                serde_json::json!({"event": "session_opened", "peer": p, "remote": "10.0.0.2:7000", "initiator": true}),
            ),
            (
                NodeEvent::SessionClosed {
                    peer: peer(),
                    broken: false,
                },
                serde_json::json!({"event": "session_closed", "peer": p, "broken": false}),
            ),
            (
                NodeEvent::Rejected(Rejection::Transport {
                    remote: addr,
                    reason: tazcom_transport::RejectReason::RateLimited,
                }),
                serde_json::json!({"event": "rejected", "layer": "transport", "remote": "10.0.0.2:7000", "reason": "rate_limited"}),
            ),
            (
                NodeEvent::Rejected(Rejection::Discovery {
                    instance: "x".into(),
                    reason: tazcom_discovery::RejectReason::MissingId,
                }),
                serde_json::json!({"event": "rejected", "layer": "discovery", "instance": "x", "reason": {"kind": "missing_id"}}),
            ),
            (NodeEvent::Stopped, serde_json::json!({"event": "stopped"})),
        ];
        for (event, expected) in cases {
            let json = serde_json::to_value(&event).expect("serialize");
            assert_eq!(json, expected, "{event:?}");
            assert_eq!(json["event"], event.name(), "{event:?}");
            let back: NodeEvent = serde_json::from_value(json).expect("deserialize");
            assert_eq!(back, event);
        }
    }
}

/// `Duration` as whole microseconds (the `rtt_us` field).
#[cfg(feature = "serde")]
mod micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}
