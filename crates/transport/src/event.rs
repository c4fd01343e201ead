//! [`InboundEvent`]: what the server reports to the node.

use std::net::SocketAddr;

use tazcom_identity::PeerId;

use crate::stats::RejectReason;

/// Something a peer told this node, sent by the [`Server`](crate::Server)
/// on the channel given to [`Listener::serve`](crate::Listener::serve).
///
/// The server awaits the send of a `Hello`, `Ping` or `Bye` before it
/// writes the reply, so a slow receiver slows peers down instead of losing
/// requests. A `Rejected` is
/// only offered (`try_send`): when the channel is full it is dropped and
/// counted (`rejection_events_dropped`), so a flood of bad connections
/// never waits on the receiver.
///
/// `#[non_exhaustive]`: new message types add variants; match with a
/// wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboundEvent {
    /// A valid HELLO line was received (and is about to be ACKed): a legacy
    /// HELLO, or a signed HELLO (`docs/wire.md` §3.6).
    #[non_exhaustive]
    Hello {
        /// The sender's peer id: proven when `verified`, a claim otherwise.
        from: PeerId,
        /// The TCP source address of the connection. Its port is the peer's
        /// ephemeral client port, not its listening port.
        remote: SocketAddr,
        /// `true` for a signed HELLO that passed every check of a server
        /// with an identity (addressee, timestamp, signature by `from`,
        /// fresh nonce); it is answered with a signed ACK. `false` for a
        /// legacy HELLO, and for any HELLO at a server without identity.
        verified: bool,
        /// The TCP listen port the sender signed (the `port` field), when
        /// `verified` and not 0; `None` otherwise.
        listen_port: Option<u16>,
        /// The Unix time in ms the sender signed (`ts`, `docs/wire.md`
        /// §3.6), when `verified`; `None` otherwise. The sender's clock:
        /// comparable with its other signed timestamps (e.g. a later BYE),
        /// not with ours.
        sent_ms: Option<u64>,
    },
    /// A signed PING passed every check of a server with an identity
    /// (addressee, timestamp, signature by `from`, fresh nonce;
    /// `docs/wire.md` §3.7) and is about to be answered with a signed ACK:
    /// `from` is alive and holds its key. Never sent by a server without
    /// identity (it cannot check a PING; it answers `ACK` and reports nothing).
    #[non_exhaustive]
    Ping {
        /// The sender's peer id, proven by its signature.
        from: PeerId,
        /// The TCP source address of the connection (the port is the
        /// sender's ephemeral client port, not its listening port).
        remote: SocketAddr,
        /// The TCP listen port the sender signed (the `port` field); `None`
        /// when it sent 0 (not listening).
        listen_port: Option<u16>,
        /// The Unix time in ms the sender signed (`ts`, §3.7), by its clock.
        sent_ms: u64,
    },
    /// A signed BYE passed every check of a server with an identity
    /// (`docs/wire.md` §3.7) and is about to be answered with a signed ACK:
    /// `from` is shutting down and asks to be dropped now. Never sent by a
    /// server without identity.
    #[non_exhaustive]
    Bye {
        /// The departing sender's peer id, proven by its signature.
        from: PeerId,
        /// The TCP source address of the connection.
        remote: SocketAddr,
        /// The Unix time in ms the sender signed (`ts`, §3.7), by its clock:
        /// a HELLO or PING it signed earlier may still arrive after this BYE.
        sent_ms: u64,
    },
    /// The server closed a connection without reply (also counted in
    /// [`TransportStats`](crate::TransportStats) as `rejected_<reason>`).
    /// Best effort: dropped when the channel is full.
    #[non_exhaustive]
    Rejected {
        /// The TCP source address of the connection.
        remote: SocketAddr,
        /// Why it was closed.
        reason: RejectReason,
    },
}
