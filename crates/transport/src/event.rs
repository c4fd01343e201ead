//! [`InboundEvent`]: what the server reports to the node.

use std::net::SocketAddr;

use tazcom_identity::PeerId;

use crate::stats::RejectReason;

/// Something a peer told this node, sent by the [`Server`](crate::Server)
/// on the channel given to [`Listener::serve`](crate::Listener::serve).
///
/// The server awaits the send of a `Hello` before it writes `ACK`, so a
/// slow receiver slows peers down instead of losing HELLOs. A `Rejected` is
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
