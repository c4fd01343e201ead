//! The node's policies, in one idiom: public fields, `Default` with the
//! documented values, `with_*` setters, and [`validate`](NodeConfig::validate)
//! run once by [`NodeBuilder::start`](crate::NodeBuilder::start).

use std::time::Duration;

use crate::error::ConfigError;

/// How discovered peers are greeted
/// ([`NodeBuilder::greeting`](crate::NodeBuilder::greeting)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GreetingPolicy {
    /// Rounds over the peer's addresses before giving up, ≥ 1. Default 3.
    pub attempts: u32,
    /// Pause before round n+1 is n × this. Default 250 ms.
    pub backoff: Duration,
}

impl Default for GreetingPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

impl GreetingPolicy {
    /// Sets [`attempts`](Self::attempts) and [`backoff`](Self::backoff).
    pub fn with_attempts(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts;
        self.backoff = backoff;
        self
    }
}

/// How a node checks that the peers it knows are still there
/// ([`NodeBuilder::liveness`](crate::NodeBuilder::liveness), `docs/node.md`
/// "Liveness").
///
/// Anything heard from a peer (a HELLO or PING from it, an ACK to ours)
/// counts. A node that was checked waits a quarter interval longer than the
/// one that checked it, so one side keeps the initiative and two nodes
/// exchange about one PING per `interval` between them, not two. A process
/// that dies on a live host (its port then refuses connections) is removed
/// within `interval × 1.45` + 0.5 s + `retry_after` at worst (6.55 s with
/// the defaults; the checking side ≤ 5.55 s); a host that vanishes, within
/// that plus `attempts × timeout`. Static peers are checked but never
/// removed (they are configured, not discovered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LivenessPolicy {
    /// Whether to check at all. Default `true`.
    pub enabled: bool,
    /// A peer not heard from for this long (plus a random 0–20 %) is
    /// checked. Default 4000 ms: about 15 PING/ACK exchanges per peer per
    /// minute (`docs/node.md` gives the bytes).
    pub interval: Duration,
    /// Rounds of PINGs over the peer's addresses before it is declared
    /// unreachable, ≥ 1. Default 2.
    pub attempts: u32,
    /// Bound on one PING: connect, send, signed ACK. Default 1000 ms.
    pub timeout: Duration,
    /// Pause between rounds. Default 250 ms.
    pub retry_after: Duration,
}

impl Default for LivenessPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(4),
            attempts: 2,
            timeout: Duration::from_secs(1),
            retry_after: Duration::from_millis(250),
        }
    }
}

impl LivenessPolicy {
    /// No checks: peers leave only by goodbye, BYE or record expiry.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets [`interval`](Self::interval).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets [`attempts`](Self::attempts) and [`timeout`](Self::timeout).
    pub fn with_attempts(mut self, attempts: u32, timeout: Duration) -> Self {
        self.attempts = attempts;
        self.timeout = timeout;
        self
    }

    /// How often the node looks for peers that are due: a quarter of the
    /// interval, at most 500 ms, at least 10 ms.
    pub(crate) fn tick(&self) -> Duration {
        (self.interval / 4).clamp(Duration::from_millis(10), Duration::from_millis(500))
    }
}

/// Everything the builder validates in one place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeConfig {
    pub greeting: GreetingPolicy,
    pub liveness: LivenessPolicy,
    pub event_capacity: usize,
}

impl NodeConfig {
    /// Checks every setting; the first one out of range is the error.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.event_capacity == 0 {
            return Err(ConfigError::EventCapacity);
        }
        if self.greeting.attempts == 0 {
            return Err(ConfigError::GreetingAttempts);
        }
        let l = &self.liveness;
        if l.enabled && (l.interval.is_zero() || l.timeout.is_zero() || l.attempts == 0) {
            return Err(ConfigError::Liveness);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NodeConfig {
        NodeConfig {
            greeting: GreetingPolicy::default(),
            liveness: LivenessPolicy::default(),
            event_capacity: 1,
        }
    }

    /// A change to a valid config, and the error it must cause.
    type Case = (fn(&mut NodeConfig), ConfigError);

    #[test]
    fn each_out_of_range_setting_is_refused() {
        assert!(config().validate().is_ok());
        let cases: [Case; 5] = [
            (|c| c.event_capacity = 0, ConfigError::EventCapacity),
            (|c| c.greeting.attempts = 0, ConfigError::GreetingAttempts),
            (
                |c| c.liveness.interval = Duration::ZERO,
                ConfigError::Liveness,
            ),
            (
                |c| c.liveness.timeout = Duration::ZERO,
                ConfigError::Liveness,
            ),
            (|c| c.liveness.attempts = 0, ConfigError::Liveness),
        ];
        for (change, expected) in cases {
            let mut c = config();
            change(&mut c);
            assert_eq!(c.validate(), Err(expected));
        }
    }

    #[test]
    fn a_disabled_liveness_policy_is_not_checked() {
        let mut c = config();
        c.liveness = LivenessPolicy::disabled().with_interval(Duration::ZERO);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_sweep_tick_is_a_quarter_interval_within_bounds() {
        let tick = |ms| {
            LivenessPolicy::default()
                .with_interval(Duration::from_millis(ms))
                .tick()
        };
        assert_eq!(tick(5_000), Duration::from_millis(500));
        assert_eq!(tick(1_000), Duration::from_millis(250));
        assert_eq!(tick(8), Duration::from_millis(10));
    }
}
