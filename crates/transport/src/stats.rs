//! Server counters: atomics updated by connection tasks, read as a
//! [`TransportStats`] snapshot.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ParseError;

/// A snapshot of a [`Server`](crate::Server)'s counters since it started.
///
/// Each counter is read atomically but the snapshot as a whole is not: read
/// during traffic, two counters may be a few events apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// TCP connections accepted.
    pub connections_accepted: u64,
    /// Lines answered with `ACK` (HELLOs and unknown types).
    pub lines_acked: u64,
    /// Valid HELLO lines received.
    pub hellos: u64,
    /// Well-formed lines with an unknown `type` (ACKed, not acted on).
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
    /// Lines rejected: known `type` with invalid fields (e.g. a bad `from`).
    pub rejected_invalid_message: u64,
    /// Connections ended by a read or write error (reset, write timeout).
    pub io_errors: u64,
    /// `accept()` failures (e.g. out of file descriptors).
    pub accept_errors: u64,
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
}

impl Reject {
    pub(crate) fn from_parse(error: &ParseError) -> Reject {
        match error {
            ParseError::BadUtf8 { .. } => Reject::BadUtf8,
            ParseError::NotJson { .. } => Reject::NotJson,
            ParseError::NotObject { .. } => Reject::NotObject,
            ParseError::MissingType => Reject::MissingType,
            ParseError::InvalidMessage { .. } => Reject::InvalidMessage,
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
        })
    }
}

/// The live counters shared by the accept loop and connection tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) lines_acked: AtomicU64,
    pub(crate) hellos: AtomicU64,
    pub(crate) unknown_types: AtomicU64,
    pub(crate) events_undelivered: AtomicU64,
    pub(crate) io_errors: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    rejected: [AtomicU64; 8],
}

impl Counters {
    /// Adds one to `counter` (relaxed: counters order nothing).
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reject(&self, reason: Reject) {
        Counters::bump(&self.rejected[reason as usize]);
    }

    pub(crate) fn snapshot(&self) -> TransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rejected = |r: Reject| get(&self.rejected[r as usize]);
        TransportStats {
            connections_accepted: get(&self.connections_accepted),
            lines_acked: get(&self.lines_acked),
            hellos: get(&self.hellos),
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
            io_errors: get(&self.io_errors),
            accept_errors: get(&self.accept_errors),
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
        ];
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(s.rejected_total(), 36);
    }
}
