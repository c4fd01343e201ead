//! [`TransportConfig`]: limits and timeouts of the listener and the client.

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
/// Default number of (sender, nonce) pairs the replay cache holds: 4096.
pub const DEFAULT_REPLAY_CACHE_CAPACITY: usize = 4096;
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
/// Largest accepted timeout or grace period: 24 h.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Limits and timeouts of the transport. Always valid: it can only be made
/// by [`TransportConfig::default`] or a [`TransportConfigBuilder`], which
/// validates.
///
/// | setting | default | used by |
/// |---|---|---|
/// | `max_line_bytes` | 1024 bytes (newline included) | server reads, client writes and reply reads |
/// | `read_timeout` | 5000 ms per line | server |
/// | `connect_timeout` | 3000 ms | client |
/// | `write_timeout` | 5000 ms per line | client and server (`ACK`) |
/// | `ack_timeout` | 5000 ms | client |
/// | `shutdown_grace` | 2000 ms | server shutdown |
/// | `max_connections` | 256 | server |
/// | `timestamp_window` | ±30 000 ms | server (signed HELLO, PING, BYE) |
/// | `replay_cache_capacity` | 4096 entries | server (signed HELLO, PING, BYE) |
/// | `max_connections_per_source` | 16 | server |
/// | `hello_rate_burst` | 20 HELLOs, PINGs and BYEs | server, per source IP |
/// | `hello_rate_per_sec` | 10 HELLOs, PINGs and BYEs per s | server, per source IP |
/// | `rate_limit_sources` | 4096 source IPs | server |
///
/// ```
/// use std::time::Duration;
/// use tazcom_transport::TransportConfig;
///
/// let config = TransportConfig::builder()
///     .read_timeout(Duration::from_millis(200))
///     .build()?;
/// assert_eq!(config.max_line_bytes(), 1024);
/// assert!(TransportConfig::builder().max_line_bytes(63).build().is_err());
/// # Ok::<(), tazcom_transport::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    max_line_bytes: usize,
    read_timeout: Duration,
    connect_timeout: Duration,
    write_timeout: Duration,
    ack_timeout: Duration,
    shutdown_grace: Duration,
    max_connections: usize,
    timestamp_window: Duration,
    replay_cache_capacity: usize,
    max_connections_per_source: usize,
    hello_rate_burst: usize,
    hello_rate_per_sec: usize,
    rate_limit_sources: usize,
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
        }
    }
}

impl TransportConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> TransportConfigBuilder {
        TransportConfigBuilder {
            config: TransportConfig::default(),
        }
    }

    /// Checks every value's range.
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
    /// - [`ConfigError::LimitOutOfRange`] when `max_connections_per_source`
    ///   is outside 1..=[`MAX_MAX_CONNECTIONS`], or `hello_rate_burst`,
    ///   `hello_rate_per_sec`, `rate_limit_sources` outside
    ///   1..=[`MAX_RATE_LIMIT_SETTING`] (1048576).
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
        ];
        for (name, value, max) in limits {
            if !(1..=max).contains(&value) {
                return Err(ConfigError::LimitOutOfRange { name, value, max });
            }
        }
        Ok(())
    }

    /// Longest line accepted or sent, in bytes, newline included.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Server: longest wait for one complete line, counted from accept or
    /// from the end of the previous line. Also the idle timeout.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// Client: longest wait for the TCP connection to be established.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Client and server: longest time to write one line.
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// Client: longest wait for the complete reply line after writing.
    pub fn ack_timeout(&self) -> Duration {
        self.ack_timeout
    }

    /// Server: how long in-flight connections may run after
    /// [`Server::shutdown`](crate::Server::shutdown) before they are aborted.
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }

    /// Server: connections served at once; further connections wait in the
    /// OS accept backlog until one finishes.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Server with an identity: a signed HELLO, PING or BYE is accepted only
    /// if its `ts` is within ± this of the server's clock; a (sender, nonce)
    /// pair is remembered until its `ts` leaves the window (`docs/wire.md`
    /// §3.6, §3.7).
    /// Peers' clocks must agree to within this.
    pub fn timestamp_window(&self) -> Duration {
        self.timestamp_window
    }

    /// Server with an identity: the most (sender, nonce) pairs remembered
    /// to detect replayed signed HELLOs, PINGs and BYEs; when full, the
    /// entry with the oldest timestamp is evicted (and counted).
    pub fn replay_cache_capacity(&self) -> usize {
        self.replay_cache_capacity
    }

    /// Server: connections served at once from one source IP address (all
    /// ports). A connection beyond it is accepted and closed at once,
    /// unanswered, and counted (`rejected_per_source_limit`), so one host
    /// cannot take every slot of [`TransportConfig::max_connections`].
    pub fn max_connections_per_source(&self) -> usize {
        self.max_connections_per_source
    }

    /// Server: the most HELLOs (legacy or signed), PINGs and BYEs, together,
    /// one source IP address may send back to back; the capacity of its
    /// token bucket (one bucket for all three).
    pub fn hello_rate_burst(&self) -> usize {
        self.hello_rate_burst
    }

    /// Server: HELLOs, PINGs and BYEs (together) per second one source IP
    /// address may send in the long run; the refill rate of its token
    /// bucket. A request finding the bucket empty is rejected without reply
    /// (`rejected_rate_limited`), before its signature is checked.
    pub fn hello_rate_per_sec(&self) -> usize {
        self.hello_rate_per_sec
    }

    /// Server: the most source IP addresses whose request rate is tracked at
    /// once. Entries whose bucket has refilled are forgotten first; when all
    /// are busy, the least recently seen source is forgotten (counted in
    /// `rate_limit_evictions`) and starts again with a full bucket.
    pub fn rate_limit_sources(&self) -> usize {
        self.rate_limit_sources
    }
}

/// Builds a [`TransportConfig`], starting from the defaults; see
/// [`TransportConfig::builder`].
#[derive(Debug, Clone)]
#[must_use = "call build() to get the TransportConfig"]
pub struct TransportConfigBuilder {
    config: TransportConfig,
}

impl TransportConfigBuilder {
    /// Sets [`TransportConfig::max_line_bytes`] (bytes, newline included; 128..=1048576).
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.config.max_line_bytes = bytes;
        self
    }

    /// Sets [`TransportConfig::read_timeout`] (non-zero, at most 24 h).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config.read_timeout = timeout;
        self
    }

    /// Sets [`TransportConfig::connect_timeout`] (non-zero, at most 24 h).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Sets [`TransportConfig::write_timeout`] (non-zero, at most 24 h).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// Sets [`TransportConfig::ack_timeout`] (non-zero, at most 24 h).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = timeout;
        self
    }

    /// Sets [`TransportConfig::shutdown_grace`] (non-zero, at most 24 h).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Sets [`TransportConfig::max_connections`] (1..=65536).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.max_connections = connections;
        self
    }

    /// Sets [`TransportConfig::timestamp_window`] (non-zero, at most 24 h).
    pub fn timestamp_window(mut self, window: Duration) -> Self {
        self.config.timestamp_window = window;
        self
    }

    /// Sets [`TransportConfig::replay_cache_capacity`] (1..=1048576 entries).
    pub fn replay_cache_capacity(mut self, entries: usize) -> Self {
        self.config.replay_cache_capacity = entries;
        self
    }

    /// Sets [`TransportConfig::max_connections_per_source`] (1..=65536).
    pub fn max_connections_per_source(mut self, connections: usize) -> Self {
        self.config.max_connections_per_source = connections;
        self
    }

    /// Sets [`TransportConfig::hello_rate_burst`] (1..=1048576 HELLOs).
    pub fn hello_rate_burst(mut self, hellos: usize) -> Self {
        self.config.hello_rate_burst = hellos;
        self
    }

    /// Sets [`TransportConfig::hello_rate_per_sec`] (1..=1048576 HELLOs per second).
    pub fn hello_rate_per_sec(mut self, hellos_per_sec: usize) -> Self {
        self.config.hello_rate_per_sec = hellos_per_sec;
        self
    }

    /// Sets [`TransportConfig::rate_limit_sources`] (1..=1048576 addresses).
    pub fn rate_limit_sources(mut self, sources: usize) -> Self {
        self.config.rate_limit_sources = sources;
        self
    }

    /// Validates and returns the configuration.
    ///
    /// # Errors
    ///
    /// As [`TransportConfig::validate`].
    pub fn build(self) -> Result<TransportConfig, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_prototype() {
        let config = TransportConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.max_line_bytes(), 1024);
        assert_eq!(config.read_timeout(), Duration::from_millis(5000));
    }

    #[test]
    fn line_limit_range_is_enforced() {
        for bytes in [0, 63, MIN_LINE_BYTES - 1, MAX_MAX_LINE_BYTES + 1] {
            assert!(matches!(
                TransportConfig::builder().max_line_bytes(bytes).build(),
                Err(ConfigError::LineLimitOutOfRange { value, .. }) if value == bytes
            ));
        }
        for bytes in [MIN_LINE_BYTES, MAX_MAX_LINE_BYTES] {
            assert!(TransportConfig::builder()
                .max_line_bytes(bytes)
                .build()
                .is_ok());
        }
    }

    #[test]
    fn zero_and_huge_timeouts_are_rejected() {
        let zero = TransportConfig::builder()
            .ack_timeout(Duration::ZERO)
            .build();
        assert!(matches!(
            zero,
            Err(ConfigError::TimeoutOutOfRange {
                name: "ack_timeout",
                ..
            })
        ));
        let huge = TransportConfig::builder()
            .shutdown_grace(Duration::MAX)
            .build();
        assert!(matches!(
            huge,
            Err(ConfigError::TimeoutOutOfRange {
                name: "shutdown_grace",
                ..
            })
        ));
    }

    #[test]
    fn signed_greeting_settings_are_validated() {
        let config = TransportConfig::default();
        assert_eq!(config.timestamp_window(), Duration::from_secs(30));
        assert_eq!(config.replay_cache_capacity(), 4096);
        assert!(matches!(
            TransportConfig::builder()
                .timestamp_window(Duration::ZERO)
                .build(),
            Err(ConfigError::TimeoutOutOfRange {
                name: "timestamp_window",
                ..
            })
        ));
        for value in [0, MAX_REPLAY_CACHE_CAPACITY + 1] {
            assert_eq!(
                TransportConfig::builder()
                    .replay_cache_capacity(value)
                    .build(),
                Err(ConfigError::ReplayCacheOutOfRange {
                    value,
                    max: MAX_REPLAY_CACHE_CAPACITY
                })
            );
        }
    }

    #[test]
    fn flood_limits_have_defaults_and_ranges() {
        let config = TransportConfig::default();
        assert_eq!(config.max_connections_per_source(), 16);
        assert_eq!(
            (config.hello_rate_burst(), config.hello_rate_per_sec()),
            (20, 10)
        );
        assert_eq!(config.rate_limit_sources(), 4096);
        type Setter = fn(usize) -> TransportConfigBuilder;
        let cases: [(&str, Setter, usize); 4] = [
            (
                "max_connections_per_source",
                |v| TransportConfig::builder().max_connections_per_source(v),
                MAX_MAX_CONNECTIONS,
            ),
            (
                "hello_rate_burst",
                |v| TransportConfig::builder().hello_rate_burst(v),
                MAX_RATE_LIMIT_SETTING,
            ),
            (
                "hello_rate_per_sec",
                |v| TransportConfig::builder().hello_rate_per_sec(v),
                MAX_RATE_LIMIT_SETTING,
            ),
            (
                "rate_limit_sources",
                |v| TransportConfig::builder().rate_limit_sources(v),
                MAX_RATE_LIMIT_SETTING,
            ),
        ];
        for (name, set, max) in cases {
            for value in [0, max + 1] {
                assert_eq!(
                    set(value).build(),
                    Err(ConfigError::LimitOutOfRange { name, value, max })
                );
            }
            assert!(set(1).build().is_ok() && set(max).build().is_ok());
        }
    }

    #[test]
    fn connection_limit_range_is_enforced() {
        for value in [0, MAX_MAX_CONNECTIONS + 1] {
            assert_eq!(
                TransportConfig::builder().max_connections(value).build(),
                Err(ConfigError::ConnectionsOutOfRange {
                    value,
                    max: MAX_MAX_CONNECTIONS
                })
            );
        }
    }
}
