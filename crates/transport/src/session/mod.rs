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
//!         let mut session = session::respond(stream, &bob, &bob_keys, request.from, 0, timeout).await?;
//!         let question = session.recv().await?;
//!         session.send(&[question, b" pong".to_vec()].concat()).await?;
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!     });
//!
//!     // Alice dials Bob, expecting his id.
//!     let stream = TcpStream::connect(addr).await?;
//!     let mut session = session::initiate(stream, &alice, &alice_keys, bob_id, 0, timeout).await?;
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
//! - The message layer (`docs/wire.md` §3.9): [`Record`] (what one frame
//!   says, pure), chunk reassembly, and [`Link`], one task per session that
//!   carries messages named by protocol, with receipts, request/response,
//!   keep-alive and a graceful close; a [`Router`] hands received messages
//!   to one bounded [`Inbox`] per served protocol.
//! - [`SessionSlots`]: the cap on open sessions, shared by the server
//!   (inbound) and the node (outbound).
//!
//! [`TcpStream`]: tokio::net::TcpStream

// One file per concept: the upgrade line (`upgrade`), the binding payload
// and address encoding, pure (`binding`), the Noise keys and the handshake
// with its length framing (`handshake`), the encrypted frames (`frame`).
mod binding;
mod codec;
mod config;
mod frame;
mod handshake;
mod link;
mod reassembly;
mod router;
mod slots;
mod upgrade;

pub use binding::{encode_address, BindingPayload};
pub use codec::{
    valid_protocol, CloseReason, ReceiptStatus, Record, RecordError, ResponseStatus, FLAG_REQUEST,
    KIND_CLOSE, KIND_MORE, KIND_MSG, KIND_PING, KIND_PONG, KIND_RECEIPT, KIND_RESPONSE,
    MAX_PROTOCOL_LEN,
};
pub use config::{
    SessionConfig, SessionConfigError, SessionCounters, SessionStats, DEFAULT_CLOSE_GRACE,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SEND_TIMEOUT,
    MAX_IN_FLIGHT, MAX_MAX_MESSAGE_BYTES, MAX_PINGS_IN_FLIGHT,
};
pub use frame::{Session, SessionError, SessionReader, SessionWriter};
pub use handshake::{initiate, respond, HandshakeError, NoiseKeys};
pub use link::{Link, LinkEnd, Refusal, Responder, SendError};
pub use reassembly::ReassemblyError;
pub use router::{Inbox, InboxError, Incoming, Router, ServeError};
pub use slots::{SessionSlot, SessionSlots};
pub use upgrade::{UpgradeError, UpgradeRequest};

/// The frame splitter of [`Session::recv`], for the `session_frames` fuzz
/// target and its corpus test (feature `test-support`; not a stable API):
/// the first whole frame (`docs/wire.md` §3.8.2) at the start of `buf`,
/// `Ok(None)` when more bytes are needed, [`SessionError::EmptyFrame`] for
/// a length of 0. The frame takes `2 + body.len()` bytes of `buf`.
///
/// # Errors
///
/// [`SessionError::EmptyFrame`] when the length field is 0.
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub fn split_frame(buf: &[u8]) -> Result<Option<&[u8]>, SessionError> {
    frame::split_frame(buf)
}

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
