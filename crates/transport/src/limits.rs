//! Per-source flood limits of the server (`docs/transport.md`, limits):
//! concurrent connections per source address ([`SourceSlots`]) and the rate
//! of requests (HELLO, PING and BYE share one bucket) per source address
//! ([`HelloRateLimiter`], a token bucket).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::config::TransportConfig;
use crate::stats::Counters;

/// The address a limit applies to: an IPv4 address (IPv4-mapped IPv6
/// included), or the /64 prefix of an IPv6 address, since one IPv6 host
/// usually owns a whole /64 and could otherwise rotate addresses.
pub(crate) fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Connections open per source, each with a token that evicts it. Entries
/// are removed when their count drops to 0, so the map never holds more
/// than `max_connections` entries.
#[derive(Debug)]
pub(crate) struct SourceSlots {
    per_source: usize,
    open: Mutex<HashMap<IpAddr, Source>>,
    next_id: AtomicU64,
}

/// One source's open connections, oldest first.
#[derive(Debug, Default)]
struct Source {
    connections: VecDeque<(u64, CancellationToken)>,
}

/// One connection's place in [`SourceSlots`] and in the open-connection
/// gauge; released on drop (also when the task is aborted).
#[derive(Debug)]
pub(crate) struct SourceSlot {
    slots: Arc<SourceSlots>,
    counters: Arc<Counters>,
    key: IpAddr,
    id: u64,
    evict: CancellationToken,
}

impl SourceSlot {
    /// Cancelled when the server evicts this connection to make room.
    pub(crate) fn evicted(&self) -> CancellationToken {
        self.evict.clone()
    }
}

impl SourceSlots {
    pub(crate) fn new(per_source: usize) -> SourceSlots {
        SourceSlots {
            per_source,
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// When every connection slot is taken and `ip` asks for one: evicts
    /// the oldest connection of the source holding the most, if that
    /// source holds at least two more than `ip`'s (issue 13, slot
    /// lock-out: a few sources cannot keep another host out). Returns
    /// whether one was evicted (its slot frees as its task ends).
    pub(crate) fn evict_for(&self, ip: IpAddr) -> bool {
        let key = source_key(ip);
        let mut open = lock(&self.open);
        let theirs = open.get(&key).map_or(0, |s| s.connections.len());
        let Some(victim) = open
            .values_mut()
            .filter(|s| s.connections.iter().any(|(_, t)| !t.is_cancelled()))
            .max_by_key(|s| s.connections.len())
        else {
            return false;
        };
        if victim.connections.len() < theirs + 2 {
            return false;
        }
        match victim.connections.iter().find(|(_, t)| !t.is_cancelled()) {
            Some((_, token)) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Takes a slot for a connection from `ip`, or `None` when its source
    /// already has `per_source` connections open.
    pub(crate) fn try_acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        counters: &Arc<Counters>,
    ) -> Option<SourceSlot> {
        let key = source_key(ip);
        let mut open = lock(&self.open);
        let source = open.entry(key).or_default();
        if source.connections.len() >= self.per_source {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evict = CancellationToken::new();
        source.connections.push_back((id, evict.clone()));
        drop(open);
        counters.connection_opened();
        Some(SourceSlot {
            slots: Arc::clone(self),
            counters: Arc::clone(counters),
            key,
            id,
            evict,
        })
    }

    #[cfg(test)]
    fn sources(&self) -> usize {
        lock(&self.open).len()
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.slots.open);
        if let Some(source) = open.get_mut(&self.key) {
            source.connections.retain(|(id, _)| *id != self.id);
            if source.connections.is_empty() {
                open.remove(&self.key);
            }
        }
        drop(open);
        self.counters.connection_closed();
    }
}

/// One token bucket for all sources: the inbound session handshakes
/// started per second (`handshake_rate_per_sec`, burst of the same size).
#[derive(Debug)]
pub(crate) struct GlobalRate {
    rate: f64,
    bucket: Mutex<Bucket>,
}

impl GlobalRate {
    pub(crate) fn new(per_sec: usize, now: Instant) -> GlobalRate {
        // At most 2^20 (validated): exact in an f64.
        let rate = per_sec as f64;
        GlobalRate {
            rate,
            bucket: Mutex::new(Bucket {
                tokens: rate,
                last: now,
            }),
        }
    }

    /// Takes one token at time `now`, if there is one.
    pub(crate) fn allow(&self, now: Instant) -> bool {
        let mut bucket = lock(&self.bucket);
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.rate);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One source's token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A token bucket per source: `burst` requests (HELLOs, PINGs, BYEs) at
/// once, `rate` per second after that. At most `capacity` sources are tracked.
#[derive(Debug)]
pub(crate) struct HelloRateLimiter {
    burst: f64,
    rate: f64,
    capacity: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// The outcome of [`HelloRateLimiter::allow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    /// The request is within its source's rate.
    pub(crate) allowed: bool,
    /// Busy sources forgotten to make room for this one.
    pub(crate) evicted: usize,
}

impl HelloRateLimiter {
    pub(crate) fn new(config: &TransportConfig) -> HelloRateLimiter {
        // Both are at most 2^20 (validated): exact in an f64.
        HelloRateLimiter {
            burst: config.hello_rate_burst as f64,
            rate: config.hello_rate_per_sec as f64,
            capacity: config.rate_limit_sources,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `ip`'s bucket at time `now`.
    pub(crate) fn allow(&self, ip: IpAddr, now: Instant) -> Admission {
        let key = source_key(ip);
        let mut buckets = lock(&self.buckets);
        let mut evicted = 0;
        if !buckets.contains_key(&key) && buckets.len() >= self.capacity {
            evicted = self.make_room(&mut buckets, now);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.last = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        Admission { allowed, evicted }
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        (bucket.tokens + elapsed * self.rate).min(self.burst)
    }

    /// Forgets sources whose bucket is full again (no different from an
    /// unknown source); if none is, forgets the least recently seen half,
    /// so the O(n) pass runs at most once per n/2 new sources. Returns how
    /// many busy sources were forgotten.
    fn make_room(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) -> usize {
        buckets.retain(|_, bucket| self.refilled(bucket, now) < self.burst);
        if buckets.len() < self.capacity {
            return 0;
        }
        let mut seen: Vec<Instant> = buckets.values().map(|b| b.last).collect();
        let middle = seen.len() / 2;
        let (_, cutoff, _) = seen.select_nth_unstable(middle);
        let cutoff = *cutoff;
        let before = buckets.len();
        buckets.retain(|_, bucket| bucket.last > cutoff);
        before - buckets.len()
    }

    #[cfg(test)]
    fn sources(&self) -> usize {
        lock(&self.buckets).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn limiter(burst: usize, rate: usize, sources: usize) -> HelloRateLimiter {
        let config = TransportConfig::default()
            .with_hello_rate_burst(burst)
            .with_hello_rate_per_sec(rate)
            .with_rate_limit_sources(sources);
        HelloRateLimiter::new(&config)
    }

    #[test]
    fn ipv6_sources_are_grouped_by_slash_64_and_mapped_v4_is_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(source_key(mapped), ip(1));
    }

    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let limiter = limiter(3, 2, 16);
        let t0 = Instant::now();
        let allowed = |t| limiter.allow(ip(1), t).allowed;
        assert!(allowed(t0) && allowed(t0) && allowed(t0));
        assert!(
            !allowed(t0),
            "the 4th HELLO of a burst of 3 must be refused"
        );
        assert!(
            limiter.allow(ip(2), t0).allowed,
            "other sources are not affected"
        );
        assert!(
            allowed(t0 + Duration::from_millis(500)),
            "2/s refills one in 500 ms"
        );
        assert!(!allowed(t0 + Duration::from_millis(600)));
    }

    #[test]
    fn tracked_sources_stay_bounded_idle_ones_go_first() {
        let limiter = limiter(2, 1, 4);
        let t0 = Instant::now();
        for last in 1..=4 {
            limiter.allow(ip(last), t0);
        }
        // Two seconds later every bucket is full again: all can go, none counted.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(limiter.allow(ip(5), later).evicted, 0);
        assert_eq!(limiter.sources(), 1);
        // All busy: the least recently seen half is forgotten, and counted.
        for last in 6..=8 {
            limiter.allow(ip(last), later + Duration::from_millis(u64::from(last)));
        }
        assert_eq!(limiter.sources(), 4);
        let admission = limiter.allow(ip(9), later + Duration::from_millis(10));
        assert!(admission.allowed);
        assert!(admission.evicted >= 2, "evicted {}", admission.evicted);
        assert!(limiter.sources() <= 4);
    }

    #[test]
    fn source_slots_cap_each_source_and_release_on_drop() {
        let slots = Arc::new(SourceSlots::new(2));
        let counters = Arc::new(Counters::default());
        let a = slots.try_acquire(ip(1), &counters).unwrap();
        let b = slots.try_acquire(ip(1), &counters).unwrap();
        assert!(slots.try_acquire(ip(1), &counters).is_none());
        let other = slots.try_acquire(ip(2), &counters).unwrap();
        assert_eq!(counters.snapshot().connections_open, 3);
        drop(a);
        let c = slots.try_acquire(ip(1), &counters).unwrap();
        drop((b, c, other));
        assert_eq!(
            slots.sources(),
            0,
            "entries of sources with no connection are removed"
        );
        let s = counters.snapshot();
        assert_eq!((s.connections_open, s.connections_peak), (0, 3));
    }

    #[test]
    fn global_rate_allows_a_burst_then_its_rate() {
        let start = Instant::now();
        let rate = GlobalRate::new(3, start);
        let allowed = (0..5).filter(|_| rate.allow(start)).count();
        assert_eq!(allowed, 3);
        let later = start + std::time::Duration::from_millis(340);
        assert!(rate.allow(later), "one token back after 1/3 s");
        assert!(!rate.allow(later));
    }
}
