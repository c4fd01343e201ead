//! [`TransportConfig`] (also at the crate root) and the constants beside it:
//! the defaults it starts from (`DEFAULT_*`) and the bounds its validation
//! enforces (`MIN_LINE_BYTES`, `MAX_*`). A node only needs
//! [`TransportConfig`]; these constants are for code that sets a limit
//! relative to the default or up to its bound (benches, load tests, tools).
//! The values are explained in `docs/transport.md`.

use std::time::Duration;

use crate::error::ConfigError;
use crate::message::MAX_LINE_BYTES;

/// Default line limit in bytes, newline included: the wire limit of
/// `docs/wire.md` (the Python prototype's `MESSAGE_SIZE_LIMIT`).
pub const DEFAULT_MAX_LINE_BYTES: usize = MAX_LINE_BYTES;
/// Smallest accepted `max_line_bytes`: room for a HELLO line (91 bytes)
/// with some to spare.
pub const MIN_LINE_BYTES: usize = 128;
/// Largest accepted `max_line_bytes` (1 MiB), bounding per-connection memory.
pub const MAX_MAX_LINE_BYTES: usize = 1 << 20;
/// Default time the server waits for one complete line: 5000 ms, the
/// prototype's read timeout.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_millis(5000);
/// Default time the client waits for the TCP connection: 3000 ms.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3000);
/// Default time allowed for writing one line (client and server): 5000 ms.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_millis(5000);
/// Default time the client waits for the `ACK` line after writing: 5000 ms
/// (a peer that received a line answers or gives up within its 5 s read timeout).
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_millis(5000);
/// Default time in-flight connections get to finish on shutdown: 2000 ms.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_millis(2000);
/// Default maximum number of connections served at once: 256.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default tolerance for a signed HELLO's timestamp: ±30 000 ms around the
/// receiver's clock (`docs/wire.md` §3.6). Also how long a nonce is
/// remembered for replay detection.
pub const DEFAULT_TIMESTAMP_WINDOW: Duration = Duration::from_secs(30);
/// Default number of (sender, nonce) pairs the replay cache holds: 12,288.
/// A live entry is never evicted (a full cache refuses instead), so the
/// capacity must exceed what can be live: at most `verify_rate_per_sec`
/// (200) admitted per second, each live for at most twice the window
/// (60 s): 12,000. About 2 MB when full, under a flood at the maximum rate.
pub const DEFAULT_REPLAY_CACHE_CAPACITY: usize = 12_288;
/// Largest accepted `replay_cache_capacity` (about 100 bytes per entry).
pub const MAX_REPLAY_CACHE_CAPACITY: usize = 1 << 20;
/// Largest accepted `max_connections`.
pub const MAX_MAX_CONNECTIONS: usize = 65_536;
/// Default maximum number of connections served at once from one source IP
/// address: 16. Further connections from it are closed at once, unanswered.
pub const DEFAULT_MAX_CONNECTIONS_PER_SOURCE: usize = 16;
/// Default number of HELLOs, PINGs and BYEs (together) one source IP address
/// may send in a burst: 20 (the token bucket's capacity).
pub const DEFAULT_HELLO_RATE_BURST: usize = 20;
/// Default sustained rate of HELLOs, PINGs and BYEs (together) per source IP
/// address: 10 per second (the token bucket's refill rate).
pub const DEFAULT_HELLO_RATE_PER_SEC: usize = 10;
/// Default number of source IP addresses whose request rate is tracked: 4096
/// (about 50 bytes each).
pub const DEFAULT_RATE_LIMIT_SOURCES: usize = 4096;
/// Largest accepted `hello_rate_burst`, `hello_rate_per_sec` and
/// `rate_limit_sources`.
pub const MAX_RATE_LIMIT_SETTING: usize = 1 << 20;
/// Default bound on a session handshake, from the `SESSION` line to the
/// last Noise message (`docs/wire.md` §3.8.1): 2000 ms. A LAN handshake takes
/// well under 1 ms; the bound only frees a slot held by a stalled peer.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(2000);
/// Default cap on open sessions (inbound and outbound): 256, one per peer
/// for a large LAN; each idle session costs a few KiB (`docs/performance.md`).
pub const DEFAULT_MAX_SESSIONS: usize = 256;
/// Default cap on inbound sessions from one source address: 8, enough for
/// several nodes on one host, far from `max_sessions`, so one host minting
/// ids cannot take every slot.
pub const DEFAULT_MAX_SESSIONS_PER_SOURCE: usize = 8;
/// Default cap on inbound handshakes in progress at once: 32.
pub const DEFAULT_MAX_HANDSHAKES: usize = 32;
/// Default rate of inbound handshakes started, all sources together: 200 per
/// second (burst 200). Each costs about 0.2 ms of CPU (three X25519, an
/// Ed25519 signature and a verification), so at most ~4 % of a core.
pub const DEFAULT_HANDSHAKE_RATE_PER_SEC: usize = 200;

/// Default rate of signed HELLO, PING and BYE verifications, all sources
/// together: 200 per second (burst 200). Each costs about 43 µs of Ed25519
/// verification plus 18 µs to sign the ACK, so at most ~1.2 % of a core
/// (`docs/security.md`, "Limits"); a LAN of 16 nodes needs a few per
/// second (liveness runs over sessions). It also bounds how fast the
/// replay cache can fill ([`DEFAULT_REPLAY_CACHE_CAPACITY`]).
pub const DEFAULT_VERIFY_RATE_PER_SEC: usize = 200;

/// Largest accepted timeout or grace period: 24 h.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Limits and timeouts of the transport: public fields, [`Default`] with
/// the documented values, `with_*` setters, and [`validate`](Self::validate),
/// which [`Listener::bind`](crate::Listener::bind), [`Greeter::new`](crate::Greeter::new)
/// and the one-shot `test-support` helpers run before any socket is opened.
///
/// | setting | default | range | used by |
/// |---|---|---|---|
/// | `max_line_bytes` | 1024 bytes (newline included) | 128..=1048576 | server reads, client writes and reply reads |
/// | `read_timeout` | 5000 ms per line | 1 ms..=24 h | server |
/// | `connect_timeout` | 3000 ms | 1 ms..=24 h | client |
/// | `write_timeout` | 5000 ms per line | 1 ms..=24 h | client and server (`ACK`) |
/// | `ack_timeout` | 5000 ms | 1 ms..=24 h | client |
/// | `shutdown_grace` | 2000 ms | 1 ms..=24 h | server shutdown |
/// | `max_connections` | 256 | 1..=65536 | server |
/// | `timestamp_window` | ±30 000 ms | 1 ms..=24 h | server (signed HELLO, PING, BYE) |
/// | `replay_cache_capacity` | 12288 entries (never evicts a live one) | 1..=1048576 | server (signed HELLO, PING, BYE) |
/// | `max_connections_per_source` | 16 | 1..=65536 | server |
/// | `hello_rate_burst` | 20 HELLOs, PINGs and BYEs | 1..=1048576 | server, per source IP |
/// | `hello_rate_per_sec` | 10 HELLOs, PINGs and BYEs per s | 1..=1048576 | server, per source IP |
/// | `rate_limit_sources` | 4096 source IPs | 1..=1048576 | server |
/// | `handshake_timeout` | 2000 ms | 1 ms..=24 h | server (inbound session handshakes) |
/// | `max_sessions` | 256 | 1..=65536 | server and node (all sessions) |
/// | `max_sessions_per_source` | 8 | 1..=65536 | server (inbound sessions per source IP) |
/// | `max_handshakes` | 32 at once | 1..=65536 | server |
/// | `handshake_rate_per_sec` | 200 per s, all sources | 1..=1048576 | server |
/// | `verify_rate_per_sec` | 200 signed requests per s, all sources | 1..=1048576 | server |
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Duration;
/// use tazcom_transport::{ConfigError, Listener, TransportConfig, TransportError};
///
/// let config = TransportConfig::default().with_read_timeout(Duration::from_millis(200));
/// assert_eq!(config.max_line_bytes, 1024);
/// assert!(config.validate().is_ok());
///
/// // Refused before any socket is opened.
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
/// let bad = TransportConfig::default().with_max_line_bytes(63);
/// assert!(matches!(
///     Listener::bind(addr, bad).await,
///     Err(TransportError::Config(ConfigError::LineLimitOutOfRange { value: 63, .. }))
/// ));
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Longest line accepted or sent, in bytes, newline included;
    /// [`MIN_LINE_BYTES`]..=[`MAX_MAX_LINE_BYTES`] (128..=1048576).
    /// Default 1024 ([`DEFAULT_MAX_LINE_BYTES`], the wire limit).
    pub max_line_bytes: usize,
    /// Server: longest wait for one complete line, counted from accept or
    /// from the end of the previous line; also the idle timeout. 1 ms..=24 h.
    /// Default 5000 ms ([`DEFAULT_READ_TIMEOUT`]).
    pub read_timeout: Duration,
    /// Client: longest wait for the TCP connection to be established.
    /// 1 ms..=24 h. Default 3000 ms ([`DEFAULT_CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
    /// Client and server: longest time to write one line. 1 ms..=24 h.
    /// Default 5000 ms ([`DEFAULT_WRITE_TIMEOUT`]).
    pub write_timeout: Duration,
    /// Client: longest wait for the complete reply line after writing.
    /// 1 ms..=24 h. Default 5000 ms ([`DEFAULT_ACK_TIMEOUT`]).
    pub ack_timeout: Duration,
    /// Server: how long in-flight connections may run after
    /// [`Server::shutdown`](crate::Server::shutdown) before they are aborted.
    /// 1 ms..=24 h. Default 2000 ms ([`DEFAULT_SHUTDOWN_GRACE`]).
    pub shutdown_grace: Duration,
    /// Server: connections served at once; further connections wait in the
    /// OS accept backlog until one finishes. 1..=[`MAX_MAX_CONNECTIONS`]
    /// (65536). Default 256 ([`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// Server with an identity: a signed HELLO, PING or BYE is accepted only
    /// if its `ts` is within ± this of the server's clock; a (sender, nonce)
    /// pair is remembered until its `ts` leaves the window (`docs/wire.md`
    /// §3.6, §3.7). Peers' clocks must agree to within this. 1 ms..=24 h.
    /// Default ±30 000 ms ([`DEFAULT_TIMESTAMP_WINDOW`]).
    pub timestamp_window: Duration,
    /// Server with an identity: the most (sender, nonce) pairs remembered
    /// to detect replayed signed HELLOs, PINGs and BYEs; when full of live
    /// entries, new requests are refused (`replay_cache_full`), never a live
    /// entry evicted (that would let it replay). Entries,
    /// 1..=[`MAX_REPLAY_CACHE_CAPACITY`] (1048576). Default 12,288
    /// ([`DEFAULT_REPLAY_CACHE_CAPACITY`]: more than the 12,000 the default
    /// `verify_rate_per_sec` can make live).
    pub replay_cache_capacity: usize,
    /// Server: connections served at once from one source IP address (all
    /// ports). A connection beyond it is accepted and closed at once,
    /// unanswered, and counted (`rejected_per_source_limit`), so one host
    /// cannot take every slot of [`max_connections`](Self::max_connections).
    /// 1..=[`MAX_MAX_CONNECTIONS`] (65536). Default 16
    /// ([`DEFAULT_MAX_CONNECTIONS_PER_SOURCE`]).
    pub max_connections_per_source: usize,
    /// Server: the most HELLOs (legacy or signed), PINGs and BYEs, together,
    /// one source IP address may send back to back; the capacity of its
    /// token bucket (one bucket for all three). Requests,
    /// 1..=[`MAX_RATE_LIMIT_SETTING`] (1048576). Default 20
    /// ([`DEFAULT_HELLO_RATE_BURST`]).
    pub hello_rate_burst: usize,
    /// Server: HELLOs, PINGs and BYEs (together) per second one source IP
    /// address may send in the long run; the refill rate of its token
    /// bucket. A request finding the bucket empty is rejected without reply
    /// (`rejected_rate_limited`), before its signature is checked. Requests
    /// per second, 1..=[`MAX_RATE_LIMIT_SETTING`] (1048576). Default 10
    /// ([`DEFAULT_HELLO_RATE_PER_SEC`]).
    pub hello_rate_per_sec: usize,
    /// Server: the most source IP addresses whose request rate is tracked at
    /// once. Entries whose bucket has refilled are forgotten first; when all
    /// are busy, the least recently seen source is forgotten (counted in
    /// `rate_limit_evictions`) and starts again with a full bucket.
    /// Addresses, 1..=[`MAX_RATE_LIMIT_SETTING`] (1048576). Default 4096
    /// ([`DEFAULT_RATE_LIMIT_SOURCES`]).
    pub rate_limit_sources: usize,
    /// Bound on an inbound session handshake (`docs/wire.md` §3.8), 1 ms..=24 h.
    /// Default 2000 ms ([`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub handshake_timeout: Duration,
    /// Sessions open at once, inbound and outbound together; an upgrade
    /// beyond it is refused before any handshake work (`session_limit`).
    /// 1..=[`MAX_MAX_CONNECTIONS`]. Default 256 ([`DEFAULT_MAX_SESSIONS`]).
    pub max_sessions: usize,
    /// Inbound sessions open at once from one source address (an IPv4
    /// address, or an IPv6 /64); an upgrade beyond it is refused before any
    /// handshake work (`session_limit`). 1..=[`MAX_MAX_CONNECTIONS`].
    /// Default 8 ([`DEFAULT_MAX_SESSIONS_PER_SOURCE`]).
    pub max_sessions_per_source: usize,
    /// Inbound handshakes in progress at once; beyond, refused
    /// (`session_limit`). 1..=[`MAX_MAX_CONNECTIONS`]. Default 32
    /// ([`DEFAULT_MAX_HANDSHAKES`]).
    pub max_handshakes: usize,
    /// Inbound handshakes started per second, all sources together (a token
    /// bucket with a burst of the same size); beyond, refused
    /// (`handshake_rate_limited`). Each source's upgrades also take from its
    /// request bucket (`hello_rate_*`). 1..=[`MAX_RATE_LIMIT_SETTING`].
    /// Default 200 ([`DEFAULT_HANDSHAKE_RATE_PER_SEC`]).
    pub handshake_rate_per_sec: usize,
    /// Signed HELLOs, PINGs and BYEs verified per second, all sources
    /// together (a token bucket with a burst of the same size), so forced
    /// Ed25519 work has a global bound whatever the number of sources;
    /// beyond, refused (`verify_rate_limited`) before the signature is
    /// checked. 1..=[`MAX_RATE_LIMIT_SETTING`]. Default 200
    /// ([`DEFAULT_VERIFY_RATE_PER_SEC`]); with a higher rate, raise
    /// `replay_cache_capacity` to at least rate × 2 × window.
    pub verify_rate_per_sec: usize,
}

impl Default for TransportConfig {
    /// The defaults of the table above, compatible with the Python prototype.
    fn default() -> TransportConfig {
        TransportConfig {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            read_timeout: DEFAULT_READ_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            timestamp_window: DEFAULT_TIMESTAMP_WINDOW,
            replay_cache_capacity: DEFAULT_REPLAY_CACHE_CAPACITY,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
            hello_rate_burst: DEFAULT_HELLO_RATE_BURST,
            hello_rate_per_sec: DEFAULT_HELLO_RATE_PER_SEC,
            rate_limit_sources: DEFAULT_RATE_LIMIT_SOURCES,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_sessions_per_source: DEFAULT_MAX_SESSIONS_PER_SOURCE,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            handshake_rate_per_sec: DEFAULT_HANDSHAKE_RATE_PER_SEC,
            verify_rate_per_sec: DEFAULT_VERIFY_RATE_PER_SEC,
        }
    }
}

impl TransportConfig {
    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`max_sessions`](Self::max_sessions).
    pub fn with_max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// Sets [`max_sessions_per_source`](Self::max_sessions_per_source).
    pub fn with_max_sessions_per_source(mut self, sessions: usize) -> Self {
        self.max_sessions_per_source = sessions;
        self
    }

    /// Sets [`max_handshakes`](Self::max_handshakes).
    pub fn with_max_handshakes(mut self, handshakes: usize) -> Self {
        self.max_handshakes = handshakes;
        self
    }

    /// Sets [`handshake_rate_per_sec`](Self::handshake_rate_per_sec).
    pub fn with_handshake_rate_per_sec(mut self, handshakes_per_sec: usize) -> Self {
        self.handshake_rate_per_sec = handshakes_per_sec;
        self
    }

    /// Sets [`verify_rate_per_sec`](Self::verify_rate_per_sec).
    pub fn with_verify_rate_per_sec(mut self, verifications_per_sec: usize) -> Self {
        self.verify_rate_per_sec = verifications_per_sec;
        self
    }

    /// Sets [`max_line_bytes`](Self::max_line_bytes).
    pub fn with_max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Sets [`read_timeout`](Self::read_timeout).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`write_timeout`](Self::write_timeout).
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`ack_timeout`](Self::ack_timeout).
    pub fn with_ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// Sets [`shutdown_grace`](Self::shutdown_grace).
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    pub fn with_max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Sets [`timestamp_window`](Self::timestamp_window).
    pub fn with_timestamp_window(mut self, window: Duration) -> Self {
        self.timestamp_window = window;
        self
    }

    /// Sets [`replay_cache_capacity`](Self::replay_cache_capacity).
    pub fn with_replay_cache_capacity(mut self, entries: usize) -> Self {
        self.replay_cache_capacity = entries;
        self
    }

    /// Sets [`max_connections_per_source`](Self::max_connections_per_source).
    pub fn with_max_connections_per_source(mut self, connections: usize) -> Self {
        self.max_connections_per_source = connections;
        self
    }

    /// Sets [`hello_rate_burst`](Self::hello_rate_burst).
    pub fn with_hello_rate_burst(mut self, requests: usize) -> Self {
        self.hello_rate_burst = requests;
        self
    }

    /// Sets [`hello_rate_per_sec`](Self::hello_rate_per_sec).
    pub fn with_hello_rate_per_sec(mut self, requests_per_sec: usize) -> Self {
        self.hello_rate_per_sec = requests_per_sec;
        self
    }

    /// Sets [`rate_limit_sources`](Self::rate_limit_sources).
    pub fn with_rate_limit_sources(mut self, sources: usize) -> Self {
        self.rate_limit_sources = sources;
        self
    }

    /// Checks every field's range; the first one out of range is the error.
    /// Run by [`Listener::bind`](crate::Listener::bind),
    /// [`Greeter::new`](crate::Greeter::new) and the one-shot helpers, so
    /// callers need not call it themselves.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::LineLimitOutOfRange`]: `max_line_bytes` outside
    ///   [`MIN_LINE_BYTES`]`..=`[`MAX_MAX_LINE_BYTES`] (128..=1048576).
    /// - [`ConfigError::TimeoutOutOfRange`]: a timeout or the grace period is
    ///   zero or above [`MAX_TIMEOUT`] (24 h).
    /// - [`ConfigError::ConnectionsOutOfRange`]: `max_connections` outside
    ///   1..=[`MAX_MAX_CONNECTIONS`] (65536).
    /// - [`ConfigError::ReplayCacheOutOfRange`]: the replay cache
    ///   capacity is outside 1..=[`MAX_REPLAY_CACHE_CAPACITY`] (1048576).
    /// - [`ConfigError::LimitOutOfRange`] when `max_connections_per_source`,
    ///   `max_sessions`, `max_sessions_per_source` or `max_handshakes` is outside
    ///   1..=[`MAX_MAX_CONNECTIONS`], or `hello_rate_burst`,
    ///   `hello_rate_per_sec`, `rate_limit_sources`, `handshake_rate_per_sec`,
    ///   `verify_rate_per_sec` outside 1..=[`MAX_RATE_LIMIT_SETTING`] (1048576).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_LINE_BYTES..=MAX_MAX_LINE_BYTES).contains(&self.max_line_bytes) {
            return Err(ConfigError::LineLimitOutOfRange {
                value: self.max_line_bytes,
                min: MIN_LINE_BYTES,
                max: MAX_MAX_LINE_BYTES,
            });
        }
        let timeouts = [
            ("read_timeout", self.read_timeout),
            ("connect_timeout", self.connect_timeout),
            ("write_timeout", self.write_timeout),
            ("ack_timeout", self.ack_timeout),
            ("shutdown_grace", self.shutdown_grace),
            ("timestamp_window", self.timestamp_window),
            ("handshake_timeout", self.handshake_timeout),
        ];
        for (name, value) in timeouts {
            if value.is_zero() || value > MAX_TIMEOUT {
                return Err(ConfigError::TimeoutOutOfRange {
                    name,
                    value,
                    max: MAX_TIMEOUT,
                });
            }
        }
        if !(1..=MAX_MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(ConfigError::ConnectionsOutOfRange {
                value: self.max_connections,
                max: MAX_MAX_CONNECTIONS,
            });
        }
        if !(1..=MAX_REPLAY_CACHE_CAPACITY).contains(&self.replay_cache_capacity) {
            return Err(ConfigError::ReplayCacheOutOfRange {
                value: self.replay_cache_capacity,
                max: MAX_REPLAY_CACHE_CAPACITY,
            });
        }
        self.validate_flood_limits()
    }

    /// The per-source limits of [`TransportConfig::validate`].
    fn validate_flood_limits(&self) -> Result<(), ConfigError> {
        let limits = [
            (
                "max_connections_per_source",
                self.max_connections_per_source,
                MAX_MAX_CONNECTIONS,
            ),
            (
                "hello_rate_burst",
                self.hello_rate_burst,
                MAX_RATE_LIMIT_SETTING,
            ),
            (
                "hello_rate_per_sec",
                self.hello_rate_per_sec,
                MAX_RATE_LIMIT_SETTING,
            ),
            (
                "rate_limit_sources",
                self.rate_limit_sources,
                MAX_RATE_LIMIT_SETTING,
            ),
            ("max_sessions", self.max_sessions, MAX_MAX_CONNECTIONS),
            (
                "max_sessions_per_source",
                self.max_sessions_per_source,
                MAX_MAX_CONNECTIONS,
            ),
            ("max_handshakes", self.max_handshakes, MAX_MAX_CONNECTIONS),
            (
                "handshake_rate_per_sec",
                self.handshake_rate_per_sec,
                MAX_RATE_LIMIT_SETTING,
            ),
            (
                "verify_rate_per_sec",
                self.verify_rate_per_sec,
                MAX_RATE_LIMIT_SETTING,
            ),
        ];
        for (name, value, max) in limits {
            if !(1..=max).contains(&value) {
                return Err(ConfigError::LimitOutOfRange { name, value, max });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_prototype() {
        let config = TransportConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.max_line_bytes, 1024);
        assert_eq!(config.read_timeout, Duration::from_millis(5000));
        assert_eq!(config.timestamp_window, Duration::from_secs(30));
        assert_eq!(config.replay_cache_capacity, 12_288);
        assert_eq!(config.max_connections_per_source, 16);
        assert_eq!(
            (config.hello_rate_burst, config.hello_rate_per_sec),
            (20, 10)
        );
        assert_eq!(config.rate_limit_sources, 4096);
        assert_eq!(config.handshake_timeout, Duration::from_millis(2000));
        assert_eq!(
            (
                config.max_sessions,
                config.max_handshakes,
                config.handshake_rate_per_sec
            ),
            (256, 32, 200)
        );
        assert_eq!(config.max_sessions_per_source, 8);
        assert_eq!(config.verify_rate_per_sec, 200);
        // A full replay cache refuses rather than evicting a live entry, so
        // it must hold what the verification rate can make live (2 × window).
        let live = config.verify_rate_per_sec as u64 * 2 * config.timestamp_window.as_secs();
        assert!(config.replay_cache_capacity as u64 > live);
    }

    /// A change to a valid config, and the error it must cause.
    type Case = (fn(TransportConfig) -> TransportConfig, ConfigError);

    #[test]
    fn each_out_of_range_setting_is_refused() {
        let line = |value| ConfigError::LineLimitOutOfRange {
            value,
            min: MIN_LINE_BYTES,
            max: MAX_MAX_LINE_BYTES,
        };
        let zero = |name| ConfigError::TimeoutOutOfRange {
            name,
            value: Duration::ZERO,
            max: MAX_TIMEOUT,
        };
        let huge = |name| ConfigError::TimeoutOutOfRange {
            name,
            value: Duration::MAX,
            max: MAX_TIMEOUT,
        };
        let limit = |name, value, max| ConfigError::LimitOutOfRange { name, value, max };
        let (conn_max, rate_max) = (MAX_MAX_CONNECTIONS, MAX_RATE_LIMIT_SETTING);
        let cases: [Case; 34] = [
            (
                |c| c.with_verify_rate_per_sec(0),
                limit("verify_rate_per_sec", 0, rate_max),
            ),
            (
                |c| c.with_max_sessions_per_source(0),
                limit("max_sessions_per_source", 0, conn_max),
            ),
            (
                |c| c.with_handshake_timeout(Duration::ZERO),
                zero("handshake_timeout"),
            ),
            (
                |c| c.with_max_sessions(0),
                limit("max_sessions", 0, conn_max),
            ),
            (
                |c| c.with_max_handshakes(MAX_MAX_CONNECTIONS + 1),
                limit("max_handshakes", conn_max + 1, conn_max),
            ),
            (
                |c| c.with_handshake_rate_per_sec(0),
                limit("handshake_rate_per_sec", 0, rate_max),
            ),
            (
                |c| c.with_handshake_rate_per_sec(MAX_RATE_LIMIT_SETTING + 1),
                limit("handshake_rate_per_sec", rate_max + 1, rate_max),
            ),
            (|c| c.with_max_line_bytes(0), line(0)),
            (
                |c| c.with_max_line_bytes(MIN_LINE_BYTES - 1),
                line(MIN_LINE_BYTES - 1),
            ),
            (
                |c| c.with_max_line_bytes(MAX_MAX_LINE_BYTES + 1),
                line(MAX_MAX_LINE_BYTES + 1),
            ),
            (
                |c| c.with_read_timeout(Duration::ZERO),
                zero("read_timeout"),
            ),
            (|c| c.with_read_timeout(Duration::MAX), huge("read_timeout")),
            (
                |c| c.with_connect_timeout(Duration::ZERO),
                zero("connect_timeout"),
            ),
            (
                |c| c.with_connect_timeout(Duration::MAX),
                huge("connect_timeout"),
            ),
            (
                |c| c.with_write_timeout(Duration::ZERO),
                zero("write_timeout"),
            ),
            (
                |c| c.with_write_timeout(Duration::MAX),
                huge("write_timeout"),
            ),
            (|c| c.with_ack_timeout(Duration::ZERO), zero("ack_timeout")),
            (|c| c.with_ack_timeout(Duration::MAX), huge("ack_timeout")),
            (
                |c| c.with_shutdown_grace(Duration::ZERO),
                zero("shutdown_grace"),
            ),
            (
                |c| c.with_shutdown_grace(Duration::MAX),
                huge("shutdown_grace"),
            ),
            (
                |c| c.with_timestamp_window(Duration::ZERO),
                zero("timestamp_window"),
            ),
            (
                |c| c.with_timestamp_window(Duration::MAX),
                huge("timestamp_window"),
            ),
            (
                |c| c.with_max_connections(0),
                ConfigError::ConnectionsOutOfRange {
                    value: 0,
                    max: conn_max,
                },
            ),
            (
                |c| c.with_max_connections(MAX_MAX_CONNECTIONS + 1),
                ConfigError::ConnectionsOutOfRange {
                    value: conn_max + 1,
                    max: conn_max,
                },
            ),
            (
                |c| c.with_replay_cache_capacity(0),
                ConfigError::ReplayCacheOutOfRange {
                    value: 0,
                    max: MAX_REPLAY_CACHE_CAPACITY,
                },
            ),
            (
                |c| c.with_replay_cache_capacity(MAX_REPLAY_CACHE_CAPACITY + 1),
                ConfigError::ReplayCacheOutOfRange {
                    value: MAX_REPLAY_CACHE_CAPACITY + 1,
                    max: MAX_REPLAY_CACHE_CAPACITY,
                },
            ),
            (
                |c| c.with_max_connections_per_source(0),
                limit("max_connections_per_source", 0, conn_max),
            ),
            (
                |c| c.with_max_connections_per_source(MAX_MAX_CONNECTIONS + 1),
                limit("max_connections_per_source", conn_max + 1, conn_max),
            ),
            (
                |c| c.with_hello_rate_burst(0),
                limit("hello_rate_burst", 0, rate_max),
            ),
            (
                |c| c.with_hello_rate_burst(MAX_RATE_LIMIT_SETTING + 1),
                limit("hello_rate_burst", rate_max + 1, rate_max),
            ),
            (
                |c| c.with_hello_rate_per_sec(0),
                limit("hello_rate_per_sec", 0, rate_max),
            ),
            (
                |c| c.with_hello_rate_per_sec(MAX_RATE_LIMIT_SETTING + 1),
                limit("hello_rate_per_sec", rate_max + 1, rate_max),
            ),
            (
                |c| c.with_rate_limit_sources(0),
                limit("rate_limit_sources", 0, rate_max),
            ),
            (
                |c| c.with_rate_limit_sources(MAX_RATE_LIMIT_SETTING + 1),
                limit("rate_limit_sources", rate_max + 1, rate_max),
            ),
        ];
        for (change, expected) in cases {
            assert_eq!(change(TransportConfig::default()).validate(), Err(expected));
        }
    }

    #[test]
    fn the_ends_of_each_range_are_accepted() {
        let edges: [fn(TransportConfig) -> TransportConfig; 10] = [
            |c| c.with_max_line_bytes(MIN_LINE_BYTES),
            |c| c.with_max_line_bytes(MAX_MAX_LINE_BYTES),
            |c| c.with_read_timeout(Duration::from_millis(1)),
            |c| c.with_ack_timeout(MAX_TIMEOUT),
            |c| c.with_max_connections(1).with_max_connections_per_source(1),
            |c| c.with_max_connections(MAX_MAX_CONNECTIONS),
            |c| c.with_replay_cache_capacity(1),
            |c| c.with_replay_cache_capacity(MAX_REPLAY_CACHE_CAPACITY),
            |c| {
                c.with_hello_rate_burst(1)
                    .with_hello_rate_per_sec(1)
                    .with_rate_limit_sources(1)
            },
            |c| {
                c.with_hello_rate_burst(MAX_RATE_LIMIT_SETTING)
                    .with_hello_rate_per_sec(MAX_RATE_LIMIT_SETTING)
                    .with_rate_limit_sources(MAX_RATE_LIMIT_SETTING)
            },
        ];
        for edge in edges {
            assert_eq!(edge(TransportConfig::default()).validate(), Ok(()));
        }
    }
}
