//! [`RecentHints`]: reports the three probes of one starting peer (RFC 6762
//! §8.1: three probes 250 ms apart, on every interface) as one hint. Pure
//! state with the clock passed in, so it is unit-testable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tazcom_identity::PeerId;

use crate::event::PeerInfo;

/// How long a hint suppresses its repeats (ms). The three probes span
/// 500 ms; a peer probing again later (after a conflict, a port or address
/// change) is reported again.
pub(crate) const DEDUP_WINDOW: Duration = Duration::from_secs(2);

/// The most hints remembered at once; beyond, the oldest is forgotten.
pub(crate) const DEDUP_CAPACITY: usize = 128;

/// What makes two hints the same: instance, peer id, addresses.
type HintKey = (String, PeerId, Vec<SocketAddr>);

/// Hints reported within the last window, bounded.
#[derive(Debug)]
pub(crate) struct RecentHints {
    window: Duration,
    capacity: usize,
    seen: HashMap<HintKey, Instant>,
}

impl RecentHints {
    /// Remembers up to `capacity` hints (at least 1) for `window`.
    pub(crate) fn new(window: Duration, capacity: usize) -> Self {
        RecentHints {
            window,
            capacity: capacity.max(1),
            seen: HashMap::new(),
        }
    }

    /// True when `hint` was not reported in the window before `now`; it is
    /// then remembered as reported at `now`.
    pub(crate) fn is_new(&mut self, hint: &PeerInfo, now: Instant) -> bool {
        let window = self.window;
        self.seen
            .retain(|_, at| now.saturating_duration_since(*at) < window);
        let key = (hint.instance_name.clone(), hint.peer_id, hint.addrs.clone());
        if self.seen.contains_key(&key) {
            return false;
        }
        if self.seen.len() >= self.capacity {
            let oldest = self
                .seen
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn hint(instance: &str, port: u16) -> PeerInfo {
        PeerInfo {
            peer_id: PeerId::from_bytes([1; 32]),
            addrs: vec![SocketAddr::from(([10, 0, 0, 1], port))],
            instance_name: instance.to_string(),
            txt: BTreeMap::new(),
        }
    }

    #[test]
    fn repeats_within_the_window_are_suppressed() {
        let mut recent = RecentHints::new(DEDUP_WINDOW, DEDUP_CAPACITY);
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert!(recent.is_new(&hint("p", 4000), t0));
        assert!(!recent.is_new(&hint("p", 4000), ms(250)));
        assert!(!recent.is_new(&hint("p", 4000), ms(500)));
        assert!(recent.is_new(&hint("p", 4001), ms(500)), "other addresses");
        assert!(recent.is_new(&hint("q", 4000), ms(500)), "other instance");
        assert!(recent.is_new(&hint("p", 4000), ms(2000)), "window over");
    }

    #[test]
    fn the_map_stays_bounded_and_forgets_the_oldest() {
        let mut recent = RecentHints::new(DEDUP_WINDOW, 2);
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert!(recent.is_new(&hint("a", 1), t0));
        assert!(recent.is_new(&hint("b", 1), ms(1)));
        assert!(recent.is_new(&hint("c", 1), ms(2)));
        assert_eq!(recent.seen.len(), 2);
        assert!(!recent.is_new(&hint("c", 1), ms(3)));
        assert!(recent.is_new(&hint("a", 1), ms(4)), "a was forgotten");
    }
}
