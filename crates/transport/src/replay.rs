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
/// anyway. When full, the entry with the earliest expiry (the oldest
/// timestamp) is evicted to make room.
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
    /// First time in the window; `evicted` tells whether an older entry had
    /// to go to make room.
    Fresh { evicted: bool },
    /// Already accepted within the window: a replay.
    Replayed,
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
        let evicted = self.expiry_of.len() >= self.capacity;
        if evicted {
            if let Some(oldest) = self.by_expiry.pop_first() {
                self.expiry_of.remove(&oldest.1);
            }
        }
        self.expiry_of.insert(key, expires_ms);
        self.by_expiry.insert((expires_ms, key));
        Seen::Fresh { evicted }
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
        assert_eq!(
            cache.insert(peer, nonce, 1_000, 0),
            Seen::Fresh { evicted: false }
        );
        assert_eq!(cache.insert(peer, nonce, 1_000, 500), Seen::Replayed);
        assert_eq!(cache.insert(peer, nonce, 1_000, 1_000), Seen::Replayed);
        // Expired: `ts + window < now`.
        assert_eq!(
            cache.insert(peer, nonce, 2_000, 1_001),
            Seen::Fresh { evicted: false }
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_same_nonce_from_another_sender_is_not_a_replay() {
        let mut cache = ReplayCache::new(8);
        let nonce = Nonce::from_bytes([7; 16]);
        assert!(matches!(
            cache.insert(key(1).0, nonce, 10, 0),
            Seen::Fresh { .. }
        ));
        assert!(matches!(
            cache.insert(key(2).0, nonce, 10, 0),
            Seen::Fresh { .. }
        ));
    }

    #[test]
    fn when_full_the_oldest_timestamp_is_evicted() {
        let mut cache = ReplayCache::new(3);
        let expiries = [30, 10, 20];
        for (i, expiry) in expiries.into_iter().enumerate() {
            let (peer, nonce) = key(i as u8);
            assert_eq!(
                cache.insert(peer, nonce, expiry, 0),
                Seen::Fresh { evicted: false }
            );
        }
        let (peer, nonce) = key(9);
        assert_eq!(
            cache.insert(peer, nonce, 40, 0),
            Seen::Fresh { evicted: true }
        );
        assert_eq!(cache.len(), 3);
        // Key 1 (expiry 10) went; the others are still replays.
        let (p1, n1) = key(1);
        let (p0, n0) = key(0);
        assert_eq!(cache.insert(p0, n0, 30, 0), Seen::Replayed);
        assert_eq!(cache.insert(p1, n1, 10, 0), Seen::Fresh { evicted: true });
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
