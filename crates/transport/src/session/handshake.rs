//! The Noise XX handshake over TCP (`docs/wire.md` §3.8): the X25519 keys,
//! [`initiate`] and [`respond`], and the 2-byte length framing of the
//! handshake messages.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tazcom_identity::{Identity, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{upgrade, BindingPayload, Session, MAX_FRAME, NOISE_KEY_LEN, NOISE_PROTOCOL, PROLOGUE};

/// Why a session handshake failed ([`initiate`], [`respond`],
/// [`BindingPayload::decode`], [`BindingPayload::check`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Reading or writing the connection failed (a peer that closes the
    /// connection early, e.g. a responder refusing the upgrade, gives
    /// [`io::ErrorKind::UnexpectedEof`]).
    #[error("session handshake I/O failed")]
    Io(#[source] io::Error),
    /// The handshake did not finish within the timeout.
    #[error("session handshake timed out after {} ms", after.as_millis())]
    Timeout {
        /// The timeout that was reached.
        after: Duration,
    },
    /// The peer answered `ACK`: a prototype or a Rust node without sessions.
    #[error("peer does not support sessions (answered ACK)")]
    Unsupported,
    /// The peer answered the upgrade with a line other than `SESSION_OK` or `ACK`.
    #[error("unexpected reply to the session upgrade: {received:?}")]
    BadReply {
        /// The reply, lossily decoded and cut to at most 64 bytes.
        received: String,
    },
    /// The Noise handshake failed (bad message, failed decryption).
    #[error("Noise handshake failed")]
    Noise(#[source] snow::Error),
    /// The binding payload (or a handshake frame) is malformed.
    #[error("malformed handshake payload: {reason}")]
    BadPayload {
        /// What is wrong.
        reason: &'static str,
    },
    /// The binding signature does not verify over the peer's Noise static key.
    #[error("binding signature does not verify")]
    BadSignature,
    /// The peer proved an id other than the one expected.
    #[error("peer is {found}, expected {expected}")]
    WrongPeer {
        /// The id expected (dialled, or named by the upgrade line).
        expected: PeerId,
        /// The id the peer proved.
        found: PeerId,
    },
    /// The peer sees the connection between other addresses than we do: a
    /// relay (or a NAT) sits between the two ends.
    #[error("address binding mismatch: expected {expected}, peer signed {got}")]
    AddressMismatch {
        /// The address as this side sees it.
        expected: SocketAddr,
        /// The address the peer signed.
        got: SocketAddr,
    },
}

/// This process's X25519 static key pair for Noise, separate from the
/// Ed25519 identity (`docs/security.md`, "Session keys"). Generate one per
/// process; the binding signature ties it to the identity.
#[derive(Clone)]
pub struct NoiseKeys {
    private: [u8; NOISE_KEY_LEN],
    public: [u8; NOISE_KEY_LEN],
}

impl NoiseKeys {
    /// A fresh key pair from the OS random generator (snow's `generate_keypair`).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::Noise`] when the generator fails.
    pub fn generate() -> Result<NoiseKeys, HandshakeError> {
        let keypair = snow::Builder::new(noise_params())
            .generate_keypair()
            .map_err(HandshakeError::Noise)?;
        let (mut private, mut public) = ([0u8; NOISE_KEY_LEN], [0u8; NOISE_KEY_LEN]);
        if keypair.private.len() != NOISE_KEY_LEN || keypair.public.len() != NOISE_KEY_LEN {
            return Err(HandshakeError::Noise(snow::Error::Input));
        }
        private.copy_from_slice(&keypair.private);
        public.copy_from_slice(&keypair.public);
        Ok(NoiseKeys { private, public })
    }

    /// The public X25519 key (what the peer's `get_remote_static` reports).
    pub fn public(&self) -> &[u8; NOISE_KEY_LEN] {
        &self.public
    }
}

/// Prints the public key only.
impl fmt::Debug for NoiseKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoiseKeys {{ public: {} }}", hex::encode(self.public))
    }
}

fn noise_params() -> snow::params::NoiseParams {
    // The constant is a valid Noise protocol name that snow supports.
    NOISE_PROTOCOL
        .parse()
        .unwrap_or_else(|_| unreachable!("NOISE_PROTOCOL parses"))
}

/// Upgrades a fresh connection to a peer's listener and runs the handshake
/// as initiator: sends the `SESSION` line, expects `SESSION_OK`, then Noise
/// XX; the peer must prove `expected` and agree on both addresses of the
/// connection. `listen_port` is the TCP port this side listens on (signed
/// in its payload, so the responder learns its listen address; 0: none).
/// `timeout` bounds the whole exchange.
///
/// # Errors
///
/// [`HandshakeError`]: `Unsupported` when the peer answers `ACK`
/// (a prototype or an older Rust node), `BadReply` for another line, a
/// failed check of [`BindingPayload::check`], `Timeout`, `Io`, `Noise`.
/// The connection is closed (dropped) on error.
pub async fn initiate(
    stream: TcpStream,
    identity: &Identity,
    keys: &NoiseKeys,
    expected: PeerId,
    listen_port: u16,
    timeout: Duration,
) -> Result<Session, HandshakeError> {
    let inner = initiate_inner(stream, identity, keys, expected, listen_port);
    tokio::time::timeout(timeout, inner)
        .await
        .map_err(|_| HandshakeError::Timeout { after: timeout })?
}

async fn initiate_inner(
    mut stream: TcpStream,
    identity: &Identity,
    keys: &NoiseKeys,
    expected: PeerId,
    listen_port: u16,
) -> Result<Session, HandshakeError> {
    let (local, peer) = addresses(&stream)?;
    upgrade::request(&mut stream, identity.peer_id(), expected).await?;
    let noise = builder(keys)?
        .build_initiator()
        .map_err(HandshakeError::Noise)?;
    let mut exchange = Exchange::new(noise, stream);
    // -> e
    exchange.send(&[]).await?;
    // Signed while the responder works on message 2 (off the critical path).
    let ours = BindingPayload::sign(identity, keys.public(), local, peer, listen_port).encode();
    // <- e, ee, s, es + responder's payload
    let theirs = exchange.recv_binding(&expected, local, peer).await?;
    // -> s, se + our payload
    exchange.send(&ours).await?;
    exchange.finish(expected, peer, true, theirs.listen_port)
}

/// Runs the handshake as responder on a connection whose upgrade line
/// (`SESSION`, see
/// [`UpgradeRequest::parse`](super::UpgradeRequest::parse)) the caller has
/// read and accepted: writes `SESSION_OK`, then Noise XX; the initiator must
/// prove `from` (the line's `from`) and agree on both addresses of the
/// connection. `listen_port`: as for [`initiate`].
/// `timeout` bounds the whole exchange.
///
/// # Errors
///
/// As [`initiate`], without `Unsupported` and `BadReply`;
/// `BadPayload` also when message 1 carries a payload.
pub async fn respond(
    stream: TcpStream,
    identity: &Identity,
    keys: &NoiseKeys,
    from: PeerId,
    listen_port: u16,
    timeout: Duration,
) -> Result<Session, HandshakeError> {
    let inner = respond_inner(stream, identity, keys, from, listen_port);
    tokio::time::timeout(timeout, inner)
        .await
        .map_err(|_| HandshakeError::Timeout { after: timeout })?
}

async fn respond_inner(
    mut stream: TcpStream,
    identity: &Identity,
    keys: &NoiseKeys,
    from: PeerId,
    listen_port: u16,
) -> Result<Session, HandshakeError> {
    let (local, peer) = addresses(&stream)?;
    upgrade::accept(&mut stream).await?;
    // Signed and the Noise state built while message 1 is on its way.
    let ours = BindingPayload::sign(identity, keys.public(), local, peer, listen_port).encode();
    let noise = builder(keys)?
        .build_responder()
        .map_err(HandshakeError::Noise)?;
    let mut exchange = Exchange::new(noise, stream);
    // -> e
    if exchange.recv().await? != 0 {
        return Err(HandshakeError::BadPayload {
            reason: "message 1 payload is not empty",
        });
    }
    // <- e, ee, s, es + our payload
    exchange.send(&ours).await?;
    // -> s, se + initiator's payload
    let theirs = exchange.recv_binding(&from, local, peer).await?;
    exchange.finish(from, peer, false, theirs.listen_port)
}

/// Room for what a handshake message adds to its payload (XX with 25519
/// and a 16-byte tag: at most 32 + 48 + 16 = 96 bytes), rounded up.
const HANDSHAKE_OVERHEAD: usize = 128;

/// A handshake in progress: the Noise state, the connection, and one
/// buffer for the messages in and out.
struct Exchange {
    noise: snow::HandshakeState,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Exchange {
    fn new(noise: snow::HandshakeState, stream: TcpStream) -> Exchange {
        Exchange {
            noise,
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes the next handshake message, carrying `payload`, as one frame.
    async fn send(&mut self, payload: &[u8]) -> Result<(), HandshakeError> {
        // Sized per message (an XX message adds at most 96 bytes to its
        // payload: e, the encrypted s, two tags), not 64 KiB per handshake.
        self.buf
            .resize((payload.len() + HANDSHAKE_OVERHEAD).min(MAX_FRAME), 0);
        let len = self
            .noise
            .write_message(payload, &mut self.buf)
            .map_err(HandshakeError::Noise)?;
        write_frame(&mut self.stream, &self.buf[..len])
            .await
            .map_err(HandshakeError::Io)
    }

    /// Reads the next handshake message; its payload is the first returned
    /// number of bytes of `buf`.
    async fn recv(&mut self) -> Result<usize, HandshakeError> {
        let frame = read_handshake_frame(&mut self.stream).await?;
        self.buf.resize(frame.len(), 0);
        self.noise
            .read_message(&frame, &mut self.buf)
            .map_err(HandshakeError::Noise)
    }

    /// Reads the next handshake message and checks the binding payload it
    /// carries ([`BindingPayload::check`]) against the peer's static key.
    async fn recv_binding(
        &mut self,
        expected: &PeerId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> Result<BindingPayload, HandshakeError> {
        let len = self.recv().await?;
        let theirs = BindingPayload::decode(&self.buf[..len])?;
        let remote_static = self
            .noise
            .get_remote_static()
            .ok_or(HandshakeError::BadPayload {
                reason: "no remote static key",
            })?;
        theirs.check(remote_static, expected, local, peer)?;
        Ok(theirs)
    }

    /// The established session with `peer` at `remote_addr`.
    fn finish(
        self,
        peer: PeerId,
        remote_addr: SocketAddr,
        initiator: bool,
        peer_listen_port: u16,
    ) -> Result<Session, HandshakeError> {
        let transport = self
            .noise
            .into_stateless_transport_mode()
            .map_err(HandshakeError::Noise)?;
        if let Err(error) = self.stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a session");
        }
        let mut session = Session::new(peer, remote_addr, transport, self.stream, initiator);
        session.set_peer_listen_port(peer_listen_port);
        Ok(session)
    }
}

fn builder(keys: &NoiseKeys) -> Result<snow::Builder<'_>, HandshakeError> {
    snow::Builder::new(noise_params())
        .local_private_key(&keys.private)
        .and_then(|b| b.prologue(PROLOGUE))
        .map_err(HandshakeError::Noise)
}

fn addresses(stream: &TcpStream) -> Result<(SocketAddr, SocketAddr), HandshakeError> {
    Ok((
        stream.local_addr().map_err(HandshakeError::Io)?,
        stream.peer_addr().map_err(HandshakeError::Io)?,
    ))
}

async fn write_frame(stream: &mut TcpStream, body: &[u8]) -> io::Result<()> {
    debug_assert!(!body.is_empty() && body.len() <= MAX_FRAME);
    let mut frame = Vec::with_capacity(2 + body.len());
    frame.extend_from_slice(&(body.len() as u16).to_be_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame).await
}

async fn read_handshake_frame(stream: &mut TcpStream) -> Result<Vec<u8>, HandshakeError> {
    let len = stream.read_u16().await.map_err(HandshakeError::Io)? as usize;
    if len == 0 {
        return Err(HandshakeError::BadPayload {
            reason: "zero-length frame",
        });
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .map_err(HandshakeError::Io)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{SESSION_OK_LINE, TAG_LEN};

    /// The handshake message lengths of `docs/wire.md` §3.8.3, in memory.
    #[test]
    fn handshake_message_lengths() {
        assert_eq!(SESSION_OK_LINE.len(), 28);
        let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
        let (ka, kb) = (
            NoiseKeys::generate().unwrap(),
            NoiseKeys::generate().unwrap(),
        );
        let (ia, ib): (SocketAddr, SocketAddr) = (
            "192.0.2.1:50000".parse().unwrap(),
            "192.0.2.2:4000".parse().unwrap(),
        );
        let mut init = builder(&ka).unwrap().build_initiator().unwrap();
        let mut resp = builder(&kb).unwrap().build_responder().unwrap();
        let (mut m, mut p) = (vec![0u8; MAX_FRAME], vec![0u8; MAX_FRAME]);
        let n = init.write_message(&[], &mut m).unwrap();
        assert_eq!(n, 32);
        assert_eq!(resp.read_message(&m[..n], &mut p).unwrap(), 0);
        let payload_b = BindingPayload::sign(&b, kb.public(), ib, ia, 4000).encode();
        let n = resp.write_message(&payload_b, &mut m).unwrap();
        assert_eq!(n, 209);
        let len = init.read_message(&m[..n], &mut p).unwrap();
        BindingPayload::decode(&p[..len])
            .unwrap()
            .check(init.get_remote_static().unwrap(), &b.peer_id(), ia, ib)
            .unwrap();
        let payload_a = BindingPayload::sign(&a, ka.public(), ia, ib, 7000).encode();
        let n = init.write_message(&payload_a, &mut m).unwrap();
        assert_eq!(n, 177);
        let len = resp.read_message(&m[..n], &mut p).unwrap();
        BindingPayload::decode(&p[..len])
            .unwrap()
            .check(resp.get_remote_static().unwrap(), &a.peer_id(), ib, ia)
            .unwrap();
        let (mut ta, mut tb) = (
            init.into_transport_mode().unwrap(),
            resp.into_transport_mode().unwrap(),
        );
        let n = ta.write_message(b"hi", &mut m).unwrap();
        assert_eq!(n, 2 + TAG_LEN);
        assert_eq!(tb.read_message(&m[..n], &mut p).unwrap(), 2);
    }
}
