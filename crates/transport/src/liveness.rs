//! Liveness and departure (`docs/wire.md` §3.7): the signed PING, which a
//! node sends to a known peer it has not heard from, and the signed BYE,
//! which a node sends to its verified peers when it shuts down. Both are
//! answered with the signed ACK of §3.6, over their nonce.
//!
//! Like the signed HELLO, each signature covers a fixed binary layout behind
//! its own domain prefix, never the JSON text; a PING or BYE signature can
//! therefore never pass as a HELLO, ACK or each other's signature.

use tazcom_identity::{Identity, PeerId, Signature};

use crate::signed::{sign, signed_message, Nonce};

/// Domain separation prefix of a signed PING's signed bytes: the ASCII text
/// `TAZCOM-PING-v1` and a zero byte (15 bytes, `docs/wire.md` §3.7).
pub const PING_DOMAIN: &[u8; 15] = b"TAZCOM-PING-v1\0";

/// Domain separation prefix of a signed BYE's signed bytes: the ASCII text
/// `TAZCOM-BYE-v1` and a zero byte (14 bytes, `docs/wire.md` §3.7).
pub const BYE_DOMAIN: &[u8; 14] = b"TAZCOM-BYE-v1\0";

/// Length of the bytes a signed PING's signature covers:
/// domain (15) + from (32) + to (32) + nonce (16) + ts (8) + port (2).
pub const PING_SIGNED_LEN: usize = 105;

/// Length of the bytes a signed BYE's signature covers:
/// domain (14) + from (32) + to (32) + nonce (16) + ts (8).
pub const BYE_SIGNED_LEN: usize = 102;

/// Longest encoded signed PING line in bytes, newline included: 356 bytes
/// of fixed text plus up to 20 digits of `ts` and 5 of `port`
/// (`docs/wire.md` §3.7).
pub const MAX_SIGNED_PING_LINE_BYTES: usize = 381;

/// Longest encoded signed BYE line in bytes, newline included: 347 bytes of
/// fixed text plus up to 20 digits of `ts` (`docs/wire.md` §3.7).
pub const MAX_SIGNED_BYE_LINE_BYTES: usize = 367;

/// A liveness check between TAZCOM nodes (`docs/wire.md` §3.7): a verified
/// signed ACK in reply proves that the peer is alive and still holds its key.
///
/// It carries the sender's listen port like the signed HELLO, so that a
/// receiver that had dropped the sender can register it again.
///
/// On the wire (one line, compact, this field order):
/// `{"type":"PING","from":"<64 hex>","to":"<64 hex>","nonce":"<32 hex>","ts":<unix ms>,"port":<u16>,"sig":"<128 hex>"}`.
///
/// ```
/// use tazcom_identity::Identity;
/// use tazcom_transport::wire::{Nonce, SignedMessage, SignedPing};
///
/// let (me, peer) = (Identity::generate(), Identity::generate());
/// let ping = SignedPing::sign(&me, peer.peer_id(), Nonce::random(), 1_700_000_000_000, 4242);
/// assert_eq!(ping.listen_port(), Some(4242));
/// ping.verify_signature()?;
/// # Ok::<(), tazcom_identity::IdentityError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedPing {
    /// The sender's peer id; the signature must verify under this key.
    pub from: PeerId,
    /// The peer being checked. A server rejects a PING addressed to another id.
    pub to: PeerId,
    /// Fresh random bytes; the server's signed ACK repeats them.
    pub nonce: Nonce,
    /// The sender's clock when it signed, unix time in ms (wire field `ts`).
    pub ts_ms: u64,
    /// The sender's TCP listen port; 0 when it does not listen.
    pub port: u16,
    /// Ed25519 signature by `from` over [`SignedMessage::signed_bytes`](crate::wire::SignedMessage::signed_bytes).
    pub sig: Signature,
}

impl SignedPing {
    /// A PING from `identity` to `to`, signed; `ts_ms` is unix time in ms,
    /// `port` this node's TCP listen port (0: not listening).
    pub fn sign(
        identity: &Identity,
        to: PeerId,
        nonce: Nonce,
        ts_ms: u64,
        port: u16,
    ) -> SignedPing {
        sign(identity, to, nonce, Some(ts_ms), Some(port))
    }

    /// The listen port, or `None` when the sender announced port 0.
    pub fn listen_port(&self) -> Option<u16> {
        (self.port != 0).then_some(self.port)
    }
}

signed_message!(
    SignedPing { ts_ms, port },
    "PING",
    PING_DOMAIN,
    ["from", "to", "nonce", "ts", "port", "sig"]
);

/// Sent by a node that is shutting down to each verified peer, so that they
/// drop it at once (`docs/wire.md` §3.7), sooner than the mDNS goodbye,
/// which receivers hold for 1 s (RFC 6762 §10.1).
///
/// On the wire (one line, compact, this field order):
/// `{"type":"BYE","from":"<64 hex>","to":"<64 hex>","nonce":"<32 hex>","ts":<unix ms>,"sig":"<128 hex>"}`.
///
/// ```
/// use tazcom_identity::Identity;
/// use tazcom_transport::wire::{Nonce, SignedBye, SignedMessage};
///
/// let (me, peer) = (Identity::generate(), Identity::generate());
/// let bye = SignedBye::sign(&me, peer.peer_id(), Nonce::random(), 1_700_000_000_000);
/// bye.verify_signature()?;
/// # Ok::<(), tazcom_identity::IdentityError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedBye {
    /// The departing sender's peer id; the signature must verify under this key.
    pub from: PeerId,
    /// The peer told of the departure. A server rejects a BYE addressed to
    /// another id.
    pub to: PeerId,
    /// Fresh random bytes; the server's signed ACK repeats them.
    pub nonce: Nonce,
    /// The sender's clock when it signed, unix time in ms (wire field `ts`).
    pub ts_ms: u64,
    /// Ed25519 signature by `from` over [`SignedMessage::signed_bytes`](crate::wire::SignedMessage::signed_bytes).
    pub sig: Signature,
}

impl SignedBye {
    /// A BYE from `identity` to `to`, signed; `ts_ms` is unix time in ms.
    pub fn sign(identity: &Identity, to: PeerId, nonce: Nonce, ts_ms: u64) -> SignedBye {
        sign(identity, to, nonce, Some(ts_ms), None)
    }
}

signed_message!(
    SignedBye { ts_ms },
    "BYE",
    BYE_DOMAIN,
    ["from", "to", "nonce", "ts", "sig"]
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signed::{SignedAck, SignedHello, SignedMessage, NONCE_LEN};
    use tazcom_identity::KeyCache;

    fn identity(byte: u8) -> Identity {
        Identity::from_seed([byte; 32])
    }

    #[test]
    fn signed_byte_layouts_are_exact() {
        let (a, b) = (identity(1), identity(2));
        let nonce = Nonce::from_bytes([9; NONCE_LEN]);
        let ping = SignedPing::sign(&a, b.peer_id(), nonce, 0x0102_0304_0506_0708, 0x0a0b);
        let bytes = ping.signed_bytes();
        assert_eq!(bytes.len(), PING_SIGNED_LEN);
        assert_eq!(&bytes[..15], PING_DOMAIN);
        assert_eq!(&bytes[15..47], a.peer_id().as_bytes());
        assert_eq!(&bytes[47..79], b.peer_id().as_bytes());
        assert_eq!(&bytes[79..95], &[9; 16]);
        assert_eq!(&bytes[95..103], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[103..], &[0x0a, 0x0b]);

        let bye = SignedBye::sign(&a, b.peer_id(), nonce, 0x0102_0304_0506_0708);
        let bytes = bye.signed_bytes();
        assert_eq!(bytes.len(), BYE_SIGNED_LEN);
        assert_eq!(&bytes[..14], BYE_DOMAIN);
        assert_eq!(&bytes[14..46], a.peer_id().as_bytes());
        assert_eq!(&bytes[46..78], b.peer_id().as_bytes());
        assert_eq!(&bytes[78..94], &[9; 16]);
        assert_eq!(&bytes[94..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn ping_signature_verifies_and_covers_every_field() {
        let (a, b) = (identity(1), identity(2));
        let ping = SignedPing::sign(&a, b.peer_id(), Nonce::random(), 1_000, 80);
        assert!(ping.verify_signature().is_ok());
        let keys = KeyCache::new(4);
        assert!(ping.verify_signature_with(&keys).is_ok());
        let altered = [
            SignedPing {
                from: b.peer_id(),
                ..ping
            },
            SignedPing {
                to: a.peer_id(),
                ..ping
            },
            SignedPing {
                nonce: Nonce::random(),
                ..ping
            },
            SignedPing {
                ts_ms: 1_001,
                ..ping
            },
            SignedPing { port: 81, ..ping },
        ];
        for bad in altered {
            assert!(bad.verify_signature().is_err(), "{bad:?}");
            assert!(bad.verify_signature_with(&keys).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bye_signature_verifies_and_covers_every_field() {
        let (a, b) = (identity(1), identity(2));
        let bye = SignedBye::sign(&a, b.peer_id(), Nonce::random(), 1_000);
        assert!(bye.verify_signature().is_ok());
        let keys = KeyCache::new(4);
        assert!(bye.verify_signature_with(&keys).is_ok());
        let altered = [
            SignedBye {
                from: b.peer_id(),
                ..bye
            },
            SignedBye {
                to: a.peer_id(),
                ..bye
            },
            SignedBye {
                nonce: Nonce::random(),
                ..bye
            },
            SignedBye {
                ts_ms: 1_001,
                ..bye
            },
        ];
        for bad in altered {
            assert!(bad.verify_signature().is_err(), "{bad:?}");
            assert!(bad.verify_signature_with(&keys).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signatures_are_domain_separated() {
        // Same key and the same from/to/nonce/ts/port everywhere: only the
        // domain prefix (and layout) tells the messages apart.
        let (a, b) = (identity(1), identity(2));
        let (to, nonce, ts, port) = (b.peer_id(), Nonce::from_bytes([5; 16]), 7, 8);
        let hello = SignedHello::sign(&a, to, nonce, ts, port);
        let ping = SignedPing::sign(&a, to, nonce, ts, port);
        let bye = SignedBye::sign(&a, to, nonce, ts);
        let ack = SignedAck::sign(&a, to, nonce);
        for sig in [hello.sig, bye.sig, ack.sig] {
            assert!(SignedPing { sig, ..ping }.verify_signature().is_err());
        }
        for sig in [hello.sig, ping.sig, ack.sig] {
            assert!(SignedBye { sig, ..bye }.verify_signature().is_err());
        }
        for sig in [ping.sig, bye.sig] {
            assert!(SignedHello { sig, ..hello }.verify_signature().is_err());
            assert!(SignedAck { sig, ..ack }.verify_signature().is_err());
        }
    }
}
