//! Encrypted sessions (`docs/wire.md` §3.8): the upgrade line, the Noise XX
//! handshake whose static keys are bound to the peers' Ed25519 ids and to
//! the TCP addresses each side sees, and the encrypted frames after it.
//!
//! ```
//! use std::time::Duration;
//! use tazcom_identity::Identity;
//! use tazcom_transport::session::{self, NoiseKeys, UpgradeRequest};
//! use tokio::io::AsyncReadExt;
//! use tokio::net::{TcpListener, TcpStream};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (alice, bob) = (Identity::generate(), Identity::generate());
//!     let (alice_keys, bob_keys) = (NoiseKeys::generate()?, NoiseKeys::generate()?);
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let timeout = Duration::from_secs(5);
//!
//!     // Bob's side: read the upgrade line (a server reads it with its line
//!     // reader), check it is addressed to him, then answer and handshake.
//!     let bob_id = bob.peer_id();
//!     let responder = tokio::spawn(async move {
//!         let (mut stream, _) = listener.accept().await?;
//!         let mut line = Vec::new();
//!         while line.last() != Some(&b'\n') {
//!             line.push(stream.read_u8().await?);
//!         }
//!         let request = UpgradeRequest::parse(std::str::from_utf8(&line)?)?;
//!         assert_eq!(request.to, bob.peer_id());
//!         let mut session = session::respond(stream, &bob, &bob_keys, request.from, timeout).await?;
//!         let question = session.recv().await?;
//!         session.send(&[question, b" pong".to_vec()].concat()).await?;
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!     });
//!
//!     // Alice dials Bob, expecting his id.
//!     let stream = TcpStream::connect(addr).await?;
//!     let mut session = session::initiate(stream, &alice, &alice_keys, bob_id, timeout).await?;
//!     assert_eq!(session.peer(), bob_id);
//!     session.send(b"ping").await?;
//!     assert_eq!(session.recv().await?, b"ping pong");
//!     responder.await?.map_err(|e| e.to_string())?;
//!     Ok(())
//! }
//! ```
//!
//! # Layers
//!
//! - Pure functions, no I/O: [`UpgradeRequest`] (the `SESSION` line),
//!   [`BindingPayload`] (encode, decode, sign, [`check`](BindingPayload::check)),
//!   [`encode_address`]. They are what a fuzzer or another implementation
//!   can be tested against.
//! - The handshake over a [`TcpStream`]: [`initiate`] (dialler) and
//!   [`respond`] (listener, after it has read the upgrade line), both
//!   bounded by one timeout, both returning a typed [`HandshakeError`].
//! - [`Session`]: whole encrypted frames, [`send`](Session::send) and
//!   [`recv`](Session::recv), at most [`MAX_PLAINTEXT`] bytes each; a frame
//!   that fails decryption closes the session ([`SessionError`]).
//!
//! The message layer (protocol names, chunking, receipts) is not here yet,
//! nor is the server's use of [`respond`].

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use tazcom_identity::{Identity, PeerId, Signature, PEER_ID_LEN, SIGNATURE_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The Noise protocol name (Noise spec §8): XX pattern, X25519, ChaCha20-Poly1305, SHA-256.
pub const NOISE_PROTOCOL: &str = "Noise_XX_25519_ChaChaPoly_SHA256";
/// The Noise prologue: the 16 ASCII bytes `tazcom/session/1`.
pub const PROLOGUE: &[u8; 16] = b"tazcom/session/1";
/// Domain prefix of the binding signature: the 24 ASCII bytes `tazcom/session/1 binding`.
pub const BINDING_DOMAIN: &[u8; 24] = b"tazcom/session/1 binding";
/// The binding payload's version byte.
pub const BINDING_VERSION: u8 = 1;
/// The upgrade protocol version (`"v"` of `SESSION` and `SESSION_OK`).
pub const UPGRADE_VERSION: u64 = 1;
/// The upgrade line's `type`.
pub const SESSION_TYPE: &str = "SESSION";
/// The responder's acceptance line, exactly (newline included).
pub const SESSION_OK_LINE: &str = "{\"type\":\"SESSION_OK\",\"v\":1}\n";
/// Longest frame body (handshake or transport message): 65535 bytes.
pub const MAX_FRAME: usize = 65_535;
/// ChaCha20-Poly1305 tag length: 16 bytes.
pub const TAG_LEN: usize = 16;
/// Longest plaintext of one [`Session::send`]: 65535 − 16 = 65519 bytes.
pub const MAX_PLAINTEXT: usize = MAX_FRAME - TAG_LEN;
/// Length of an X25519 key: 32 bytes.
pub const NOISE_KEY_LEN: usize = 32;
/// Longest reply line the initiator reads after `SESSION` (newline included).
pub const MAX_REPLY_LINE: usize = 1024;

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

/// Why a [`Session`] frame could not be sent or received.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The plaintext is longer than [`MAX_PLAINTEXT`]; nothing was sent and
    /// the session stays open.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The plaintext length.
        len: usize,
        /// [`MAX_PLAINTEXT`].
        max: usize,
    },
    /// A received frame failed decryption (altered, replayed, reordered or
    /// not from the peer); the session is closed.
    #[error("frame failed decryption; session closed")]
    Decrypt(#[source] snow::Error),
    /// A received frame has length 0; the session is closed.
    #[error("empty frame; session closed")]
    EmptyFrame,
    /// The peer closed the connection between frames.
    #[error("peer closed the session")]
    PeerClosed,
    /// Reading or writing failed (including a close in the middle of a
    /// frame); the session is closed.
    #[error("session I/O failed; session closed")]
    Io(#[source] io::Error),
    /// The session was closed by an earlier error.
    #[error("session is closed")]
    Closed,
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

// ---------------------------------------------------------------------------
// Upgrade line
// ---------------------------------------------------------------------------

/// The upgrade request line, `{"type":"SESSION","v":1,"from":…,"to":…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The initiator's peer id (what it must prove in the handshake).
    pub from: PeerId,
    /// The peer id the initiator expects at the responder.
    pub to: PeerId,
}

/// Why an upgrade line is refused ([`UpgradeRequest::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Not a JSON object with a string `type` (trailing `\r\n` / `\n` and
    /// JSON whitespace are allowed).
    #[error("upgrade line is not a JSON object with a string type")]
    NotJson,
    /// The `type` is not `SESSION`.
    #[error("upgrade line has type {found:?}, not SESSION")]
    WrongType {
        /// The `type` found.
        found: String,
    },
    /// `v` is missing or not 1.
    #[error("unsupported session version")]
    UnsupportedVersion,
    /// `from` or `to` is missing or not a canonical peer id.
    #[error("upgrade field `{field}` is not a valid peer id")]
    BadPeerId {
        /// `from` or `to`.
        field: &'static str,
    },
}

impl UpgradeRequest {
    /// The exact line an initiator sends, newline included (compact JSON,
    /// fields in this order: `type`, `v`, `from`, `to`; always 171 bytes).
    pub fn encode(&self) -> String {
        format!(
            "{{\"type\":\"SESSION\",\"v\":1,\"from\":\"{}\",\"to\":\"{}\"}}\n",
            self.from, self.to
        )
    }

    /// Parses and validates a received upgrade line (with or without its
    /// `\n`). Any key order and JSON whitespace; unknown fields ignored.
    /// `from` and `to` must be 64 lowercase hex characters and valid Ed25519
    /// keys.
    ///
    /// # Errors
    ///
    /// [`UpgradeError`], one variant per check.
    pub fn parse(line: &str) -> Result<UpgradeRequest, UpgradeError> {
        let value: Value = serde_json::from_str(line).map_err(|_| UpgradeError::NotJson)?;
        let Value::Object(fields) = value else {
            return Err(UpgradeError::NotJson);
        };
        let Some(Value::String(kind)) = fields.get("type") else {
            return Err(UpgradeError::NotJson);
        };
        if kind != SESSION_TYPE {
            return Err(UpgradeError::WrongType {
                found: kind.chars().take(64).collect(),
            });
        }
        if fields.get("v").and_then(Value::as_u64) != Some(UPGRADE_VERSION) {
            return Err(UpgradeError::UnsupportedVersion);
        }
        let peer = |field: &'static str| -> Result<PeerId, UpgradeError> {
            let id: PeerId = fields
                .get(field)
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .ok_or(UpgradeError::BadPeerId { field })?;
            id.validate()
                .map_err(|_| UpgradeError::BadPeerId { field })?;
            Ok(id)
        };
        Ok(UpgradeRequest {
            from: peer("from")?,
            to: peer("to")?,
        })
    }
}

/// How the initiator reads the reply line to `SESSION`.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Ok,
    Ack,
}

/// Classifies a reply line (without its `\n`): `ACK` exactly, or a JSON
/// object with `type` `SESSION_OK` and `v` 1 (any key order, whitespace).
fn classify_reply(line: &[u8]) -> Result<Reply, HandshakeError> {
    let bad = || HandshakeError::BadReply {
        received: String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned(),
    };
    if line == b"ACK" {
        return Ok(Reply::Ack);
    }
    let value: Value = serde_json::from_slice(line).map_err(|_| bad())?;
    if value.get("type").and_then(Value::as_str) == Some("SESSION_OK")
        && value.get("v").and_then(Value::as_u64) == Some(UPGRADE_VERSION)
    {
        Ok(Reply::Ok)
    } else {
        Err(bad())
    }
}

// ---------------------------------------------------------------------------
// Binding payload
// ---------------------------------------------------------------------------

/// The address encoding of the binding payload: family byte 4 or 6, then 4
/// or 16 address bytes, then the port (u16 big endian); 7 or 19 bytes. An
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is encoded as IPv4; the IPv6
/// scope id and flow label are not encoded.
pub fn encode_address(addr: SocketAddr) -> Vec<u8> {
    let addr = canonical(addr);
    let mut out = Vec::with_capacity(19);
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
    out
}

/// The address as the payload carries it: IPv4-mapped IPv6 becomes IPv4,
/// scope id and flow label dropped.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => SocketAddr::new(IpAddr::V6(ip), addr.port()),
        },
        IpAddr::V4(_) => addr,
    }
}

/// Decodes one address at the start of `bytes`; returns it and its length.
fn decode_address(bytes: &[u8]) -> Result<(SocketAddr, usize), HandshakeError> {
    let short = HandshakeError::BadPayload {
        reason: "truncated address",
    };
    let (ip, len): (IpAddr, usize) = match bytes.first() {
        Some(4) => {
            let octets: [u8; 4] = bytes.get(1..5).ok_or(short)?.try_into().unwrap_or_default();
            (IpAddr::from(octets), 7)
        }
        Some(6) => {
            let octets: [u8; 16] = bytes
                .get(1..17)
                .ok_or(short)?
                .try_into()
                .unwrap_or_default();
            (IpAddr::from(octets), 19)
        }
        Some(_) => {
            return Err(HandshakeError::BadPayload {
                reason: "unknown address family",
            })
        }
        None => return Err(short),
    };
    let port = bytes.get(len - 2..len).ok_or(HandshakeError::BadPayload {
        reason: "truncated address",
    })?;
    let port = u16::from_be_bytes([port[0], port[1]]);
    Ok((SocketAddr::new(ip, port), len))
}

/// The handshake payload of XX messages 2 and 3: the sender's Ed25519 id,
/// the two ends of the TCP connection as the sender sees them, and a
/// signature binding them to the sender's Noise static key
/// (`docs/wire.md` §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingPayload {
    /// The sender's peer id (its Ed25519 verifying key).
    pub peer: PeerId,
    /// The sender's own end of the connection (its socket's local address).
    pub local: SocketAddr,
    /// The other end as the sender sees it (its socket's peer address).
    pub remote: SocketAddr,
    /// The sender's signature over [`signed_bytes`](Self::signed_bytes).
    pub signature: Signature,
}

impl BindingPayload {
    /// The payload `identity` sends for a Noise static key `noise_static`
    /// and the connection `local` → `remote` (as it sees them).
    pub fn sign(
        identity: &Identity,
        noise_static: &[u8; NOISE_KEY_LEN],
        local: SocketAddr,
        remote: SocketAddr,
    ) -> BindingPayload {
        let (local, remote) = (canonical(local), canonical(remote));
        let signature = identity.sign(&Self::signed_bytes(noise_static, local, remote));
        BindingPayload {
            peer: identity.peer_id(),
            local,
            remote,
            signature,
        }
    }

    /// The signed bytes: [`BINDING_DOMAIN`] ‖ Noise static key (32) ‖
    /// `local` encoding ‖ `remote` encoding ([`encode_address`]).
    pub fn signed_bytes(noise_static: &[u8], local: SocketAddr, remote: SocketAddr) -> Vec<u8> {
        let mut out = Vec::with_capacity(BINDING_DOMAIN.len() + NOISE_KEY_LEN + 38);
        out.extend_from_slice(BINDING_DOMAIN);
        out.extend_from_slice(noise_static);
        out.extend_from_slice(&encode_address(local));
        out.extend_from_slice(&encode_address(remote));
        out
    }

    /// The wire form: version (1) ‖ peer id (32) ‖ `local` ‖ `remote` ‖
    /// signature (64); 111, 123 or 135 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(135);
        out.push(BINDING_VERSION);
        out.extend_from_slice(self.peer.as_bytes());
        out.extend_from_slice(&encode_address(self.local));
        out.extend_from_slice(&encode_address(self.remote));
        out.extend_from_slice(self.signature.as_bytes());
        out
    }

    /// Parses the wire form. Checks the version, the layout and the exact
    /// length, and that the peer id is a valid Ed25519 key; not the
    /// signature (see [`check`](Self::check)).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::BadPayload`] naming the first problem.
    pub fn decode(bytes: &[u8]) -> Result<BindingPayload, HandshakeError> {
        let bad = |reason| HandshakeError::BadPayload { reason };
        match bytes.first() {
            None => return Err(bad("empty payload")),
            Some(&BINDING_VERSION) => {}
            Some(_) => return Err(bad("unsupported payload version")),
        }
        let mut at = 1;
        let id: [u8; PEER_ID_LEN] = bytes
            .get(at..at + PEER_ID_LEN)
            .ok_or(bad("truncated peer id"))?
            .try_into()
            .unwrap_or_default();
        at += PEER_ID_LEN;
        let (local, len) = decode_address(&bytes[at..])?;
        at += len;
        let (remote, len) = decode_address(&bytes[at..])?;
        at += len;
        let sig: [u8; SIGNATURE_LEN] = bytes
            .get(at..at + SIGNATURE_LEN)
            .ok_or(bad("truncated signature"))?
            .try_into()
            .map_err(|_| bad("truncated signature"))?;
        at += SIGNATURE_LEN;
        if at != bytes.len() {
            return Err(bad("trailing bytes after the signature"));
        }
        let peer = PeerId::from_bytes(id);
        peer.validate().map_err(|_| bad("invalid verifying key"))?;
        Ok(BindingPayload {
            peer,
            local,
            remote,
            signature: Signature::from_bytes(sig),
        })
    }

    /// The checks on a received payload, in order: the signature verifies
    /// under [`peer`](Self::peer) over `remote_static` (the peer's Noise
    /// static key, as the handshake reports it) and the two addresses
    /// ([`HandshakeError::BadSignature`]); the peer is `expected`
    /// ([`HandshakeError::WrongPeer`]); the peer's `local` is our socket's
    /// peer address and its `remote` our socket's local address
    /// ([`HandshakeError::AddressMismatch`]). The same on both sides.
    ///
    /// # Errors
    ///
    /// The first check that fails.
    pub fn check(
        &self,
        remote_static: &[u8],
        expected: &PeerId,
        our_local: SocketAddr,
        our_peer: SocketAddr,
    ) -> Result<(), HandshakeError> {
        let signed = Self::signed_bytes(remote_static, self.local, self.remote);
        tazcom_identity::verify(&self.peer, &signed, &self.signature)
            .map_err(|_| HandshakeError::BadSignature)?;
        if self.peer != *expected {
            return Err(HandshakeError::WrongPeer {
                expected: *expected,
                found: self.peer,
            });
        }
        for (expected, got) in [(our_peer, self.local), (our_local, self.remote)] {
            let expected = canonical(expected);
            if canonical(got) != expected {
                return Err(HandshakeError::AddressMismatch { expected, got });
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Handshake over TCP
// ---------------------------------------------------------------------------

/// Upgrades a fresh connection to a peer's listener and runs the handshake
/// as initiator: sends the `SESSION` line, expects `SESSION_OK`, then Noise
/// XX; the peer must prove `expected` and agree on both addresses of the
/// connection. `timeout` bounds the whole exchange.
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
    timeout: Duration,
) -> Result<Session, HandshakeError> {
    tokio::time::timeout(timeout, initiate_inner(stream, identity, keys, expected))
        .await
        .map_err(|_| HandshakeError::Timeout { after: timeout })?
}

async fn initiate_inner(
    mut stream: TcpStream,
    identity: &Identity,
    keys: &NoiseKeys,
    expected: PeerId,
) -> Result<Session, HandshakeError> {
    let (local, peer) = addresses(&stream)?;
    let request = UpgradeRequest {
        from: identity.peer_id(),
        to: expected,
    };
    stream
        .write_all(request.encode().as_bytes())
        .await
        .map_err(HandshakeError::Io)?;
    let line = read_reply_line(&mut stream).await?;
    match classify_reply(&line)? {
        Reply::Ok => {}
        Reply::Ack => return Err(HandshakeError::Unsupported),
    }

    let mut noise = builder(keys)?
        .build_initiator()
        .map_err(HandshakeError::Noise)?;
    let mut buf = vec![0u8; MAX_FRAME];
    // -> e
    let len = noise
        .write_message(&[], &mut buf)
        .map_err(HandshakeError::Noise)?;
    write_frame(&mut stream, &buf[..len])
        .await
        .map_err(HandshakeError::Io)?;
    // <- e, ee, s, es + responder's payload
    let frame = read_handshake_frame(&mut stream).await?;
    let len = noise
        .read_message(&frame, &mut buf)
        .map_err(HandshakeError::Noise)?;
    let theirs = BindingPayload::decode(&buf[..len])?;
    let remote_static = noise
        .get_remote_static()
        .ok_or(HandshakeError::BadPayload {
            reason: "no remote static key",
        })?;
    theirs.check(remote_static, &expected, local, peer)?;
    // -> s, se + our payload
    let ours = BindingPayload::sign(identity, keys.public(), local, peer).encode();
    let len = noise
        .write_message(&ours, &mut buf)
        .map_err(HandshakeError::Noise)?;
    write_frame(&mut stream, &buf[..len])
        .await
        .map_err(HandshakeError::Io)?;
    let transport = noise.into_transport_mode().map_err(HandshakeError::Noise)?;
    Ok(Session::new(expected, peer, transport, stream))
}

/// Runs the handshake as responder on a connection whose upgrade line
/// (`SESSION`, see [`UpgradeRequest::parse`]) the caller has read and
/// accepted: writes `SESSION_OK`, then Noise XX; the initiator must prove
/// `from` (the line's `from`) and agree on both addresses of the connection.
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
    timeout: Duration,
) -> Result<Session, HandshakeError> {
    tokio::time::timeout(timeout, respond_inner(stream, identity, keys, from))
        .await
        .map_err(|_| HandshakeError::Timeout { after: timeout })?
}

async fn respond_inner(
    mut stream: TcpStream,
    identity: &Identity,
    keys: &NoiseKeys,
    from: PeerId,
) -> Result<Session, HandshakeError> {
    let (local, peer) = addresses(&stream)?;
    stream
        .write_all(SESSION_OK_LINE.as_bytes())
        .await
        .map_err(HandshakeError::Io)?;
    let mut noise = builder(keys)?
        .build_responder()
        .map_err(HandshakeError::Noise)?;
    let mut buf = vec![0u8; MAX_FRAME];
    // -> e
    let frame = read_handshake_frame(&mut stream).await?;
    let len = noise
        .read_message(&frame, &mut buf)
        .map_err(HandshakeError::Noise)?;
    if len != 0 {
        return Err(HandshakeError::BadPayload {
            reason: "message 1 payload is not empty",
        });
    }
    // <- e, ee, s, es + our payload
    let ours = BindingPayload::sign(identity, keys.public(), local, peer).encode();
    let len = noise
        .write_message(&ours, &mut buf)
        .map_err(HandshakeError::Noise)?;
    write_frame(&mut stream, &buf[..len])
        .await
        .map_err(HandshakeError::Io)?;
    // -> s, se + initiator's payload
    let frame = read_handshake_frame(&mut stream).await?;
    let len = noise
        .read_message(&frame, &mut buf)
        .map_err(HandshakeError::Noise)?;
    let theirs = BindingPayload::decode(&buf[..len])?;
    let remote_static = noise
        .get_remote_static()
        .ok_or(HandshakeError::BadPayload {
            reason: "no remote static key",
        })?;
    theirs.check(remote_static, &from, local, peer)?;
    let transport = noise.into_transport_mode().map_err(HandshakeError::Noise)?;
    Ok(Session::new(from, peer, transport, stream))
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

/// Reads the reply line (without `\n`, a trailing `\r` removed), at most
/// [`MAX_REPLY_LINE`] bytes. Bytes after the newline are a protocol
/// violation (the responder sends nothing more before message 1).
async fn read_reply_line(stream: &mut TcpStream) -> Result<Vec<u8>, HandshakeError> {
    let mut line = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    loop {
        let n = stream.read(&mut chunk).await.map_err(HandshakeError::Io)?;
        if n == 0 {
            return Err(HandshakeError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        line.extend_from_slice(&chunk[..n]);
        if let Some(end) = line.iter().position(|&b| b == b'\n') {
            if end + 1 != line.len() {
                return Err(HandshakeError::BadReply {
                    received: String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned(),
                });
            }
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        if line.len() >= MAX_REPLY_LINE {
            return Err(HandshakeError::BadReply {
                received: String::from_utf8_lossy(&line[..64]).into_owned(),
            });
        }
    }
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

// ---------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------

/// An established session: the peer's proven id, its address, and the
/// encrypted frame layer over the TCP connection.
///
/// [`recv`](Self::recv) is cancel-safe (a frame is decrypted only once all
/// of it has arrived; partial input stays buffered); [`send`](Self::send) is
/// not (cancelled mid-write, the peer sees a truncated frame).
pub struct Session {
    peer: PeerId,
    remote_addr: SocketAddr,
    transport: snow::TransportState,
    stream: TcpStream,
    inbound: Vec<u8>,
    scratch: Vec<u8>,
    closed: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("remote_addr", &self.remote_addr)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Session {
    fn new(
        peer: PeerId,
        remote_addr: SocketAddr,
        transport: snow::TransportState,
        stream: TcpStream,
    ) -> Session {
        Session {
            peer,
            remote_addr,
            transport,
            stream,
            inbound: Vec::new(),
            scratch: vec![0u8; MAX_FRAME],
            closed: false,
        }
    }

    /// The peer's id, proven by the handshake.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The peer's address (this side's socket peer address), bound by the
    /// handshake.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// Whether an earlier error closed the session.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Encrypts `plaintext` (at most [`MAX_PLAINTEXT`] bytes, may be empty)
    /// into one frame and writes it.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] (nothing sent, session still open);
    /// [`SessionError::Io`] (session closed); [`SessionError::Closed`].
    pub async fn send(&mut self, plaintext: &[u8]) -> Result<(), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(SessionError::TooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT,
            });
        }
        let mut frame = vec![0u8; 2 + plaintext.len() + TAG_LEN];
        let len = match self.transport.write_message(plaintext, &mut frame[2..]) {
            Ok(len) => len,
            Err(e) => {
                self.closed = true;
                return Err(SessionError::Io(io::Error::other(e)));
            }
        };
        frame[..2].copy_from_slice(&(len as u16).to_be_bytes());
        frame.truncate(2 + len);
        if let Err(e) = self.stream.write_all(&frame).await {
            self.closed = true;
            return Err(SessionError::Io(e));
        }
        Ok(())
    }

    /// Reads and decrypts the next whole frame.
    ///
    /// # Errors
    ///
    /// [`SessionError::PeerClosed`] at a clean end of stream;
    /// [`SessionError::Decrypt`], [`SessionError::EmptyFrame`],
    /// [`SessionError::Io`] close the session; [`SessionError::Closed`]
    /// afterwards.
    pub async fn recv(&mut self) -> Result<Vec<u8>, SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        let result = self.recv_inner().await;
        if result.is_err() {
            self.closed = true;
        }
        result
    }

    async fn recv_inner(&mut self) -> Result<Vec<u8>, SessionError> {
        loop {
            if self.inbound.len() >= 2 {
                let len = u16::from_be_bytes([self.inbound[0], self.inbound[1]]) as usize;
                if len == 0 {
                    return Err(SessionError::EmptyFrame);
                }
                if self.inbound.len() >= 2 + len {
                    let n = self
                        .transport
                        .read_message(&self.inbound[2..2 + len], &mut self.scratch)
                        .map_err(SessionError::Decrypt)?;
                    self.inbound.drain(..2 + len);
                    return Ok(self.scratch[..n].to_vec());
                }
            }
            self.inbound
                .reserve(MAX_FRAME + 2 - self.inbound.len().min(MAX_FRAME));
            let n = self
                .stream
                .read_buf(&mut self.inbound)
                .await
                .map_err(SessionError::Io)?;
            if n == 0 {
                return Err(if self.inbound.is_empty() {
                    SessionError::PeerClosed
                } else {
                    SessionError::Io(io::ErrorKind::UnexpectedEof.into())
                });
            }
        }
    }

    /// The TCP stream, for tests that must put raw bytes on the wire
    /// (feature `test-support`; not a stable API).
    #[cfg(feature = "test-support")]
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_encoding() {
        let cases: &[(&str, &[u8])] = &[
            ("127.0.0.1:5000", &[4, 127, 0, 0, 1, 0x13, 0x88]),
            ("[::ffff:10.0.0.2]:1", &[4, 10, 0, 0, 2, 0, 1]),
            (
                "[fe80::1%7]:65535",
                &[
                    6, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
                ],
            ),
        ];
        for (addr, bytes) in cases {
            assert_eq!(encode_address(v4(addr)), *bytes, "{addr}");
            let (decoded, len) = decode_address(bytes).unwrap();
            assert_eq!(len, bytes.len());
            assert_eq!(canonical(decoded), canonical(v4(addr)));
        }
    }

    fn sample() -> (Identity, NoiseKeys, BindingPayload) {
        let id = Identity::from_seed([7; 32]);
        let keys = NoiseKeys::generate().unwrap();
        let p = BindingPayload::sign(
            &id,
            keys.public(),
            v4("10.0.0.1:4000"),
            v4("10.0.0.2:50000"),
        );
        (id, keys, p)
    }

    #[test]
    fn payload_round_trip_and_length() {
        let (_, _, p) = sample();
        let bytes = p.encode();
        assert_eq!(bytes.len(), 111);
        assert_eq!(BindingPayload::decode(&bytes).unwrap(), p);
        let six = BindingPayload {
            local: v4("[::1]:1"),
            remote: v4("[::2]:2"),
            ..p
        };
        assert_eq!(six.encode().len(), 135);
    }

    #[test]
    fn payload_decode_table() {
        let (_, _, p) = sample();
        let good = p.encode();
        let mut bad_version = good.clone();
        bad_version[0] = 2;
        let mut bad_family = good.clone();
        bad_family[33] = 5;
        let mut trailing = good.clone();
        trailing.push(0);
        let mut bad_key = good.clone();
        // y = 2 with the sign bit: not on the curve.
        bad_key[1..33].copy_from_slice(&{
            let mut k = [0u8; 32];
            k[0] = 2;
            k
        });
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "empty payload"),
            ("version", bad_version, "unsupported payload version"),
            ("family", bad_family, "unknown address family"),
            ("trailing", trailing, "trailing bytes after the signature"),
            (
                "short sig",
                good[..good.len() - 1].to_vec(),
                "truncated signature",
            ),
            ("short id", good[..20].to_vec(), "truncated peer id"),
            ("short addr", good[..36].to_vec(), "truncated address"),
        ];
        for (name, bytes, want) in cases {
            match BindingPayload::decode(&bytes) {
                Err(HandshakeError::BadPayload { reason }) => assert_eq!(reason, want, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        // A key that is not a valid point (if this byte string happens to be one, skip).
        if PeerId::from_bytes(bad_key[1..33].try_into().unwrap())
            .validate()
            .is_err()
        {
            assert!(matches!(
                BindingPayload::decode(&bad_key),
                Err(HandshakeError::BadPayload {
                    reason: "invalid verifying key"
                })
            ));
        }
    }

    #[test]
    fn payload_check_table() {
        let (id, keys, p) = sample();
        let other_keys = NoiseKeys::generate().unwrap();
        // The receiver sees the connection from the other end.
        let (their_local, their_peer) = (v4("10.0.0.2:50000"), v4("10.0.0.1:4000"));
        let me = id.peer_id();
        let stranger = Identity::from_seed([9; 32]).peer_id();
        let mut tampered = p;
        let mut sig = tampered.signature.to_bytes();
        sig[5] ^= 1;
        tampered.signature = Signature::from_bytes(sig);
        let moved = BindingPayload {
            remote: v4("10.0.0.3:50000"),
            ..p
        };

        type Case<'a> = (
            &'a str,
            BindingPayload,
            &'a [u8; 32],
            PeerId,
            SocketAddr,
            SocketAddr,
        );
        type Want = fn(&HandshakeError) -> bool;
        let cases: Vec<(Case<'_>, Want)> = vec![
            (
                ("ok", p, keys.public(), me, their_local, their_peer),
                |_| false,
            ),
            (
                (
                    "tampered sig",
                    tampered,
                    keys.public(),
                    me,
                    their_local,
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::BadSignature),
            ),
            (
                (
                    "other noise key",
                    p,
                    other_keys.public(),
                    me,
                    their_local,
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::BadSignature),
            ),
            (
                (
                    "addresses changed after signing",
                    moved,
                    keys.public(),
                    me,
                    their_local,
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::BadSignature),
            ),
            (
                (
                    "wrong peer",
                    p,
                    keys.public(),
                    stranger,
                    their_local,
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::WrongPeer { .. }),
            ),
            (
                (
                    "relay: peer's local differs",
                    p,
                    keys.public(),
                    me,
                    their_local,
                    v4("10.0.0.9:4000"),
                ),
                |e| matches!(e, HandshakeError::AddressMismatch { .. }),
            ),
            (
                (
                    "relay: peer's remote differs",
                    p,
                    keys.public(),
                    me,
                    v4("10.0.0.9:1"),
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::AddressMismatch { .. }),
            ),
            (
                (
                    "v4-mapped v6 socket",
                    p,
                    keys.public(),
                    me,
                    v4("[::ffff:10.0.0.2]:50000"),
                    v4("[::ffff:10.0.0.1]:4000"),
                ),
                |_| false,
            ),
        ];
        for ((name, payload, key, expected, local, peer), is_want) in cases {
            match payload.check(key, &expected, local, peer) {
                Ok(()) => assert!(
                    name == "ok" || name.starts_with("v4-mapped"),
                    "{name} passed"
                ),
                Err(e) => assert!(is_want(&e), "{name}: {e:?}"),
            }
        }
    }

    #[test]
    fn upgrade_line_table() {
        let (a, b) = (
            Identity::from_seed([1; 32]).peer_id(),
            Identity::from_seed([2; 32]).peer_id(),
        );
        let req = UpgradeRequest { from: a, to: b };
        let line = req.encode();
        assert_eq!(line.len(), 171);
        assert_eq!(UpgradeRequest::parse(&line), Ok(req));
        let reordered = format!(
            "{{ \"to\":\"{b}\", \"from\":\"{a}\",\"v\":1,\"x\":[],\"type\":\"SESSION\"}}\r\n"
        );
        assert_eq!(UpgradeRequest::parse(&reordered), Ok(req));
        let cases = [
            ("[1]".to_string(), UpgradeError::NotJson),
            ("{\"v\":1}".to_string(), UpgradeError::NotJson),
            (
                format!("{{\"type\":\"HELLO\",\"from\":\"{a}\"}}"),
                UpgradeError::WrongType {
                    found: "HELLO".into(),
                },
            ),
            (
                format!("{{\"type\":\"SESSION\",\"v\":2,\"from\":\"{a}\",\"to\":\"{b}\"}}"),
                UpgradeError::UnsupportedVersion,
            ),
            (
                format!("{{\"type\":\"SESSION\",\"from\":\"{a}\",\"to\":\"{b}\"}}"),
                UpgradeError::UnsupportedVersion,
            ),
            (
                format!(
                    "{{\"type\":\"SESSION\",\"v\":1,\"from\":\"{}\",\"to\":\"{b}\"}}",
                    a.to_string().to_uppercase()
                ),
                UpgradeError::BadPeerId { field: "from" },
            ),
            (
                format!("{{\"type\":\"SESSION\",\"v\":1,\"from\":\"{a}\"}}"),
                UpgradeError::BadPeerId { field: "to" },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(UpgradeRequest::parse(&line), Err(want), "{line}");
        }
    }

    #[test]
    fn reply_table() {
        assert_eq!(classify_reply(b"ACK").unwrap(), Reply::Ack);
        assert_eq!(
            classify_reply(SESSION_OK_LINE.trim_end().as_bytes()).unwrap(),
            Reply::Ok
        );
        assert_eq!(
            classify_reply(b"{ \"v\":1, \"type\":\"SESSION_OK\" }").unwrap(),
            Reply::Ok
        );
        for bad in [
            &b"ack"[..],
            b"{\"type\":\"SESSION_OK\",\"v\":2}",
            b"{\"type\":\"ACK\"}",
            b"\xff",
        ] {
            assert!(matches!(
                classify_reply(bad),
                Err(HandshakeError::BadReply { .. })
            ));
        }
    }
}

#[cfg(test)]
mod vector {
    use super::*;

    /// The test vector of `docs/wire.md` §3.8 (Ed25519 is deterministic).
    #[test]
    fn binding_test_vector() {
        let id = Identity::from_seed([7; 32]);
        let noise_static = [0x11u8; 32];
        let local: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.2:50000".parse().unwrap();
        let p = BindingPayload::sign(&id, &noise_static, local, remote);
        assert_eq!(
            id.peer_id().to_string(),
            "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
        );
        assert_eq!(
            hex::encode(BindingPayload::signed_bytes(&noise_static, local, remote)),
            "74617a636f6d2f73657373696f6e2f312062696e64696e67\
             1111111111111111111111111111111111111111111111111111111111111111\
             04c00002010fa0\
             04c0000202c350"
        );
        assert_eq!(
            hex::encode(p.encode()),
            "01\
             ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c\
             04c00002010fa0\
             04c0000202c350\
             bc7639407038befb7edf5aa9f32c45b2d6d654b8f6a150cadd1359d000041dc0\
             bd748f3dc77b39588b25e0183c35ba78ce7a72c1c3f1250d8c56f81da67f4b07"
        );
        let decoded = BindingPayload::decode(&p.encode()).unwrap();
        decoded
            .check(&noise_static, &id.peer_id(), remote, local)
            .unwrap();
    }

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
        let payload_b = BindingPayload::sign(&b, kb.public(), ib, ia).encode();
        let n = resp.write_message(&payload_b, &mut m).unwrap();
        assert_eq!(n, 207);
        let len = init.read_message(&m[..n], &mut p).unwrap();
        BindingPayload::decode(&p[..len])
            .unwrap()
            .check(init.get_remote_static().unwrap(), &b.peer_id(), ia, ib)
            .unwrap();
        let payload_a = BindingPayload::sign(&a, ka.public(), ia, ib).encode();
        let n = init.write_message(&payload_a, &mut m).unwrap();
        assert_eq!(n, 175);
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
