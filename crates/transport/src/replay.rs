//! The replay cache: which (sender, nonce) pairs a server has accepted in a
//! signed HELLO whose timestamp is still inside the window
//! (`docs/wire.md` §3.6).

use std::collections::{BTreeSet, HashMap};

use tazcom_identity::PeerId;

use crate::signed::Nonce;

type Key = (PeerId, Nonce);

/// Bounded set of recently accepted (sender, nonce) pairs.
///
/// An entry lives until its HELLO's timestamp leaves the window
/// (`ts + window < now`): from then on a replay fails the timestamp check
/// anyway. A live entry is never evicted (issue 13: flooding the cache to
/// evict a captured request's entry let it replay): when the cache is full
/// of live entries a new request is refused instead. With the defaults
/// that cannot happen: at most `verify_rate_per_sec` (200) requests are
/// admitted per second and each lives at most 2 × the window (60 s), so at
/// most 12,000 entries are live, under the 12,288 of the default capacity.
#[derive(Debug)]
pub(crate) struct ReplayCache {
    capacity: usize,
    expiry_of: HashMap<Key, u64>,
    /// (expiry in unix ms, key), ordered by expiry.
    by_expiry: BTreeSet<(u64, Key)>,
}

/// What [`ReplayCache::insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// First time in the window: recorded.
    Fresh,
    /// Already accepted within the window: a replay.
    Replayed,
    /// Not recorded: every entry is live and the cache is full (refused,
    /// never evicting a live entry).
    Full,
}

impl ReplayCache {
    /// An empty cache of at most `capacity` entries (at least 1).
    pub(crate) fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            capacity: capacity.max(1),
            expiry_of: HashMap::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// Records `(from, nonce)`, to be forgotten after `expires_ms` (unix ms),
    /// unless it is already recorded. Expired entries are dropped first.
    pub(crate) fn insert(
        &mut self,
        from: PeerId,
        nonce: Nonce,
        expires_ms: u64,
        now_ms: u64,
    ) -> Seen {
        self.purge(now_ms);
        let key = (from, nonce);
        if self.expiry_of.contains_key(&key) {
            return Seen::Replayed;
        }
        if self.expiry_of.len() >= self.capacity {
            return Seen::Full;
        }
        self.expiry_of.insert(key, expires_ms);
        self.by_expiry.insert((expires_ms, key));
        Seen::Fresh
    }

    /// Number of entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.expiry_of.len()
    }

    /// Drops every entry whose expiry is before `now_ms`.
    fn purge(&mut self, now_ms: u64) {
        while let Some(first) = self.by_expiry.first() {
            if first.0 >= now_ms {
                return;
            }
            let key = first.1;
            self.by_expiry.pop_first();
            self.expiry_of.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> (PeerId, Nonce) {
        (
            PeerId::from_bytes([byte; 32]),
            Nonce::from_bytes([byte; 16]),
        )
    }

    #[test]
    fn a_pair_is_a_replay_until_it_expires() {
        let mut cache = ReplayCache::new(8);
        let (peer, nonce) = key(1);
        assert_eq!(cache.insert(peer, nonce, 1_000, 0), Seen::Fresh);
        assert_eq!(cache.insert(peer, nonce, 1_000, 500), Seen::Replayed);
        assert_eq!(cache.insert(peer, nonce, 1_000, 1_000), Seen::Replayed);
        // Expired: `ts + window < now`.
        assert_eq!(cache.insert(peer, nonce, 2_000, 1_001), Seen::Fresh);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_same_nonce_from_another_sender_is_not_a_replay() {
        let mut cache = ReplayCache::new(8);
        let nonce = Nonce::from_bytes([7; 16]);
        assert!(matches!(cache.insert(key(1).0, nonce, 10, 0), Seen::Fresh));
        assert!(matches!(cache.insert(key(2).0, nonce, 10, 0), Seen::Fresh));
    }

    /// Issue 13, replay cache flush: a full cache refuses, it never evicts
    /// a live entry, so flooding it cannot make a captured request new again.
    #[test]
    fn when_full_of_live_entries_new_ones_are_refused_not_evicted() {
        let mut cache = ReplayCache::new(3);
        for (i, expiry) in [30, 10, 20].into_iter().enumerate() {
            let (peer, nonce) = key(i as u8);
            assert_eq!(cache.insert(peer, nonce, expiry, 0), Seen::Fresh);
        }
        let (peer, nonce) = key(9);
        assert_eq!(cache.insert(peer, nonce, 40, 0), Seen::Full);
        assert_eq!(cache.len(), 3);
        for i in 0..3 {
            let (p, n) = key(i);
            assert_eq!(cache.insert(p, n, 10, 0), Seen::Replayed, "entry {i} kept");
        }
        // Once one expires there is room again.
        assert_eq!(cache.insert(peer, nonce, 40, 11), Seen::Fresh);
    }

    #[test]
    fn size_stays_bounded_under_a_flood() {
        let mut cache = ReplayCache::new(64);
        for i in 0..10_000u32 {
            let mut nonce = [0; 16];
            nonce[..4].copy_from_slice(&i.to_be_bytes());
            cache.insert(
                PeerId::from_bytes([1; 32]),
                Nonce::from_bytes(nonce),
                1_000,
                0,
            );
            assert!(cache.len() <= 64);
        }
    }
}
