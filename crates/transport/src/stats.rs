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
    /// TCP connections accepted (including those closed at once by
    /// `max_connections_per_source`).
    pub connections_accepted: u64,
    /// Connections being served now (a gauge, not a counter): at most
    /// `max_connections`, and at most `max_connections_per_source` from one
    /// source IP address.
    pub connections_open: u64,
    /// The most connections served at once since the server started (high
    /// water mark of `connections_open`); never above `max_connections`.
    pub connections_peak: u64,
    /// Lines answered with `ACK` or a signed ACK (HELLOs, PINGs, BYEs,
    /// unknown types).
    pub lines_acked: u64,
    /// Valid HELLO lines received: legacy and signed HELLOs that were
    /// accepted (and reported as [`InboundEvent`](crate::InboundEvent)s).
    pub hellos: u64,
    /// Of `hellos`, signed HELLOs that passed every check and were answered
    /// with a signed ACK (`docs/wire.md` §3.6).
    pub hellos_verified: u64,
    /// Signed PINGs that passed every check and were answered with a signed
    /// ACK (and reported as [`InboundEvent::Ping`](crate::InboundEvent::Ping);
    /// `docs/wire.md` §3.7).
    pub pings_verified: u64,
    /// Signed BYEs that passed every check and were answered with a signed
    /// ACK (and reported as [`InboundEvent::Bye`](crate::InboundEvent::Bye);
    /// `docs/wire.md` §3.7).
    pub byes_verified: u64,
    /// Well-formed lines the server does not act on (ACKed, ignored): an
    /// unknown `type`, an `ACK` object sent to the server, or a signed PING
    /// or BYE at a server without identity (it cannot check them, so it
    /// answers `ACK` like the prototype and reports nothing).
    pub unknown_types: u64,
    /// Events that could not be delivered because the receiver was dropped.
    pub events_undelivered: u64,
    /// [`InboundEvent::Rejected`](crate::InboundEvent::Rejected) events
    /// dropped because the event channel was full (they are never waited
    /// for, so a flood cannot slow the server or the node down; the
    /// `rejected_*` counters still count every rejection).
    pub rejection_events_dropped: u64,
    /// Source addresses forgotten by the request rate limiter while their
    /// bucket was not yet full, because `rate_limit_sources` addresses were
    /// tracked (each starts again with a full bucket).
    pub rate_limit_evictions: u64,
    /// Inbound sessions established (upgrade and handshake passed) and
    /// handed to the node.
    pub sessions_accepted: u64,
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
    /// Lines rejected: a HELLO with some but not all of the signed fields,
    /// or an ACK, PING or BYE missing any of its fields.
    pub rejected_truncated_fields: u64,
    /// Signed HELLOs, PINGs and BYEs rejected: the signature does not
    /// verify under `from` (altered, or signed by another key: a spoofed
    /// `from`; Ed25519 cannot tell the two apart).
    pub rejected_bad_signature: u64,
    /// Signed HELLOs, PINGs and BYEs rejected: `to` is not this server's
    /// peer id.
    pub rejected_wrong_addressee: u64,
    /// Signed HELLOs, PINGs and BYEs rejected: `ts` outside
    /// ± `timestamp_window` of the server's clock (too old or in the future).
    pub rejected_stale_timestamp: u64,
    /// Signed HELLOs, PINGs and BYEs rejected: the (from, nonce) pair was
    /// already accepted within the window (a replay, by any of the three).
    pub rejected_replayed_nonce: u64,
    /// Connections closed at once, unread and unanswered: their source IP
    /// address already had `max_connections_per_source` connections open.
    pub rejected_per_source_limit: u64,
    /// HELLOs (legacy or signed), PINGs and BYEs rejected without reply:
    /// their source IP address exceeded its rate (`hello_rate_burst`,
    /// `hello_rate_per_sec`; one bucket per source for all three).
    pub rejected_rate_limited: u64,
    /// A `SESSION` upgrade line that is malformed, not the first line of its connection, or followed by bytes before `SESSION_OK` (`docs/wire.md` §3.8.1).
    pub rejected_bad_upgrade: u64,
    /// A `SESSION` upgrade addressed (`to`) to another peer id than this server's.
    pub rejected_upgrade_wrong_peer: u64,
    /// A `SESSION` upgrade refused before any handshake work: `max_sessions` sessions open, or `max_handshakes` handshakes in progress.
    pub rejected_session_limit: u64,
    /// A `SESSION` upgrade refused: all sources together exceeded `handshake_rate_per_sec`.
    pub rejected_handshake_rate_limited: u64,
    /// A session handshake that failed: a Noise error, a malformed binding payload, a bad binding signature, another id than the upgrade's `from`, the timeout, or I/O.
    pub rejected_handshake_failed: u64,
    /// A session handshake whose binding payload named other addresses than this connection's: a relay (or a NAT) between the peers (`docs/wire.md` §3.8.5).
    pub rejected_address_mismatch: u64,
    /// A signed HELLO, PING or BYE refused before its signature was checked: all sources together exceeded `verify_rate_per_sec`.
    pub rejected_verify_rate_limited: u64,
    /// A connection closed at once, unread: every one of the `max_connections` slots was taken and no source held two more than this one's (none had to give way).
    pub rejected_connection_limit: u64,
    /// A signed HELLO, PING or BYE refused because the replay cache was full of live entries (a live entry is never evicted: that would let its request replay; cannot happen with the default limits).
    pub rejected_replay_cache_full: u64,
    /// Connections closed to make room for a connection from a source that
    /// held fewer (all `max_connections` slots taken; the oldest connection
    /// of the source holding the most gives way).
    pub connections_evicted: u64,
    /// Connections ended by a read or write error (reset, write timeout).
    pub io_errors: u64,
    /// `accept()` failures (e.g. out of file descriptors).
    pub accept_errors: u64,
    /// Client: signed HELLOs, PINGs and BYEs answered by a signed ACK that
    /// passed every check (the peer proved its id).
    pub acks_verified: u64,
    /// Client: signed HELLOs, PINGs and BYEs answered by a plain `ACK` (a
    /// prototype, or a server without identity): acknowledged, not verified
    /// (for a BYE: not understood).
    pub acks_unverified: u64,
    /// Client: signed ACKs from another peer id than the expected one.
    pub acks_rejected_wrong_peer: u64,
    /// Client: signed ACKs addressed to another peer id than this node's.
    pub acks_rejected_wrong_addressee: u64,
    /// Client: signed ACKs whose nonce is not the request's.
    pub acks_rejected_nonce_mismatch: u64,
    /// Client: signed ACKs whose signature does not verify.
    pub acks_rejected_bad_signature: u64,
    /// Client: replies to a signed HELLO, PING or BYE that are neither `ACK`
    /// nor a valid signed ACK line.
    pub acks_rejected_malformed: u64,
}

impl TransportStats {
    /// Sum of all `rejected_*` counters: connections closed without `ACK`
    /// because of the peer's input or a per-source limit.
    pub fn rejected_total(&self) -> u64 {
        RejectReason::ALL.iter().map(|r| self.rejected(*r)).sum()
    }

    /// The counter of one rejection reason (its `rejected_*` field).
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        match reason {
            RejectReason::TooLarge => self.rejected_too_large,
            RejectReason::EofMidLine => self.rejected_eof_mid_line,
            RejectReason::ReadTimeout => self.rejected_read_timeout,
            RejectReason::BadUtf8 => self.rejected_bad_utf8,
            RejectReason::NotJson => self.rejected_not_json,
            RejectReason::NotObject => self.rejected_not_object,
            RejectReason::MissingType => self.rejected_missing_type,
            RejectReason::InvalidMessage => self.rejected_invalid_message,
            RejectReason::TruncatedFields => self.rejected_truncated_fields,
            RejectReason::BadSignature => self.rejected_bad_signature,
            RejectReason::WrongAddressee => self.rejected_wrong_addressee,
            RejectReason::StaleTimestamp => self.rejected_stale_timestamp,
            RejectReason::ReplayedNonce => self.rejected_replayed_nonce,
            RejectReason::PerSourceLimit => self.rejected_per_source_limit,
            RejectReason::RateLimited => self.rejected_rate_limited,
            RejectReason::BadUpgrade => self.rejected_bad_upgrade,
            RejectReason::UpgradeWrongPeer => self.rejected_upgrade_wrong_peer,
            RejectReason::SessionLimit => self.rejected_session_limit,
            RejectReason::HandshakeRateLimited => self.rejected_handshake_rate_limited,
            RejectReason::HandshakeFailed => self.rejected_handshake_failed,
            RejectReason::AddressMismatch => self.rejected_address_mismatch,
            RejectReason::VerifyRateLimited => self.rejected_verify_rate_limited,
            RejectReason::ConnectionLimit => self.rejected_connection_limit,
            RejectReason::ReplayCacheFull => self.rejected_replay_cache_full,
        }
    }

    /// Sum of all `acks_rejected_*` counters: replies to signed requests
    /// this node's client refused.
    pub fn acks_rejected_total(&self) -> u64 {
        self.acks_rejected_wrong_peer
            + self.acks_rejected_wrong_addressee
            + self.acks_rejected_nonce_mismatch
            + self.acks_rejected_bad_signature
            + self.acks_rejected_malformed
    }
}

/// Why the server closed a connection without `ACK`; each has its counter
/// `rejected_<reason>` in [`TransportStats`] and is reported as an
/// [`InboundEvent::Rejected`](crate::InboundEvent::Rejected).
///
/// Displays as the snake_case name of its counter without `rejected_`,
/// e.g. `too_large`, `rate_limited` ([`RejectReason::as_str`]); serde uses
/// the same name, as a JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// `max_line_bytes` reached without a newline.
    TooLarge,
    /// The stream ended in the middle of a line.
    EofMidLine,
    /// No complete line within `read_timeout` (idle or trickling peer).
    ReadTimeout,
    /// The line is not UTF-8.
    BadUtf8,
    /// The line is not JSON.
    NotJson,
    /// The line is JSON but not an object.
    NotObject,
    /// The object has no string `type`.
    MissingType,
    /// A known `type` with invalid fields.
    InvalidMessage,
    /// A HELLO with some but not all of the signed fields, or an ACK, PING
    /// or BYE missing any of its fields.
    TruncatedFields,
    /// A signed HELLO, PING or BYE whose signature does not verify under
    /// `from`.
    BadSignature,
    /// A signed HELLO, PING or BYE addressed to another peer id.
    WrongAddressee,
    /// A signed HELLO, PING or BYE whose `ts` is outside the window.
    StaleTimestamp,
    /// A signed HELLO, PING or BYE whose (from, nonce) pair was already
    /// accepted (by any of the three).
    ReplayedNonce,
    /// The source IP address already had `max_connections_per_source`
    /// connections open; closed at once, nothing read.
    PerSourceLimit,
    /// A HELLO, PING or BYE beyond its source IP address's rate
    /// (`hello_rate_burst`, `hello_rate_per_sec`).
    RateLimited,
    /// A `SESSION` upgrade line that is malformed, not the first line of its connection, or followed by bytes before `SESSION_OK` (`docs/wire.md` §3.8.1).
    BadUpgrade,
    /// A `SESSION` upgrade addressed (`to`) to another peer id than this server's.
    UpgradeWrongPeer,
    /// A `SESSION` upgrade refused before any handshake work: `max_sessions` sessions open, or `max_handshakes` handshakes in progress.
    SessionLimit,
    /// A `SESSION` upgrade refused: all sources together exceeded `handshake_rate_per_sec`.
    HandshakeRateLimited,
    /// A session handshake that failed: a Noise error, a malformed binding payload, a bad binding signature, another id than the upgrade's `from`, the timeout, or I/O.
    HandshakeFailed,
    /// A session handshake whose binding payload named other addresses than this connection's: a relay (or a NAT) between the peers (`docs/wire.md` §3.8.5).
    AddressMismatch,
    /// A signed HELLO, PING or BYE refused before its signature was checked: all sources together exceeded `verify_rate_per_sec`.
    VerifyRateLimited,
    /// A connection closed at once, unread: every one of the `max_connections` slots was taken and no source held two more than this one's (none had to give way).
    ConnectionLimit,
    /// A signed HELLO, PING or BYE refused because the replay cache was full of live entries (a live entry is never evicted: that would let its request replay; cannot happen with the default limits).
    ReplayCacheFull,
}

/// Number of [`RejectReason`] reasons.
const REJECT_REASONS: usize = 24;

impl RejectReason {
    /// Every reason, in the order of the `rejected_*` counters.
    pub const ALL: [RejectReason; REJECT_REASONS] = [
        RejectReason::TooLarge,
        RejectReason::EofMidLine,
        RejectReason::ReadTimeout,
        RejectReason::BadUtf8,
        RejectReason::NotJson,
        RejectReason::NotObject,
        RejectReason::MissingType,
        RejectReason::InvalidMessage,
        RejectReason::TruncatedFields,
        RejectReason::BadSignature,
        RejectReason::WrongAddressee,
        RejectReason::StaleTimestamp,
        RejectReason::ReplayedNonce,
        RejectReason::PerSourceLimit,
        RejectReason::RateLimited,
        RejectReason::BadUpgrade,
        RejectReason::UpgradeWrongPeer,
        RejectReason::SessionLimit,
        RejectReason::HandshakeRateLimited,
        RejectReason::HandshakeFailed,
        RejectReason::AddressMismatch,
        RejectReason::VerifyRateLimited,
        RejectReason::ConnectionLimit,
        RejectReason::ReplayCacheFull,
    ];

    /// The reason's snake_case name, as displayed, e.g. `read_timeout`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::TooLarge => "too_large",
            RejectReason::EofMidLine => "eof_mid_line",
            RejectReason::ReadTimeout => "read_timeout",
            RejectReason::BadUtf8 => "bad_utf8",
            RejectReason::NotJson => "not_json",
            RejectReason::NotObject => "not_object",
            RejectReason::MissingType => "missing_type",
            RejectReason::InvalidMessage => "invalid_message",
            RejectReason::TruncatedFields => "truncated_fields",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::WrongAddressee => "wrong_addressee",
            RejectReason::StaleTimestamp => "stale_timestamp",
            RejectReason::ReplayedNonce => "replayed_nonce",
            RejectReason::PerSourceLimit => "per_source_limit",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::BadUpgrade => "bad_upgrade",
            RejectReason::UpgradeWrongPeer => "upgrade_wrong_peer",
            RejectReason::SessionLimit => "session_limit",
            RejectReason::HandshakeRateLimited => "handshake_rate_limited",
            RejectReason::HandshakeFailed => "handshake_failed",
            RejectReason::AddressMismatch => "address_mismatch",
            RejectReason::VerifyRateLimited => "verify_rate_limited",
            RejectReason::ConnectionLimit => "connection_limit",
            RejectReason::ReplayCacheFull => "replay_cache_full",
        }
    }

    pub(crate) fn from_parse(error: &ParseError) -> RejectReason {
        match error {
            ParseError::BadUtf8 { .. } => RejectReason::BadUtf8,
            ParseError::NotJson { .. } => RejectReason::NotJson,
            ParseError::NotObject { .. } => RejectReason::NotObject,
            ParseError::MissingType => RejectReason::MissingType,
            ParseError::InvalidMessage { .. } => RejectReason::InvalidMessage,
            ParseError::TruncatedFields { .. } => RejectReason::TruncatedFields,
        }
    }

    /// Peer misbehaviour worth a warning; the others are ordinary hang-ups
    /// or flood limits (logged at `debug`: under a flood a line per
    /// connection would flood the log; they are counted and reported).
    pub(crate) fn is_protocol_violation(self) -> bool {
        !matches!(
            self,
            RejectReason::EofMidLine
                | RejectReason::ReadTimeout
                | RejectReason::PerSourceLimit
                | RejectReason::RateLimited
                | RejectReason::SessionLimit
                | RejectReason::HandshakeRateLimited
                | RejectReason::VerifyRateLimited
                | RejectReason::ConnectionLimit
                | RejectReason::ReplayCacheFull
        )
    }
}

/// Prints [`RejectReason::as_str`], the reason used in log fields and events.
impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The live counters shared by the accept loop and connection tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) lines_acked: AtomicU64,
    pub(crate) hellos: AtomicU64,
    pub(crate) hellos_verified: AtomicU64,
    pub(crate) pings_verified: AtomicU64,
    pub(crate) byes_verified: AtomicU64,
    pub(crate) unknown_types: AtomicU64,
    pub(crate) events_undelivered: AtomicU64,
    pub(crate) rejection_events_dropped: AtomicU64,
    pub(crate) rate_limit_evictions: AtomicU64,
    pub(crate) sessions_accepted: AtomicU64,
    pub(crate) connections_evicted: AtomicU64,
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_peak: AtomicU64,
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

    pub(crate) fn reject(&self, reason: RejectReason) {
        Counters::bump(&self.rejected[reason as usize]);
    }

    /// A connection started being served: raises the high-water mark.
    pub(crate) fn connection_opened(&self) {
        let open = self.connections_open.fetch_add(1, Ordering::Relaxed) + 1;
        self.connections_peak.fetch_max(open, Ordering::Relaxed);
    }

    /// A connection counted by [`Counters::connection_opened`] ended.
    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a refused reply to a signed request: a failed check, or `None`
    /// for a malformed reply.
    pub(crate) fn reject_ack(&self, reason: Option<&AckRejection>) {
        Counters::bump(&self.acks_rejected[ack_rejection_index(reason)]);
    }

    pub(crate) fn snapshot(&self) -> TransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rejected = |r: RejectReason| get(&self.rejected[r as usize]);
        let acks_rejected = |i: usize| get(&self.acks_rejected[i]);
        TransportStats {
            connections_accepted: get(&self.connections_accepted),
            connections_open: get(&self.connections_open),
            connections_peak: get(&self.connections_peak),
            lines_acked: get(&self.lines_acked),
            hellos: get(&self.hellos),
            hellos_verified: get(&self.hellos_verified),
            pings_verified: get(&self.pings_verified),
            byes_verified: get(&self.byes_verified),
            unknown_types: get(&self.unknown_types),
            events_undelivered: get(&self.events_undelivered),
            rejection_events_dropped: get(&self.rejection_events_dropped),
            rate_limit_evictions: get(&self.rate_limit_evictions),
            sessions_accepted: get(&self.sessions_accepted),
            connections_evicted: get(&self.connections_evicted),
            rejected_too_large: rejected(RejectReason::TooLarge),
            rejected_eof_mid_line: rejected(RejectReason::EofMidLine),
            rejected_read_timeout: rejected(RejectReason::ReadTimeout),
            rejected_bad_utf8: rejected(RejectReason::BadUtf8),
            rejected_not_json: rejected(RejectReason::NotJson),
            rejected_not_object: rejected(RejectReason::NotObject),
            rejected_missing_type: rejected(RejectReason::MissingType),
            rejected_invalid_message: rejected(RejectReason::InvalidMessage),
            rejected_truncated_fields: rejected(RejectReason::TruncatedFields),
            rejected_bad_signature: rejected(RejectReason::BadSignature),
            rejected_wrong_addressee: rejected(RejectReason::WrongAddressee),
            rejected_stale_timestamp: rejected(RejectReason::StaleTimestamp),
            rejected_replayed_nonce: rejected(RejectReason::ReplayedNonce),
            rejected_per_source_limit: rejected(RejectReason::PerSourceLimit),
            rejected_rate_limited: rejected(RejectReason::RateLimited),
            rejected_bad_upgrade: rejected(RejectReason::BadUpgrade),
            rejected_upgrade_wrong_peer: rejected(RejectReason::UpgradeWrongPeer),
            rejected_session_limit: rejected(RejectReason::SessionLimit),
            rejected_handshake_rate_limited: rejected(RejectReason::HandshakeRateLimited),
            rejected_handshake_failed: rejected(RejectReason::HandshakeFailed),
            rejected_address_mismatch: rejected(RejectReason::AddressMismatch),
            rejected_verify_rate_limited: rejected(RejectReason::VerifyRateLimited),
            rejected_connection_limit: rejected(RejectReason::ConnectionLimit),
            rejected_replay_cache_full: rejected(RejectReason::ReplayCacheFull),
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
    fn serde_name_is_as_str() {
        for reason in RejectReason::ALL {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()), "{reason:?}");
            let back: RejectReason = serde_json::from_str(&json).unwrap();
            assert_eq!(back, reason);
        }
        assert!(serde_json::from_str::<RejectReason>("\"TooLarge\"").is_err());
    }

    #[test]
    fn each_reason_has_its_own_counter() {
        let counters = Counters::default();
        let reasons = [
            (RejectReason::TooLarge, 1),
            (RejectReason::EofMidLine, 2),
            (RejectReason::ReadTimeout, 3),
            (RejectReason::BadUtf8, 4),
            (RejectReason::NotJson, 5),
            (RejectReason::NotObject, 6),
            (RejectReason::MissingType, 7),
            (RejectReason::InvalidMessage, 8),
            (RejectReason::TruncatedFields, 9),
            (RejectReason::BadSignature, 10),
            (RejectReason::WrongAddressee, 11),
            (RejectReason::StaleTimestamp, 12),
            (RejectReason::ReplayedNonce, 13),
            (RejectReason::PerSourceLimit, 14),
            (RejectReason::RateLimited, 15),
            (RejectReason::BadUpgrade, 16),
            (RejectReason::UpgradeWrongPeer, 17),
            (RejectReason::SessionLimit, 18),
            (RejectReason::HandshakeRateLimited, 19),
            (RejectReason::HandshakeFailed, 20),
            (RejectReason::AddressMismatch, 21),
            (RejectReason::VerifyRateLimited, 22),
            (RejectReason::ConnectionLimit, 23),
            (RejectReason::ReplayCacheFull, 24),
        ];
        for (reason, times) in reasons {
            for _ in 0..times {
                counters.reject(reason);
            }
        }
        let s = counters.snapshot();
        let got = RejectReason::ALL.map(|r| s.rejected(r));
        let want: [u64; 24] = std::array::from_fn(|i| i as u64 + 1);
        assert_eq!(got, want);
        assert_eq!(s.rejected_total(), 300);
    }

    #[test]
    fn peak_is_the_high_water_mark_of_open_connections() {
        let counters = Counters::default();
        for _ in 0..3 {
            counters.connection_opened();
        }
        counters.connection_closed();
        counters.connection_closed();
        counters.connection_opened();
        let s = counters.snapshot();
        assert_eq!((s.connections_open, s.connections_peak), (2, 3));
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
