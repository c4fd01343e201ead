//! The authenticated greeting (`docs/wire.md` §3.6): the signed HELLO, the
//! signed ACK and the nonce; and [`SignedMessage`], the one path every
//! signed message (also the PING and BYE of `liveness.rs`) takes: its
//! signed bytes, signing, verification, encoding and parsing.
//!
//! All are JSON lines like the plain HELLO, with extra fields; a prototype
//! server, which ACKs any line, still reads a signed HELLO as a HELLO. What
//! a signature covers is a fixed binary layout, never the JSON text, so key
//! order and whitespace do not matter.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value};
use tazcom_identity::{verify, Domain, Identity, IdentityError, KeyCache, PeerId, Signature};

/// Domain separation prefix of a signed HELLO's signed bytes: the ASCII text
/// `TAZCOM-HELLO-v1` and a zero byte (16 bytes). A HELLO signature can never
/// be taken for an ACK signature or for any other TAZCOM signature.
pub const HELLO_DOMAIN: &[u8; 16] = b"TAZCOM-HELLO-v1\0";

/// Domain separation prefix of a signed ACK's signed bytes: the ASCII text
/// `TAZCOM-ACK-v1` and a zero byte (14 bytes).
pub const ACK_DOMAIN: &[u8; 14] = b"TAZCOM-ACK-v1\0";

/// Length of a nonce in bytes (32 hex characters on the wire).
pub const NONCE_LEN: usize = 16;

/// Length of the bytes a signed HELLO's signature covers:
/// domain (16) + from (32) + to (32) + nonce (16) + ts (8) + port (2).
pub const HELLO_SIGNED_LEN: usize = 106;

/// Length of the bytes a signed ACK's signature covers:
/// domain (14) + from (32) + to (32) + nonce (16).
pub const ACK_SIGNED_LEN: usize = 94;

/// Length in bytes of an encoded signed ACK line, newline included (always
/// the same: every field has a fixed width).
pub const SIGNED_ACK_LINE_BYTES: usize = 341;

/// Longest encoded signed HELLO line in bytes, newline included: 357 bytes
/// of fixed text plus up to 20 digits of `ts` and 5 of `port`. A current
/// timestamp (13 digits) and a 5-digit port give 375 bytes.
pub const MAX_SIGNED_HELLO_LINE_BYTES: usize = 382;

/// 16 random bytes that tie a signed ACK to the HELLO it answers and let a
/// server detect a replayed HELLO. On the wire: 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nonce([u8; NONCE_LEN]);

impl Nonce {
    /// A fresh nonce from the operating system's random source.
    pub fn random() -> Nonce {
        let mut bytes = [0; NONCE_LEN];
        OsRng.fill_bytes(&mut bytes);
        Nonce(bytes)
    }

    /// Wraps 16 given bytes (for tests and replays of recorded traffic).
    pub const fn from_bytes(bytes: [u8; NONCE_LEN]) -> Nonce {
        Nonce(bytes)
    }

    /// The 16 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; NONCE_LEN] {
        &self.0
    }
}

/// Prints the wire form: 32 lowercase hex characters.
impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({self})")
    }
}

/// A signed TAZCOM message: the signed HELLO and ACK (`docs/wire.md` §3.6),
/// the signed PING and BYE (§3.7). What a signature covers and how it is
/// checked are the same for all four, written once here.
///
/// Each message has a signer (`from`), an addressee (`to`), a [`Nonce`] and
/// an Ed25519 signature (`sig`) by `from` over its
/// [`signed_bytes`](Self::signed_bytes): [`DOMAIN`](Self::DOMAIN) ‖ from
/// (32) ‖ to (32) ‖ nonce (16), then `ts` (u64 big endian) for a HELLO,
/// PING or BYE, then `port` (u16 big endian) for a HELLO or PING. Its wire
/// line has these fields in this order, after `type` and before `sig`.
///
/// Sealed: implemented by [`SignedHello`], [`SignedAck`],
/// [`SignedPing`](crate::wire::SignedPing) and
/// [`SignedBye`](crate::wire::SignedBye) only. Bring it into scope to
/// verify one:
///
/// ```
/// use tazcom_identity::Identity;
/// use tazcom_transport::wire::{Nonce, SignedAck, SignedMessage};
///
/// let (server, client) = (Identity::generate(), Identity::generate());
/// let ack = SignedAck::sign(&server, client.peer_id(), Nonce::random());
/// assert!(ack.signed_bytes().starts_with(SignedAck::DOMAIN));
/// ack.verify_signature()?;
/// # Ok::<(), tazcom_identity::IdentityError>(())
/// ```
pub trait SignedMessage: sealed::Sealed {
    /// The wire `type`: `"HELLO"`, `"ACK"`, `"PING"` or `"BYE"`.
    const WIRE_TYPE: &'static str;

    /// Domain separation prefix of the signed bytes, e.g. [`HELLO_DOMAIN`]:
    /// a signature made for one message type never verifies as another's.
    const DOMAIN: &'static [u8];

    /// The bytes the signature covers, laid out as above: e.g.
    /// [`HELLO_SIGNED_LEN`] bytes for a HELLO, [`ACK_SIGNED_LEN`] for an ACK.
    fn signed_bytes(&self) -> Vec<u8> {
        let parts = self.parts();
        let mut out = Vec::with_capacity(HELLO_SIGNED_LEN);
        out.extend_from_slice(Self::DOMAIN);
        out.extend_from_slice(parts.from.as_bytes());
        out.extend_from_slice(parts.to.as_bytes());
        out.extend_from_slice(parts.nonce.as_bytes());
        if let Some(ts_ms) = parts.ts_ms {
            out.extend_from_slice(&ts_ms.to_be_bytes());
        }
        if let Some(port) = parts.port {
            out.extend_from_slice(&port.to_be_bytes());
        }
        out
    }

    /// Checks that `sig` is `from`'s signature over the other fields
    /// (strict Ed25519 verification).
    ///
    /// # Errors
    ///
    /// [`IdentityError::BadSignature`] when it is not (altered fields, a
    /// spoofed `from`, or a signature made for another message type);
    /// [`IdentityError::InvalidPeerId`] when `from` is not an Ed25519 key.
    fn verify_signature(&self) -> Result<(), IdentityError> {
        let parts = self.parts();
        let (domain, fields) = (Domain::new(Self::DOMAIN), self.signed_bytes());
        verify(
            &parts.from,
            &domain,
            &fields[Self::DOMAIN.len()..],
            &parts.sig,
        )
    }

    /// As [`verify_signature`](Self::verify_signature), with `from`'s
    /// decoded key taken from `keys`.
    ///
    /// # Errors
    /// As [`verify_signature`](Self::verify_signature).
    fn verify_signature_with(&self, keys: &KeyCache) -> Result<(), IdentityError> {
        let parts = self.parts();
        let (domain, fields) = (Domain::new(Self::DOMAIN), self.signed_bytes());
        keys.verify(
            &parts.from,
            &domain,
            &fields[Self::DOMAIN.len()..],
            &parts.sig,
        )
    }
}

/// The crate-only side of [`SignedMessage`]; outside the crate it cannot be
/// named, so no other type can implement [`SignedMessage`].
pub(crate) mod sealed {
    use tazcom_identity::{PeerId, Signature};

    use super::Nonce;
    use crate::message::Message;

    /// The fields of a signed message, the same for all four types: `ts_ms`
    /// is `None` for an ACK, `port` for an ACK or a BYE.
    #[derive(Debug, Clone, Copy)]
    pub struct Parts {
        pub from: PeerId,
        pub to: PeerId,
        pub nonce: Nonce,
        pub ts_ms: Option<u64>,
        pub port: Option<u16>,
        pub sig: Signature,
    }

    /// Each message type's part of the one signed-message path.
    pub trait Sealed: Copy {
        /// The wire fields besides `type`, in wire order; all required.
        const FIELDS: &'static [&'static str];
        /// Its fields, for signing, encoding and the checks.
        fn parts(&self) -> Parts;
        /// The message made of `parts` (those of [`FIELDS`](Self::FIELDS)).
        fn from_parts(parts: Parts) -> Self;
        /// The [`Message`] variant that carries it.
        fn into_message(self) -> Message;
    }
}

use sealed::Parts;

/// Implements [`SignedMessage`] for a struct with the fields `from`, `to`,
/// `nonce`, `sig` and the optional ones it lists (`ts_ms`, `port`), given
/// its wire `type`, domain and wire fields (besides `type`, in order). Its
/// [`Message`](crate::wire::Message) variant has its name.
macro_rules! signed_message {
    ($name:ident { $($optional:ident),* }, $wire_type:literal, $domain:expr, $fields:expr) => {
        impl $crate::signed::SignedMessage for $name {
            const WIRE_TYPE: &'static str = $wire_type;
            const DOMAIN: &'static [u8] = $domain;
        }

        impl $crate::signed::sealed::Sealed for $name {
            const FIELDS: &'static [&'static str] = &$fields;
            fn parts(&self) -> $crate::signed::sealed::Parts {
                $crate::signed::sealed::Parts {
                    $($optional: Some(self.$optional),)*
                    ..$crate::signed::sealed::Parts {
                        from: self.from,
                        to: self.to,
                        nonce: self.nonce,
                        ts_ms: None,
                        port: None,
                        sig: self.sig,
                    }
                }
            }
            fn from_parts(parts: $crate::signed::sealed::Parts) -> $name {
                $name {
                    from: parts.from,
                    to: parts.to,
                    nonce: parts.nonce,
                    $($optional: parts.$optional.unwrap_or_default(),)*
                    sig: parts.sig,
                }
            }
            fn into_message(self) -> $crate::message::Message {
                $crate::message::Message::$name(self)
            }
        }
    };
}
pub(crate) use signed_message;

/// `identity`'s message to `to`, signed (`ts_ms` and `port` only for the
/// types that carry them).
pub(crate) fn sign<M: SignedMessage>(
    identity: &Identity,
    to: PeerId,
    nonce: Nonce,
    ts_ms: Option<u64>,
    port: Option<u16>,
) -> M {
    let (from, sig) = (identity.peer_id(), Signature::from_bytes([0; 64]));
    let mut parts = Parts {
        from,
        to,
        nonce,
        ts_ms,
        port,
        sig,
    };
    // `signed_bytes` starts with the domain; the identity adds it itself.
    let signed = M::from_parts(parts).signed_bytes();
    parts.sig = identity.sign(&Domain::new(M::DOMAIN), &signed[M::DOMAIN.len()..]);
    M::from_parts(parts)
}

/// The wire line without its newline: compact JSON, `type` first, then the
/// fields in wire order (`docs/wire.md` §3.6, §3.7). Every field is a peer
/// id, hex or an integer: no JSON escaping needed.
pub(crate) fn encode<M: SignedMessage>(message: &M) -> String {
    let Parts {
        from,
        to,
        nonce,
        ts_ms,
        port,
        sig,
    } = message.parts();
    let mut line = format!(
        "{{\"type\":\"{}\",\"from\":\"{from}\",\"to\":\"{to}\",\"nonce\":\"{nonce}\"",
        M::WIRE_TYPE
    );
    if let Some(ts_ms) = ts_ms {
        line += &format!(",\"ts\":{ts_ms}");
    }
    if let Some(port) = port {
        line += &format!(",\"port\":{port}");
    }
    line + &format!(",\"sig\":\"{}\"}}", hex::encode(sig.to_bytes()))
}

/// Parses the fields of a signed message's JSON object; every one of
/// [`FIELDS`](sealed::Sealed::FIELDS) is required, then each is checked in wire order.
pub(crate) fn from_fields<M: SignedMessage>(fields: &Map<String, Value>) -> Result<M, FieldError> {
    require_all(fields, M::FIELDS)?;
    let has = |name| M::FIELDS.contains(&name);
    Ok(M::from_parts(Parts {
        from: peer_field(fields, "from")?,
        to: peer_field(fields, "to")?,
        nonce: nonce_field(fields)?,
        ts_ms: has("ts").then(|| ts_field(fields)).transpose()?,
        port: has("port").then(|| port_field(fields)).transpose()?,
        sig: sig_field(fields)?,
    }))
}

/// A HELLO that proves its sender holds the key behind `from`
/// (`docs/wire.md` §3.6).
///
/// On the wire (one line, compact, this field order):
/// `{"type":"HELLO","from":"<64 hex>","to":"<64 hex>","nonce":"<32 hex>","ts":<unix ms>,"port":<u16>,"sig":"<128 hex>"}`.
///
/// ```
/// use tazcom_identity::Identity;
/// use tazcom_transport::wire::{Nonce, SignedHello, SignedMessage};
///
/// let (me, peer) = (Identity::generate(), Identity::generate());
/// let hello = SignedHello::sign(&me, peer.peer_id(), Nonce::random(), 1_700_000_000_000, 4242);
/// assert_eq!(hello.from, me.peer_id());
/// hello.verify_signature()?;
/// # Ok::<(), tazcom_identity::IdentityError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedHello {
    /// The sender's peer id; the signature must verify under this key.
    pub from: PeerId,
    /// The receiver the sender means to greet (its TXT `id`). A server
    /// rejects a HELLO addressed to another id.
    pub to: PeerId,
    /// Fresh random bytes; the server's ACK repeats them.
    pub nonce: Nonce,
    /// The sender's clock when it signed, unix time in ms (wire field `ts`).
    pub ts_ms: u64,
    /// The sender's TCP listen port; 0 when it does not listen.
    pub port: u16,
    /// Ed25519 signature by `from` over [`SignedMessage::signed_bytes`].
    pub sig: Signature,
}

impl SignedHello {
    /// A HELLO from `identity` to `to`, signed; `ts_ms` is unix time in ms,
    /// `port` this node's TCP listen port (0: not listening).
    pub fn sign(
        identity: &Identity,
        to: PeerId,
        nonce: Nonce,
        ts_ms: u64,
        port: u16,
    ) -> SignedHello {
        sign(identity, to, nonce, Some(ts_ms), Some(port))
    }

    /// The listen port, or `None` when the sender announced port 0.
    pub fn listen_port(&self) -> Option<u16> {
        (self.port != 0).then_some(self.port)
    }
}

signed_message!(
    SignedHello { ts_ms, port },
    "HELLO",
    HELLO_DOMAIN,
    ["from", "to", "nonce", "ts", "port", "sig"]
);

/// The reply to a valid signed HELLO, PING or BYE: proves the server holds
/// the key behind `from` and ties the answer to the request by its nonce
/// (`docs/wire.md` §3.6).
///
/// On the wire (always [`SIGNED_ACK_LINE_BYTES`] bytes):
/// `{"type":"ACK","from":"<64 hex>","to":"<64 hex>","nonce":"<32 hex>","sig":"<128 hex>"}`.
///
/// ```
/// use tazcom_identity::Identity;
/// use tazcom_transport::wire::{Nonce, SignedAck, SignedMessage};
///
/// let (server, client) = (Identity::generate(), Identity::generate());
/// let ack = SignedAck::sign(&server, client.peer_id(), Nonce::random());
/// ack.verify_signature()?;
/// # Ok::<(), tazcom_identity::IdentityError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedAck {
    /// The server's peer id; the signature must verify under this key.
    pub from: PeerId,
    /// The client that sent the request (the request's `from`).
    pub to: PeerId,
    /// The nonce of the request this answers.
    pub nonce: Nonce,
    /// Ed25519 signature by `from` over [`SignedMessage::signed_bytes`].
    pub sig: Signature,
}

impl SignedAck {
    /// An ACK from `identity` to `to` for the request that carried `nonce`,
    /// signed.
    pub fn sign(identity: &Identity, to: PeerId, nonce: Nonce) -> SignedAck {
        sign(identity, to, nonce, None, None)
    }
}

signed_message!(
    SignedAck {},
    "ACK",
    ACK_DOMAIN,
    ["from", "to", "nonce", "sig"]
);

/// The current time as unix ms (0 if the clock is before 1970).
pub(crate) fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Why the fields of a HELLO, ACK, PING or BYE do not make a message.
#[derive(Debug)]
pub(crate) enum FieldError {
    /// Some, not all, of the signed fields (names of the missing ones).
    Truncated(Vec<&'static str>),
    /// A field is present but its value is wrong.
    Invalid(String),
}

fn require_all(fields: &Map<String, Value>, names: &[&'static str]) -> Result<(), FieldError> {
    let missing: Vec<&'static str> = names
        .iter()
        .copied()
        .filter(|f| !fields.contains_key(*f))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(FieldError::Truncated(missing))
    }
}

fn str_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, FieldError> {
    match fields.get(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(FieldError::Invalid(format!(
            "field `{name}` must be a string"
        ))),
    }
}

pub(crate) fn peer_field(fields: &Map<String, Value>, name: &str) -> Result<PeerId, FieldError> {
    str_field(fields, name)?
        .parse()
        .map_err(|e| FieldError::Invalid(format!("field `{name}`: {e}")))
}

/// `N` bytes from exactly `2 N` lowercase hex characters (the canonical
/// form, like peer ids: one string per value).
fn hex_field<const N: usize>(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<[u8; N], FieldError> {
    let text = str_field(fields, name)?;
    let canonical =
        text.len() == 2 * N && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let mut out = [0; N];
    if !canonical || hex::decode_to_slice(text, &mut out).is_err() {
        return Err(FieldError::Invalid(format!(
            "field `{name}` must be {} lowercase hex characters",
            2 * N
        )));
    }
    Ok(out)
}

/// The `nonce` field: 32 lowercase hex characters.
fn nonce_field(fields: &Map<String, Value>) -> Result<Nonce, FieldError> {
    hex_field(fields, "nonce").map(Nonce)
}

/// The `sig` field: 128 lowercase hex characters.
fn sig_field(fields: &Map<String, Value>) -> Result<Signature, FieldError> {
    hex_field(fields, "sig").map(Signature::from_bytes)
}

/// The `ts` field: an integer in 0..=2^64−1 (unix ms).
fn ts_field(fields: &Map<String, Value>) -> Result<u64, FieldError> {
    int_field(fields, "ts", u64::MAX)
}

/// The `port` field: an integer in 0..=65535.
fn port_field(fields: &Map<String, Value>) -> Result<u16, FieldError> {
    u16::try_from(int_field(fields, "port", u64::from(u16::MAX))?)
        .map_err(|_| FieldError::Invalid("field `port` exceeds 65535".to_owned()))
}

fn int_field(fields: &Map<String, Value>, name: &str, max: u64) -> Result<u64, FieldError> {
    fields
        .get(name)
        .and_then(Value::as_u64)
        .filter(|v| *v <= max)
        .ok_or_else(|| {
            FieldError::Invalid(format!("field `{name}` must be an integer in 0..={max}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(byte: u8) -> Identity {
        Identity::from_seed([byte; 32])
    }

    #[test]
    fn signed_byte_layouts_are_exact() {
        let (a, b) = (identity(1), identity(2));
        let nonce = Nonce::from_bytes([9; NONCE_LEN]);
        let hello = SignedHello::sign(&a, b.peer_id(), nonce, 0x0102_0304_0506_0708, 0x0a0b);
        let bytes = hello.signed_bytes();
        assert_eq!(bytes.len(), HELLO_SIGNED_LEN);
        assert_eq!(&bytes[..16], HELLO_DOMAIN);
        assert_eq!(&bytes[16..48], a.peer_id().as_bytes());
        assert_eq!(&bytes[48..80], b.peer_id().as_bytes());
        assert_eq!(&bytes[80..96], &[9; 16]);
        assert_eq!(&bytes[96..104], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[104..], &[0x0a, 0x0b]);

        let ack = SignedAck::sign(&b, a.peer_id(), nonce);
        let bytes = ack.signed_bytes();
        assert_eq!(bytes.len(), ACK_SIGNED_LEN);
        assert_eq!(&bytes[..14], ACK_DOMAIN);
        assert_eq!(&bytes[14..46], b.peer_id().as_bytes());
        assert_eq!(&bytes[46..78], a.peer_id().as_bytes());
        assert_eq!(&bytes[78..], &[9; 16]);
    }

    #[test]
    fn signatures_verify_and_cover_every_field() {
        let (a, b) = (identity(1), identity(2));
        let hello = SignedHello::sign(&a, b.peer_id(), Nonce::random(), 1_000, 80);
        assert!(hello.verify_signature().is_ok());
        let altered = [
            SignedHello {
                to: a.peer_id(),
                ..hello
            },
            SignedHello {
                nonce: Nonce::random(),
                ..hello
            },
            SignedHello {
                ts_ms: 1_001,
                ..hello
            },
            SignedHello { port: 81, ..hello },
            SignedHello {
                from: b.peer_id(),
                ..hello
            },
        ];
        for bad in altered {
            assert!(bad.verify_signature().is_err(), "{bad:?}");
        }
        let ack = SignedAck::sign(&b, a.peer_id(), hello.nonce);
        assert!(ack.verify_signature().is_ok());
        assert!(SignedAck {
            nonce: Nonce::random(),
            ..ack
        }
        .verify_signature()
        .is_err());
        assert!(SignedAck {
            to: b.peer_id(),
            ..ack
        }
        .verify_signature()
        .is_err());
    }

    #[test]
    fn a_hello_signature_is_not_an_ack_signature() {
        // Domain separation: same key, same from/to/nonce.
        let (a, b) = (identity(1), identity(2));
        let nonce = Nonce::random();
        let hello = SignedHello::sign(&a, b.peer_id(), nonce, 0, 0);
        let forged = SignedAck {
            from: a.peer_id(),
            to: b.peer_id(),
            nonce,
            sig: hello.sig,
        };
        assert!(forged.verify_signature().is_err());
    }

    #[test]
    fn nonces_are_random_and_print_as_hex() {
        assert_ne!(Nonce::random(), Nonce::random());
        let nonce = Nonce::from_bytes([0xab; 16]);
        assert_eq!(nonce.to_string(), "ab".repeat(16));
        assert_eq!(format!("{nonce:?}"), format!("Nonce({})", "ab".repeat(16)));
    }
}
