//! Client side of the signed requests: send a signed HELLO (`docs/wire.md`
//! §3.6), PING or BYE (§3.7) to a peer whose id is expected, and check its
//! reply, the same way for all three.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tazcom_identity::{Identity, KeyCache, PeerId};
use tracing::warn;

use crate::client::{bad_ack, exchange};
use crate::config::TransportConfig;
use crate::error::{AckRejection, ConfigError, TransportError};
use crate::liveness::{SignedBye, SignedPing};
use crate::message::{Message, ParsedLine, ACK};
use crate::signed::{unix_ms_now, Nonce, SignedAck, SignedHello, SignedMessage};
use crate::stats::{Counters, TransportStats};

/// The outcome of a signed HELLO, PING or BYE the peer acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Greeting {
    /// From just before the TCP connect until the reply line was read (TCP
    /// handshake, write, the peer's checks and signing, the reply); not the
    /// local check of the reply, nor the close.
    pub rtt: Duration,
    /// The peer id the peer proved with a signed ACK (always the expected
    /// id); `None` when it answered a plain `ACK` (a prototype, or a server
    /// without identity): acknowledged, not verified (a BYE: not understood).
    pub verified_peer: Option<PeerId>,
}

impl Greeting {
    /// Whether the peer proved its id.
    pub fn is_verified(&self) -> bool {
        self.verified_peer.is_some()
    }
}

/// One-shot [`Greeter::greet`]: a signed HELLO from `identity` to the peer
/// `expected` at `addr`, announcing `listen_port`, without a greeter (no
/// counters, no key cache). For tests and benches (feature `test-support`).
///
/// # Errors
///
/// As [`Greeter::greet`]; [`TransportError::Config`] when `config` is out of
/// range (nothing is sent).
#[cfg(feature = "test-support")]
pub async fn send_signed_hello(
    addr: SocketAddr,
    identity: &Identity,
    expected: &PeerId,
    listen_port: Option<u16>,
    config: &TransportConfig,
) -> Result<Greeting, TransportError> {
    config.validate().map_err(TransportError::Config)?;
    let (to, port) = (*expected, listen_port.unwrap_or(0));
    let hello = SignedHello::sign(identity, to, Nonce::random(), unix_ms_now(), port);
    send_request(hello, addr, config, None).await
}

/// One-shot [`Greeter::ping`]: a signed PING from `identity` to the peer
/// `expected` at `addr`, announcing `listen_port`, without a greeter. For
/// tests and benches (feature `test-support`).
///
/// # Errors
///
/// As [`Greeter::ping`]; [`TransportError::Config`] when `config` is out of
/// range (nothing is sent).
#[cfg(feature = "test-support")]
pub async fn send_signed_ping(
    addr: SocketAddr,
    identity: &Identity,
    expected: &PeerId,
    listen_port: Option<u16>,
    config: &TransportConfig,
) -> Result<Greeting, TransportError> {
    config.validate().map_err(TransportError::Config)?;
    let (to, port) = (*expected, listen_port.unwrap_or(0));
    let ping = SignedPing::sign(identity, to, Nonce::random(), unix_ms_now(), port);
    send_request(ping, addr, config, None).await
}

/// One-shot [`Greeter::bye`]: a signed BYE from `identity` to the peer
/// `expected` at `addr`, without a greeter. For tests and benches (feature
/// `test-support`).
///
/// # Errors
///
/// As [`Greeter::bye`]; [`TransportError::Config`] when `config` is out of
/// range (nothing is sent).
#[cfg(feature = "test-support")]
pub async fn send_signed_bye(
    addr: SocketAddr,
    identity: &Identity,
    expected: &PeerId,
    config: &TransportConfig,
) -> Result<Greeting, TransportError> {
    config.validate().map_err(TransportError::Config)?;
    let bye = SignedBye::sign(identity, *expected, Nonce::random(), unix_ms_now());
    send_request(bye, addr, config, None).await
}

/// Sends a signed request and judges the reply, verifying a signed ACK
/// with `keys` when given.
async fn send_request<M: SignedMessage>(
    request: M,
    addr: SocketAddr,
    config: &TransportConfig,
    keys: Option<&KeyCache>,
) -> Result<Greeting, TransportError> {
    let line = request
        .into_message()
        .encode_line_within(config.max_line_bytes)
        .map_err(|source| TransportError::Encode { addr, source })?;
    let result = exchange(addr, line.as_bytes(), config, |reply| {
        judge_reply(addr, reply, &request, keys)
    })
    .await;
    if let Err(TransportError::AckRejected { reason, .. }) = &result {
        let (request, expected) = (M::WIRE_TYPE, request.parts().to);
        warn!(%addr, %expected, request, %reason, "signed ACK rejected");
    }
    result.map(|(rtt, verified_peer)| Greeting { rtt, verified_peer })
}

/// Checks a reply to `request`: `Ok(None)` for a plain `ACK`, `Ok(Some(id))`
/// for a valid signed ACK. Checks run in the order of `docs/wire.md` §3.6.
fn judge_reply(
    addr: SocketAddr,
    reply: &[u8],
    request: &impl SignedMessage,
    keys: Option<&KeyCache>,
) -> Result<Option<PeerId>, TransportError> {
    if reply == ACK {
        return Ok(None);
    }
    let ack = match ParsedLine::parse_bytes(reply) {
        Ok(ParsedLine::Message(Message::SignedAck(ack))) => ack,
        _ => return Err(bad_ack(addr, reply)),
    };
    check_ack(&ack, request, keys)
        .map_err(|reason| TransportError::AckRejected { addr, reason })?;
    Ok(Some(ack.from))
}

/// Whether `ack` answers `request`: its nonce, sent back to the request's
/// signer by the request's addressee, signed by it.
fn check_ack(
    ack: &SignedAck,
    request: &impl SignedMessage,
    keys: Option<&KeyCache>,
) -> Result<(), AckRejection> {
    let sent = request.parts();
    if ack.nonce != sent.nonce {
        return Err(AckRejection::NonceMismatch);
    }
    if ack.to != sent.from {
        return Err(AckRejection::WrongAddressee { found: ack.to });
    }
    if ack.from != sent.to {
        return Err(AckRejection::WrongPeer {
            expected: sent.to,
            found: ack.from,
        });
    }
    match keys {
        Some(keys) => ack.verify_signature_with(keys),
        None => ack.verify_signature(),
    }
    .map_err(|_| AckRejection::BadSignature)
}

/// Sends signed HELLOs, PINGs and BYEs for one identity and counts the
/// outcomes (`acks_verified`, `acks_unverified`, `acks_rejected_*` of
/// [`TransportStats`], for all three alike).
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
/// let greeter = Greeter::new(Arc::new(Identity::generate()), None, TransportConfig::default())
///     .expect("the defaults are valid");
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
    ///
    /// # Errors
    ///
    /// `config` out of range (see [`TransportConfig::validate`]).
    pub fn new(
        identity: Arc<Identity>,
        listen_port: Option<u16>,
        config: TransportConfig,
    ) -> Result<Greeter, ConfigError> {
        config.validate()?;
        Ok(Greeter::with_counters(
            identity,
            listen_port,
            config,
            Arc::default(),
        ))
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

    /// The peer id requests are sent from.
    pub fn peer_id(&self) -> PeerId {
        self.identity.peer_id()
    }

    /// Sends a signed HELLO to the peer `expected` at `addr` and checks the
    /// reply (`docs/wire.md` §3.6), counted.
    ///
    /// `expected` is the id the caller believes answers at `addr` (the TXT
    /// `id` of its DNS-SD record, or a static entry). The HELLO carries this
    /// greeter's listen port (`None`: not listening, sent as 0), a fresh
    /// random nonce and the current time.
    ///
    /// The reply is accepted when it is:
    /// - a signed ACK whose `from` is `expected`, `to` is this greeter's id,
    ///   nonce is the HELLO's, and signature verifies:
    ///   [`Greeting::verified_peer`] is `Some(expected)`;
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
    /// - [`TransportError::ConnectionRefused`]: nothing listens on `addr`.
    /// - [`TransportError::Timeout`]: connect, write or reply took too long
    ///   (`phase` says which).
    /// - [`TransportError::FrameTooLarge`]: the reply exceeds `max_line_bytes`.
    /// - [`TransportError::MalformedFrame`], [`TransportError::Encode`],
    ///   [`TransportError::Io`]: the line could not be exchanged.
    pub async fn greet(
        &self,
        addr: SocketAddr,
        expected: &PeerId,
    ) -> Result<Greeting, TransportError> {
        let (to, port) = (*expected, self.listen_port.unwrap_or(0));
        let hello = SignedHello::sign(&self.identity, to, Nonce::random(), unix_ms_now(), port);
        self.counted(hello, addr).await
    }

    /// Sends a signed PING to `peer` at `addr` with this greeter's listen
    /// port and checks the reply exactly as [`greet`](Self::greet) does,
    /// counted: a liveness check of a known peer (`docs/wire.md` §3.7).
    ///
    /// The listen port is signed into the PING (`None`: sent as 0) so that a
    /// peer that had dropped this node can register it again. A verified
    /// [`Greeting`] proves `peer` is alive and holds its key; an unverified
    /// one (plain `ACK`) only that something at `addr` answered (a
    /// prototype, or a server without identity).
    ///
    /// # Errors
    ///
    /// As [`greet`](Self::greet); [`TransportError::EofBeforeReply`] means
    /// the peer rejected the PING (e.g. it is not `peer`, or the clocks
    /// differ by more than its window).
    pub async fn ping(&self, addr: SocketAddr, peer: &PeerId) -> Result<Greeting, TransportError> {
        let (to, port) = (*peer, self.listen_port.unwrap_or(0));
        let ping = SignedPing::sign(&self.identity, to, Nonce::random(), unix_ms_now(), port);
        self.counted(ping, addr).await
    }

    /// Sends a signed BYE to `peer` at `addr` and checks the reply exactly
    /// as [`greet`](Self::greet) does, counted: tells a verified peer this
    /// node is shutting down (`docs/wire.md` §3.7).
    ///
    /// A verified [`Greeting`] means the peer checked the BYE and will drop
    /// this node; an unverified one (plain `ACK`) that it did not understand
    /// it (a prototype, or a server without identity) and will only notice
    /// the departure by other means (the mDNS goodbye).
    ///
    /// # Errors
    ///
    /// As [`greet`](Self::greet).
    pub async fn bye(&self, addr: SocketAddr, peer: &PeerId) -> Result<Greeting, TransportError> {
        let bye = SignedBye::sign(&self.identity, *peer, Nonce::random(), unix_ms_now());
        self.counted(bye, addr).await
    }

    /// Sends `request` and counts its outcome.
    async fn counted(
        &self,
        request: impl SignedMessage,
        addr: SocketAddr,
    ) -> Result<Greeting, TransportError> {
        let result = send_request(request, addr, &self.config, Some(&self.keys)).await;
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
        let sent = SignedHello::sign(&client, server.peer_id(), Nonce::random(), 1, 0);
        (client, server, sent)
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
        let (client, server, sent) = setup();
        assert_eq!(judge_reply(addr(), b"ACK", &sent, None).unwrap(), None);
        let ack = SignedAck::sign(&server, client.peer_id(), sent.nonce);
        assert_eq!(
            judge_reply(addr(), &reply(&ack), &sent, None).unwrap(),
            Some(server.peer_id())
        );
    }

    #[test]
    fn each_bad_ack_has_its_reason() {
        let (client, server, sent) = setup();
        let stranger = Identity::from_seed([3; 32]);
        let rejection = |ack: SignedAck| match judge_reply(addr(), &reply(&ack), &sent, None) {
            Err(TransportError::AckRejected { reason, .. }) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        };
        let other_nonce = SignedAck::sign(&server, client.peer_id(), Nonce::random());
        assert_eq!(rejection(other_nonce), AckRejection::NonceMismatch);
        let other_to = SignedAck::sign(&server, stranger.peer_id(), sent.nonce);
        assert_eq!(
            rejection(other_to),
            AckRejection::WrongAddressee {
                found: stranger.peer_id()
            }
        );
        let other_peer = SignedAck::sign(&stranger, client.peer_id(), sent.nonce);
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
            judge_reply(addr(), b"{\"type\":\"STATUS\"}", &sent, None),
            Err(TransportError::BadAck { .. })
        ));
    }

    #[test]
    fn pings_and_byes_are_answered_like_hellos() {
        let (client, server, hello) = setup();
        let to = server.peer_id();
        let ping = SignedPing::sign(&client, to, Nonce::random(), 1, 7);
        let bye = SignedBye::sign(&client, to, Nonce::random(), 1);
        let ack_for = |nonce| reply(&SignedAck::sign(&server, client.peer_id(), nonce));
        let keys = KeyCache::new(4);
        let verified = [
            judge_reply(addr(), &ack_for(hello.nonce), &hello, None),
            judge_reply(addr(), &ack_for(ping.nonce), &ping, Some(&keys)),
            judge_reply(addr(), &ack_for(bye.nonce), &bye, Some(&keys)),
        ];
        for peer in verified {
            assert_eq!(peer.unwrap(), Some(to));
        }
        assert!(matches!(
            judge_reply(addr(), &ack_for(ping.nonce), &bye, None),
            Err(TransportError::AckRejected {
                reason: AckRejection::NonceMismatch,
                ..
            })
        ));
    }
}
