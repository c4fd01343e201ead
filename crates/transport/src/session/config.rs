//! [`SessionConfig`]: the message layer's limits and timeouts, and
//! [`SessionStats`], its counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Default message limit: 1 MiB (1,048,576 bytes).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Highest message limit: 64 MiB (a message's length is a u32; this keeps
/// one message's reassembly within a sane amount of memory).
pub const MAX_MAX_MESSAGE_BYTES: usize = 64 << 20;
/// Messages (and requests) awaiting their receipt (or response) on one
/// session, at most: 256. Also the wire limit (`docs/wire.md` §3.9.4): a
/// peer with more outstanding overflows the receiver's reply queue and its
/// session is closed.
pub const MAX_IN_FLIGHT: usize = 256;
/// Default time for a receipt: 10 s.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for a response: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default idle time (no frame either way) before a session is closed: 5 min.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default wait, once closing began, for what is in flight: 2 s.
pub const DEFAULT_CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Unanswered `PING`s a peer may have on one session (`docs/wire.md` §3.9.5).
pub const MAX_PINGS_IN_FLIGHT: usize = 16;

/// Limits and timeouts of the message layer over one session. Public
/// fields with `with_*` setters; [`validate`](Self::validate) checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Largest message or response sent or accepted, in bytes (default 1 MiB,
    /// at most [`MAX_MAX_MESSAGE_BYTES`]). A larger incoming one is skipped
    /// and refused with a `TooLarge` receipt; the session stays up.
    pub max_message_bytes: usize,
    /// Messages and requests awaiting a receipt or response at once
    /// (default and maximum [`MAX_IN_FLIGHT`]); further sends wait for a
    /// place (back-pressure).
    pub max_in_flight: usize,
    /// How long `send` waits for the receipt (default 10 s).
    pub send_timeout: Duration,
    /// How long `request` waits for the response (default 30 s).
    pub request_timeout: Duration,
    /// A session with no frame either way for this long is closed (default
    /// 5 min). Keep-alives count: while the node checks a peer's liveness
    /// over its session, the session stays up.
    pub idle_timeout: Duration,
    /// Once closing began, how long messages in flight may take before the
    /// connection is dropped (default 2 s).
    pub close_grace: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_in_flight: MAX_IN_FLIGHT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            close_grace: DEFAULT_CLOSE_GRACE,
        }
    }
}

/// A [`SessionConfig`] setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session setting `{field}` out of range: {reason}")]
pub struct SessionConfigError {
    /// The field.
    pub field: &'static str,
    /// The allowed range.
    pub reason: &'static str,
}

impl SessionConfig {
    /// Sets [`max_message_bytes`](Self::max_message_bytes).
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Sets [`max_in_flight`](Self::max_in_flight).
    pub fn with_max_in_flight(mut self, messages: usize) -> Self {
        self.max_in_flight = messages;
        self
    }

    /// Sets [`send_timeout`](Self::send_timeout).
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`close_grace`](Self::close_grace).
    pub fn with_close_grace(mut self, grace: Duration) -> Self {
        self.close_grace = grace;
        self
    }

    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// [`SessionConfigError`] for the first setting out of range:
    /// `max_message_bytes` 1 ..= 64 MiB, `max_in_flight` 1 ..= 256, each
    /// timeout 1 ms ..= 24 h.
    pub fn validate(&self) -> Result<(), SessionConfigError> {
        let err = |field, reason| Err(SessionConfigError { field, reason });
        if !(1..=MAX_MAX_MESSAGE_BYTES).contains(&self.max_message_bytes) {
            return err("max_message_bytes", "1 ..= 64 MiB");
        }
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return err("max_in_flight", "1 ..= 256");
        }
        let range = Duration::from_millis(1)..=crate::config::MAX_TIMEOUT;
        for (field, value) in [
            ("send_timeout", self.send_timeout),
            ("request_timeout", self.request_timeout),
            ("idle_timeout", self.idle_timeout),
            ("close_grace", self.close_grace),
        ] {
            if !range.contains(&value) {
                return err(field, "1 ms ..= 24 h");
            }
        }
        Ok(())
    }
}

/// Counters of the message layer, over every session of a node (or of the
/// [`Link`](super::Link)s sharing one [`SessionCounters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Sessions started (as initiator or responder).
    pub sessions_opened: u64,
    /// Sessions ended, for any reason.
    pub sessions_closed: u64,
    /// Sessions closed because the peer broke the message layer's rules (a
    /// malformed record, a bad chunk sequence, too many replies owed).
    pub protocol_violations: u64,
    /// Sessions closed by a frame that failed decryption.
    pub decrypt_failures: u64,
    /// Messages and requests written.
    pub messages_sent: u64,
    /// Messages and requests received and queued for the application.
    pub messages_delivered: u64,
    /// Received messages refused: no one serves the protocol.
    pub refused_no_protocol: u64,
    /// Received messages refused: the protocol's queue was full.
    pub refused_busy: u64,
    /// Received messages refused: above `max_message_bytes`.
    pub refused_too_large: u64,
    /// Keep-alive `PING`s received (and answered).
    pub keepalives_received: u64,
    /// Receipts, responses and pongs for nothing we wait for (late, after
    /// a timeout, or bogus); ignored.
    pub unmatched_replies: u64,
}

/// The atomics behind [`SessionStats`]; share one `Arc` among links.
#[derive(Debug, Default)]
pub struct SessionCounters {
    pub(crate) sessions_opened: AtomicU64,
    pub(crate) sessions_closed: AtomicU64,
    pub(crate) protocol_violations: AtomicU64,
    pub(crate) decrypt_failures: AtomicU64,
    pub(crate) messages_sent: AtomicU64,
    pub(crate) messages_delivered: AtomicU64,
    pub(crate) refused_no_protocol: AtomicU64,
    pub(crate) refused_busy: AtomicU64,
    pub(crate) refused_too_large: AtomicU64,
    pub(crate) unmatched_replies: AtomicU64,
    pub(crate) keepalives_received: AtomicU64,
}

impl SessionCounters {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot (each counter read atomically, not the whole).
    pub fn snapshot(&self) -> SessionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SessionStats {
            sessions_opened: get(&self.sessions_opened),
            sessions_closed: get(&self.sessions_closed),
            protocol_violations: get(&self.protocol_violations),
            decrypt_failures: get(&self.decrypt_failures),
            messages_sent: get(&self.messages_sent),
            messages_delivered: get(&self.messages_delivered),
            refused_no_protocol: get(&self.refused_no_protocol),
            refused_busy: get(&self.refused_busy),
            refused_too_large: get(&self.refused_too_large),
            unmatched_replies: get(&self.unmatched_replies),
            keepalives_received: get(&self.keepalives_received),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_table() {
        let ok = SessionConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        let cases = [
            (ok.with_max_message_bytes(0), "max_message_bytes"),
            (
                ok.with_max_message_bytes(MAX_MAX_MESSAGE_BYTES + 1),
                "max_message_bytes",
            ),
            (ok.with_max_in_flight(0), "max_in_flight"),
            (ok.with_max_in_flight(MAX_IN_FLIGHT + 1), "max_in_flight"),
            (ok.with_send_timeout(Duration::ZERO), "send_timeout"),
            (
                ok.with_request_timeout(Duration::from_secs(90_000)),
                "request_timeout",
            ),
            (ok.with_idle_timeout(Duration::ZERO), "idle_timeout"),
            (ok.with_close_grace(Duration::ZERO), "close_grace"),
        ];
        for (config, field) in cases {
            assert_eq!(config.validate().unwrap_err().field, field);
        }
    }
}
