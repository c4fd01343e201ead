//! Client side of the authenticated greeting: send a signed HELLO to a peer
//! whose id is expected, and check its reply (`docs/wire.md` §3.6).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tazcom_identity::{Identity, KeyCache, PeerId};
use tracing::warn;

use crate::client::{bad_ack, exchange};
use crate::config::TransportConfig;
use crate::error::{AckRejection, TransportError};
use crate::message::{Message, ParsedLine, ACK};
use crate::signed::{unix_ms_now, Nonce, SignedAck, SignedHello};
use crate::stats::{Counters, TransportStats};

/// The outcome of a signed HELLO the peer acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Greeting {
    /// From just before the TCP connect until the reply line was read (TCP
    /// handshake, write, the peer's checks and signing, the reply); not the
    /// local check of the reply, nor the close.
    pub rtt: Duration,
    /// The peer id the peer proved with a signed ACK (always the expected
    /// id); `None` when it answered a plain `ACK` (a prototype, or a server
    /// without identity): acknowledged, not verified.
    pub verified_peer: Option<PeerId>,
}

impl Greeting {
    /// Whether the peer proved its id.
    pub fn is_verified(&self) -> bool {
        self.verified_peer.is_some()
    }
}

/// Sends a signed HELLO from `identity` to the peer `expected` at `addr` and
/// checks the reply (`docs/wire.md` §3.6).
///
/// `expected` is the id the caller believes answers at `addr` (the TXT `id`
/// of its DNS-SD record, or a static entry); `listen_port` is this node's
/// own TCP listen port, signed into the HELLO (`None`: not listening, sent
/// as 0). The HELLO carries a fresh random nonce and the current time.
///
/// The reply is accepted when it is:
/// - a signed ACK whose `from` is `expected`, `to` is `identity`'s id, nonce
///   is the HELLO's, and signature verifies: [`Greeting::verified_peer`] is
///   `Some(expected)`;
/// - exactly `ACK` (a prototype server, or a server without identity):
///   `verified_peer` is `None`.
///
/// A refused signed ACK is logged (`warn`, with the address).
///
/// # Errors
///
/// - [`TransportError::AckRejected`]: a signed ACK failed a check
///   ([`AckRejection`] says which; `WrongPeer` when another node answers).
/// - [`TransportError::BadAck`]: the reply is neither `ACK` nor a signed ACK.
/// - [`TransportError::EofBeforeReply`]: the peer closed without a reply; a
///   TAZCOM server does this when it rejects the HELLO (e.g. it is not
///   `expected`, or the clocks differ by more than its window).
/// - Otherwise as [`send_message`](crate::send_message): `ConnectionRefused`,
///   `Timeout`, `FrameTooLarge`, `MalformedFrame`, `Encode`, `Io`.
pub async fn send_signed_hello(
    addr: SocketAddr,
    identity: &Identity,
    expected: &PeerId,
    listen_port: Option<u16>,
    config: &TransportConfig,
) -> Result<Greeting, TransportError> {
    signed_hello(addr, identity, expected, listen_port, config, None).await
}

/// [`send_signed_hello`], verifying the ACK with `keys` when given.
async fn signed_hello(
    addr: SocketAddr,
    identity: &Identity,
    expected: &PeerId,
    listen_port: Option<u16>,
    config: &TransportConfig,
    keys: Option<&KeyCache>,
) -> Result<Greeting, TransportError> {
    let hello = SignedHello::sign(
        identity,
        *expected,
        Nonce::random(),
        unix_ms_now(),
        listen_port.unwrap_or(0),
    );
    let line = Message::SignedHello(hello)
        .encode_line_within(config.max_line_bytes())
        .map_err(|source| TransportError::Encode { addr, source })?;
    let result = exchange(addr, line.as_bytes(), config, |reply| {
        judge_reply(addr, reply, &hello, keys)
    })
    .await;
    if let Err(TransportError::AckRejected { reason, .. }) = &result {
        warn!(%addr, expected = %expected, %reason, "signed ACK rejected");
    }
    result.map(|(rtt, verified_peer)| Greeting { rtt, verified_peer })
}

/// Checks a reply to `hello`: `Ok(None)` for a plain `ACK`, `Ok(Some(id))`
/// for a valid signed ACK. Checks run in the order of `docs/wire.md` §3.6.
fn judge_reply(
    addr: SocketAddr,
    reply: &[u8],
    hello: &SignedHello,
    keys: Option<&KeyCache>,
) -> Result<Option<PeerId>, TransportError> {
    if reply == ACK {
        return Ok(None);
    }
    let ack = match ParsedLine::parse_bytes(reply) {
        Ok(ParsedLine::Message(Message::SignedAck(ack))) => ack,
        _ => return Err(bad_ack(addr, reply)),
    };
    check_ack(&ack, hello, keys).map_err(|reason| TransportError::AckRejected { addr, reason })?;
    Ok(Some(ack.from))
}

fn check_ack(
    ack: &SignedAck,
    hello: &SignedHello,
    keys: Option<&KeyCache>,
) -> Result<(), AckRejection> {
    if ack.nonce != hello.nonce {
        return Err(AckRejection::NonceMismatch);
    }
    if ack.to != hello.from {
        return Err(AckRejection::WrongAddressee { found: ack.to });
    }
    if ack.from != hello.to {
        return Err(AckRejection::WrongPeer {
            expected: hello.to,
            found: ack.from,
        });
    }
    match keys {
        Some(keys) => ack.verify_signature_with(keys),
        None => ack.verify_signature(),
    }
    .map_err(|_| AckRejection::BadSignature)
}

/// Sends signed HELLOs for one identity and counts the outcomes
/// (`acks_verified`, `acks_unverified`, `acks_rejected_*` of
/// [`TransportStats`]).
///
/// Make one with [`Greeter::new`] (counters of its own) or
/// [`Server::greeter`](crate::Server::greeter) (the server's identity, port
/// and counters, so one [`TransportStats`] covers both directions). Cheap to
/// clone; clones share the counters.
///
/// ```no_run
/// use std::sync::Arc;
/// use tazcom_identity::{Identity, KeyCache, PeerId};
/// use tazcom_transport::{Greeter, TransportConfig};
///
/// # async fn run(peer: PeerId) -> Result<(), tazcom_transport::TransportError> {
/// let greeter = Greeter::new(Arc::new(Identity::generate()), None, TransportConfig::default());
/// let greeting = greeter.greet("192.0.2.7:4242".parse().unwrap(), &peer).await?;
/// println!("verified: {} in {} µs", greeting.is_verified(), greeting.rtt.as_micros());
/// assert_eq!(greeter.stats().acks_rejected_total(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Greeter {
    identity: Arc<Identity>,
    listen_port: Option<u16>,
    config: TransportConfig,
    counters: Arc<Counters>,
    /// Decoded keys of the peers greeted recently (shared by clones).
    keys: Arc<KeyCache>,
}

/// Decoded peer keys a greeter keeps (bounded, see [`KeyCache`]).
const KEY_CACHE_CAPACITY: usize = 1024;

impl Greeter {
    /// A greeter signing with `identity`, announcing `listen_port` (this
    /// node's TCP listen port, `None` if it does not listen), with counters
    /// of its own.
    pub fn new(
        identity: Arc<Identity>,
        listen_port: Option<u16>,
        config: TransportConfig,
    ) -> Greeter {
        Greeter::with_counters(identity, listen_port, config, Arc::default())
    }

    pub(crate) fn with_counters(
        identity: Arc<Identity>,
        listen_port: Option<u16>,
        config: TransportConfig,
        counters: Arc<Counters>,
    ) -> Greeter {
        Greeter {
            identity,
            listen_port,
            config,
            counters,
            keys: Arc::new(KeyCache::new(KEY_CACHE_CAPACITY)),
        }
    }

    /// The peer id HELLOs are sent from.
    pub fn peer_id(&self) -> PeerId {
        self.identity.peer_id()
    }

    /// [`send_signed_hello`] to `expected` at `addr`, counted.
    ///
    /// # Errors
    ///
    /// As [`send_signed_hello`].
    pub async fn greet(
        &self,
        addr: SocketAddr,
        expected: &PeerId,
    ) -> Result<Greeting, TransportError> {
        let result = signed_hello(
            addr,
            &self.identity,
            expected,
            self.listen_port,
            &self.config,
            Some(&self.keys),
        )
        .await;
        match &result {
            Ok(greeting) if greeting.is_verified() => Counters::bump(&self.counters.acks_verified),
            Ok(_) => Counters::bump(&self.counters.acks_unverified),
            Err(TransportError::AckRejected { reason, .. }) => {
                self.counters.reject_ack(Some(reason))
            }
            Err(TransportError::BadAck { .. }) => self.counters.reject_ack(None),
            Err(_) => {}
        }
        result
    }

    /// A snapshot of the counters (shared with the server when made by
    /// [`Server::greeter`](crate::Server::greeter)).
    pub fn stats(&self) -> TransportStats {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9))
    }

    fn setup() -> (Identity, Identity, SignedHello) {
        let (client, server) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
        let hello = SignedHello::sign(&client, server.peer_id(), Nonce::random(), 1, 2);
        (client, server, hello)
    }

    fn reply(ack: &SignedAck) -> Vec<u8> {
        Message::SignedAck(*ack)
            .encode_line()
            .unwrap()
            .trim_end()
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn a_plain_ack_is_unverified_and_a_good_signed_ack_verified() {
        let (client, server, hello) = setup();
        assert_eq!(judge_reply(addr(), b"ACK", &hello, None).unwrap(), None);
        let ack = SignedAck::sign(&server, client.peer_id(), hello.nonce);
        assert_eq!(
            judge_reply(addr(), &reply(&ack), &hello, None).unwrap(),
            Some(server.peer_id())
        );
    }

    #[test]
    fn each_bad_ack_has_its_reason() {
        let (client, server, hello) = setup();
        let stranger = Identity::from_seed([3; 32]);
        let rejection = |ack: SignedAck| match judge_reply(addr(), &reply(&ack), &hello, None) {
            Err(TransportError::AckRejected { reason, .. }) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        };
        let other_nonce = SignedAck::sign(&server, client.peer_id(), Nonce::random());
        assert_eq!(rejection(other_nonce), AckRejection::NonceMismatch);
        let other_to = SignedAck::sign(&server, stranger.peer_id(), hello.nonce);
        assert_eq!(
            rejection(other_to),
            AckRejection::WrongAddressee {
                found: stranger.peer_id()
            }
        );
        let other_peer = SignedAck::sign(&stranger, client.peer_id(), hello.nonce);
        assert_eq!(
            rejection(other_peer),
            AckRejection::WrongPeer {
                expected: server.peer_id(),
                found: stranger.peer_id()
            }
        );
        let forged = SignedAck {
            from: server.peer_id(),
            ..other_peer
        };
        assert_eq!(rejection(forged), AckRejection::BadSignature);
        assert!(matches!(
            judge_reply(addr(), b"{\"type\":\"PING\"}", &hello, None),
            Err(TransportError::BadAck { .. })
        ));
    }
}
