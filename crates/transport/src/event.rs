//! [`InboundEvent`]: what the server reports to the node.

use std::net::SocketAddr;

use tazcom_identity::PeerId;

/// Something a peer told this node, sent by the [`Server`](crate::Server)
/// on the channel given to [`Listener::serve`](crate::Listener::serve).
///
/// The server awaits the send before it writes `ACK`, so a slow receiver
/// slows peers down instead of losing events.
///
/// `#[non_exhaustive]`: new message types add variants; match with a
/// wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboundEvent {
    /// A valid HELLO line was received (and is about to be ACKed).
    Hello {
        /// The peer id the sender claims (not authenticated).
        from: PeerId,
        /// The TCP source address of the connection. Its port is the peer's
        /// ephemeral client port, not its listening port.
        remote: SocketAddr,
    },
}
