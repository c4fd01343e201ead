//! Transport counters: atomics updated by connection tasks (server side) and
//! by a [`Greeter`](crate::Greeter) (client side), read as a
//! [`TransportStats`] snapshot.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{AckRejection, ParseError};

/// A snapshot of a [`Server`](crate::Server)'s counters since it started,
/// and of the [`Greeter`](crate::Greeter)s made from it
/// ([`Server::greeter`](crate::Server::greeter); they share one set of
/// counters). Server fields stay 0 in the stats of a standalone `Greeter`.
///
/// Each counter is read atomically but the snapshot as a whole is not: read
/// during traffic, two counters may be a few events apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// TCP connections accepted.
    pub connections_accepted: u64,
    /// Lines answered with `ACK` or a signed ACK (HELLOs, unknown types).
    pub lines_acked: u64,
    /// Valid HELLO lines received: legacy and signed HELLOs that were
    /// accepted (and reported as [`InboundEvent`](crate::InboundEvent)s).
    pub hellos: u64,
    /// Of `hellos`, signed HELLOs that passed every check and were answered
    /// with a signed ACK (`docs/wire.md` §3.6).
    pub hellos_verified: u64,
    /// Replay-cache entries evicted to make room before they expired (more
    /// than `replay_cache_capacity` signed HELLOs within the window).
    pub replay_cache_evictions: u64,
    /// Well-formed lines the server does not act on (ACKed, ignored): an
    /// unknown `type`, or an `ACK` object sent to the server.
    pub unknown_types: u64,
    /// Events that could not be delivered because the receiver was dropped.
    pub events_undelivered: u64,
    /// Lines rejected: `max_line_bytes` reached without a newline.
    pub rejected_too_large: u64,
    /// Connections that ended in the middle of a line.
    pub rejected_eof_mid_line: u64,
    /// Connections closed because no complete line arrived within `read_timeout`.
    pub rejected_read_timeout: u64,
    /// Lines rejected: not UTF-8.
    pub rejected_bad_utf8: u64,
    /// Lines rejected: not JSON.
    pub rejected_not_json: u64,
    /// Lines rejected: JSON but not an object.
    pub rejected_not_object: u64,
    /// Lines rejected: no string `type` field.
    pub rejected_missing_type: u64,
    /// Lines rejected: known `type` with invalid fields (e.g. a bad `from`,
    /// a `sig` that is not 128 lowercase hex characters).
    pub rejected_invalid_message: u64,
    /// Lines rejected: a HELLO with some but not all of the signed fields.
    pub rejected_truncated_fields: u64,
    /// Signed HELLOs rejected: the signature does not verify under `from`
    /// (altered, or signed by another key: a spoofed `from`; Ed25519 cannot
    /// tell the two apart).
    pub rejected_bad_signature: u64,
    /// Signed HELLOs rejected: `to` is not this server's peer id.
    pub rejected_wrong_addressee: u64,
    /// Signed HELLOs rejected: `ts` outside ± `timestamp_window` of the
    /// server's clock (too old or in the future).
    pub rejected_stale_timestamp: u64,
    /// Signed HELLOs rejected: the (from, nonce) pair was already accepted
    /// within the window (a replay).
    pub rejected_replayed_nonce: u64,
    /// Connections ended by a read or write error (reset, write timeout).
    pub io_errors: u64,
    /// `accept()` failures (e.g. out of file descriptors).
    pub accept_errors: u64,
    /// Client: signed HELLOs answered by a signed ACK that passed every
    /// check (the peer proved its id).
    pub acks_verified: u64,
    /// Client: signed HELLOs answered by a plain `ACK` (a prototype, or a
    /// server without identity): acknowledged, not verified.
    pub acks_unverified: u64,
    /// Client: signed ACKs from another peer id than the expected one.
    pub acks_rejected_wrong_peer: u64,
    /// Client: signed ACKs addressed to another peer id than this node's.
    pub acks_rejected_wrong_addressee: u64,
    /// Client: signed ACKs whose nonce is not the HELLO's.
    pub acks_rejected_nonce_mismatch: u64,
    /// Client: signed ACKs whose signature does not verify.
    pub acks_rejected_bad_signature: u64,
    /// Client: replies to a signed HELLO that are neither `ACK` nor a valid
    /// signed ACK line.
    pub acks_rejected_malformed: u64,
}

impl TransportStats {
    /// Sum of all `rejected_*` counters: connections closed without `ACK`
    /// because of the peer's input.
    pub fn rejected_total(&self) -> u64 {
        self.rejected_too_large
            + self.rejected_eof_mid_line
            + self.rejected_read_timeout
            + self.rejected_bad_utf8
            + self.rejected_not_json
            + self.rejected_not_object
            + self.rejected_missing_type
            + self.rejected_invalid_message
            + self.rejected_truncated_fields
            + self.rejected_bad_signature
            + self.rejected_wrong_addressee
            + self.rejected_stale_timestamp
            + self.rejected_replayed_nonce
    }

    /// Sum of all `acks_rejected_*` counters: replies to signed HELLOs this
    /// node's client refused.
    pub fn acks_rejected_total(&self) -> u64 {
        self.acks_rejected_wrong_peer
            + self.acks_rejected_wrong_addressee
            + self.acks_rejected_nonce_mismatch
            + self.acks_rejected_bad_signature
            + self.acks_rejected_malformed
    }
}

/// Why a connection was closed without `ACK`; one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    TooLarge,
    EofMidLine,
    ReadTimeout,
    BadUtf8,
    NotJson,
    NotObject,
    MissingType,
    InvalidMessage,
    TruncatedFields,
    BadSignature,
    WrongAddressee,
    StaleTimestamp,
    ReplayedNonce,
}

/// Number of [`Reject`] reasons.
const REJECT_REASONS: usize = 13;

impl Reject {
    pub(crate) fn from_parse(error: &ParseError) -> Reject {
        match error {
            ParseError::BadUtf8 { .. } => Reject::BadUtf8,
            ParseError::NotJson { .. } => Reject::NotJson,
            ParseError::NotObject { .. } => Reject::NotObject,
            ParseError::MissingType => Reject::MissingType,
            ParseError::InvalidMessage { .. } => Reject::InvalidMessage,
            ParseError::TruncatedFields { .. } => Reject::TruncatedFields,
        }
    }

    /// Peer misbehaviour worth a warning; the others are ordinary hang-ups.
    pub(crate) fn is_protocol_violation(self) -> bool {
        !matches!(self, Reject::EofMidLine | Reject::ReadTimeout)
    }
}

/// Prints the snake_case reason used in log fields, e.g. `too_large`.
impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reject::TooLarge => "too_large",
            Reject::EofMidLine => "eof_mid_line",
            Reject::ReadTimeout => "read_timeout",
            Reject::BadUtf8 => "bad_utf8",
            Reject::NotJson => "not_json",
            Reject::NotObject => "not_object",
            Reject::MissingType => "missing_type",
            Reject::InvalidMessage => "invalid_message",
            Reject::TruncatedFields => "truncated_fields",
            Reject::BadSignature => "bad_signature",
            Reject::WrongAddressee => "wrong_addressee",
            Reject::StaleTimestamp => "stale_timestamp",
            Reject::ReplayedNonce => "replayed_nonce",
        })
    }
}

/// The live counters shared by the accept loop and connection tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) lines_acked: AtomicU64,
    pub(crate) hellos: AtomicU64,
    pub(crate) hellos_verified: AtomicU64,
    pub(crate) replay_cache_evictions: AtomicU64,
    pub(crate) unknown_types: AtomicU64,
    pub(crate) events_undelivered: AtomicU64,
    pub(crate) io_errors: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    pub(crate) acks_verified: AtomicU64,
    pub(crate) acks_unverified: AtomicU64,
    rejected: [AtomicU64; REJECT_REASONS],
    /// Client-side ACK rejections, indexed by [`ack_rejection_index`].
    acks_rejected: [AtomicU64; 5],
}

/// Index of an ACK rejection's counter; `None` (a malformed reply) is the last.
fn ack_rejection_index(reason: Option<&AckRejection>) -> usize {
    match reason {
        Some(AckRejection::WrongPeer { .. }) => 0,
        Some(AckRejection::WrongAddressee { .. }) => 1,
        Some(AckRejection::NonceMismatch) => 2,
        Some(AckRejection::BadSignature) => 3,
        None => 4,
    }
}

impl Counters {
    /// Adds one to `counter` (relaxed: counters order nothing).
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reject(&self, reason: Reject) {
        Counters::bump(&self.rejected[reason as usize]);
    }

    /// Counts a refused reply to a signed HELLO: a failed check, or `None`
    /// for a malformed reply.
    pub(crate) fn reject_ack(&self, reason: Option<&AckRejection>) {
        Counters::bump(&self.acks_rejected[ack_rejection_index(reason)]);
    }

    pub(crate) fn snapshot(&self) -> TransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rejected = |r: Reject| get(&self.rejected[r as usize]);
        let acks_rejected = |i: usize| get(&self.acks_rejected[i]);
        TransportStats {
            connections_accepted: get(&self.connections_accepted),
            lines_acked: get(&self.lines_acked),
            hellos: get(&self.hellos),
            hellos_verified: get(&self.hellos_verified),
            replay_cache_evictions: get(&self.replay_cache_evictions),
            unknown_types: get(&self.unknown_types),
            events_undelivered: get(&self.events_undelivered),
            rejected_too_large: rejected(Reject::TooLarge),
            rejected_eof_mid_line: rejected(Reject::EofMidLine),
            rejected_read_timeout: rejected(Reject::ReadTimeout),
            rejected_bad_utf8: rejected(Reject::BadUtf8),
            rejected_not_json: rejected(Reject::NotJson),
            rejected_not_object: rejected(Reject::NotObject),
            rejected_missing_type: rejected(Reject::MissingType),
            rejected_invalid_message: rejected(Reject::InvalidMessage),
            rejected_truncated_fields: rejected(Reject::TruncatedFields),
            rejected_bad_signature: rejected(Reject::BadSignature),
            rejected_wrong_addressee: rejected(Reject::WrongAddressee),
            rejected_stale_timestamp: rejected(Reject::StaleTimestamp),
            rejected_replayed_nonce: rejected(Reject::ReplayedNonce),
            io_errors: get(&self.io_errors),
            accept_errors: get(&self.accept_errors),
            acks_verified: get(&self.acks_verified),
            acks_unverified: get(&self.acks_unverified),
            acks_rejected_wrong_peer: acks_rejected(0),
            acks_rejected_wrong_addressee: acks_rejected(1),
            acks_rejected_nonce_mismatch: acks_rejected(2),
            acks_rejected_bad_signature: acks_rejected(3),
            acks_rejected_malformed: acks_rejected(4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_counter() {
        let counters = Counters::default();
        let reasons = [
            (Reject::TooLarge, 1),
            (Reject::EofMidLine, 2),
            (Reject::ReadTimeout, 3),
            (Reject::BadUtf8, 4),
            (Reject::NotJson, 5),
            (Reject::NotObject, 6),
            (Reject::MissingType, 7),
            (Reject::InvalidMessage, 8),
            (Reject::TruncatedFields, 9),
            (Reject::BadSignature, 10),
            (Reject::WrongAddressee, 11),
            (Reject::StaleTimestamp, 12),
            (Reject::ReplayedNonce, 13),
        ];
        for (reason, times) in reasons {
            for _ in 0..times {
                counters.reject(reason);
            }
        }
        let s = counters.snapshot();
        let got = [
            s.rejected_too_large,
            s.rejected_eof_mid_line,
            s.rejected_read_timeout,
            s.rejected_bad_utf8,
            s.rejected_not_json,
            s.rejected_not_object,
            s.rejected_missing_type,
            s.rejected_invalid_message,
            s.rejected_truncated_fields,
            s.rejected_bad_signature,
            s.rejected_wrong_addressee,
            s.rejected_stale_timestamp,
            s.rejected_replayed_nonce,
        ];
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
        assert_eq!(s.rejected_total(), 91);
    }

    #[test]
    fn each_ack_rejection_has_its_own_counter() {
        let counters = Counters::default();
        let peer = tazcom_identity::PeerId::from_bytes([1; 32]);
        let reasons = [
            Some(AckRejection::WrongPeer {
                expected: peer,
                found: peer,
            }),
            Some(AckRejection::WrongAddressee { found: peer }),
            Some(AckRejection::NonceMismatch),
            Some(AckRejection::BadSignature),
            None,
        ];
        for (times, reason) in reasons.iter().enumerate() {
            for _ in 0..=times {
                counters.reject_ack(reason.as_ref());
            }
        }
        let s = counters.snapshot();
        let got = [
            s.acks_rejected_wrong_peer,
            s.acks_rejected_wrong_addressee,
            s.acks_rejected_nonce_mismatch,
            s.acks_rejected_bad_signature,
            s.acks_rejected_malformed,
        ];
        assert_eq!(got, [1, 2, 3, 4, 5]);
        assert_eq!(s.acks_rejected_total(), 15);
        assert_eq!(s.rejected_total(), 0);
    }
}
