//! The routing table: 256 k-buckets keyed by XOR distance to the local id.

use std::collections::BinaryHeap;
use std::fmt;
use std::net::SocketAddr;

use tazcom_identity::PeerId;

use crate::bucket::{BucketView, Contact, KBucket};
use crate::config::DhtConfig;
use crate::distance::{Distance, NUM_BUCKETS};
use crate::error::DhtError;
use crate::lookup::BucketOrder;
use crate::undo::{Addrs, Recorder, UndoOp};

/// What [`RoutingTable::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The peer was new and its bucket had room: it is now the bucket's
    /// most recently seen entry.
    Inserted,
    /// The peer was already an entry: it moved to its bucket's tail (most
    /// recently seen) and its addresses were replaced.
    Updated,
    /// The peer's bucket is full: the peer is now the most recently seen
    /// contact of the bucket's replacement cache (it was added there, or
    /// moved to its tail with its addresses replaced). The bucket is
    /// unchanged: Kademlia prefers long-lived contacts (paper §2.2).
    Pending {
        /// The bucket's least recently seen entry. This table never pings;
        /// a node that does may ping it and, if it does not answer,
        /// [`remove`](RoutingTable::remove) it, which promotes the most
        /// recently seen cached contact.
        oldest: PeerId,
    },
    /// The peer's bucket is full and the replacement cache is disabled
    /// ([`DhtConfig::replacement_cache`] = 0): the peer was not stored.
    Discarded {
        /// The bucket's least recently seen entry (see `Pending`).
        oldest: PeerId,
    },
    /// The peer is the local node, which is never stored.
    IsLocal,
}

/// What [`RoutingTable::remove`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// A bucket entry was removed.
    Entry {
        /// The removed contact.
        contact: Contact,
        /// The cached contact promoted into the bucket in its place (the
        /// most recently seen one), if the cache held any.
        promoted: Option<PeerId>,
    },
    /// A contact waiting in a replacement cache was removed.
    Pending(Contact),
}

/// A Kademlia routing table (Maymounkov & Mazières 2002, §2.2, §4.1).
///
/// Keys are the 32 bytes of a [`PeerId`]; the table keeps one k-bucket per
/// [`Distance::bucket_index`] (256), each ordered least recently seen first,
/// with a bounded replacement cache. See the crate docs and `docs/dht.md`
/// for the rules.
///
/// Equality compares everything observable: local id, config, and every
/// bucket's entries and cache in order.
#[derive(Clone, PartialEq, Eq)]
pub struct RoutingTable {
    local: PeerId,
    config: DhtConfig,
    /// Exactly [`NUM_BUCKETS`] buckets; index = bucket index.
    buckets: Vec<KBucket>,
    /// Number of bucket entries (caches not counted).
    len: usize,
}

impl RoutingTable {
    /// An empty table for the node `local`.
    ///
    /// # Errors
    /// [`DhtError::InvalidConfig`] when `config` is out of range (`k` = 0).
    pub fn new(local: PeerId, config: DhtConfig) -> Result<Self, DhtError> {
        config.validate()?;
        Ok(Self {
            local,
            config,
            buckets: vec![KBucket::default(); NUM_BUCKETS],
            len: 0,
        })
    }

    /// The local node's id (never stored).
    pub fn local_id(&self) -> &PeerId {
        &self.local
    }

    /// The configuration.
    pub fn config(&self) -> &DhtConfig {
        &self.config
    }

    /// Number of bucket entries (replacement caches not counted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bucket holds an entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of contacts waiting in replacement caches. O(256).
    pub fn pending_len(&self) -> usize {
        self.buckets.iter().map(|b| b.pending.len()).sum()
    }

    /// The bucket `peer` belongs in, 0..=255; `None` for the local id.
    pub fn bucket_index_of(&self, peer: &PeerId) -> Option<usize> {
        Distance::between(&self.local, peer).bucket_index()
    }

    /// Whether `peer` is a bucket entry (not merely cached). O(k).
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.get(peer).is_some()
    }

    /// Whether `peer` waits in a replacement cache. O(replacement_cache).
    pub fn is_pending(&self, peer: &PeerId) -> bool {
        self.bucket_of(peer)
            .is_some_and(|b| b.pending_position(peer).is_some())
    }

    /// The bucket entry for `peer`, if it is one. O(k).
    pub fn get(&self, peer: &PeerId) -> Option<&Contact> {
        let b = self.bucket_of(peer)?;
        b.entries.iter().find(|c| c.peer_id == *peer)
    }

    /// A copy of bucket `index` (0..=255, see [`Distance::bucket_index`]);
    /// `None` when `index` ≥ 256.
    pub fn bucket(&self, index: usize) -> Option<BucketView> {
        self.buckets.get(index).map(|b| b.view(index))
    }

    /// Copies of the non-empty buckets (entries or cache), lowest index first.
    pub fn buckets(&self) -> impl Iterator<Item = BucketView> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.entries.is_empty() || !b.pending.is_empty())
            .map(|(i, b)| b.view(i))
    }

    /// Records that `peer` was seen at `addrs` (the paper's update rule, §2.2):
    ///
    /// - the local id: nothing stored, [`InsertOutcome::IsLocal`];
    /// - a bucket entry: moved to the tail, addresses replaced, `Updated`;
    /// - a cached contact: moved to the cache's tail, addresses replaced, `Pending`;
    /// - new, bucket not full: appended at the tail, `Inserted`;
    /// - new, bucket full: appended to the cache (dropping the cache's oldest
    ///   contact when full), `Pending`; or `Discarded` when the cache size is 0.
    ///
    /// O(k + replacement_cache).
    pub fn insert(&mut self, peer: PeerId, addrs: Vec<SocketAddr>) -> InsertOutcome {
        self.insert_with(peer, addrs, &mut ())
    }

    /// Forgets `peer`. Removing a bucket entry promotes the most recently
    /// seen cached contact of that bucket to the bucket's tail; removing a
    /// cached contact just drops it. `None` when the peer is neither (or is
    /// the local id). O(k + replacement_cache).
    pub fn remove(&mut self, peer: &PeerId) -> Option<Removed> {
        self.remove_with(peer, &mut ())
    }

    /// The (at most) `n` bucket entries closest to `target` by XOR distance,
    /// closest first, with their distances to `target`. Cached contacts are
    /// not candidates; `target` itself is included if it is an entry
    /// (distance zero). Distinct ids have distinct distances, so the order
    /// is total.
    ///
    /// Visits buckets in increasing order of their distance range to
    /// `target` and stops once `n` candidates are collected: every entry of
    /// a later bucket is farther than every entry of an earlier one, so
    /// O(n + k) distances are computed and only `n` entries sorted, whatever
    /// the table size
    /// (`docs/dht.md`, "Closest peers").
    pub fn closest(&self, target: &PeerId, n: usize) -> Vec<(PeerId, Distance)> {
        if n == 0 {
            return Vec::new();
        }
        // The n nearest so far, farthest on top. An entry whose high 64
        // distance bits exceed the farthest's is farther: one word compare
        // rejects it without computing its full distance (big buckets).
        let mut best: BinaryHeap<(Distance, PeerId)> =
            BinaryHeap::with_capacity(n.min(self.len) + 1);
        let mut seen = 0usize;
        for index in BucketOrder::new(Distance::between(&self.local, target)) {
            let Some(bucket) = self.buckets.get(index) else {
                continue;
            };
            for contact in &bucket.entries {
                let farthest = best.peek().filter(|_| best.len() >= n).map(|(d, _)| *d);
                if let Some(farthest) = farthest {
                    if Distance::high_word_between(&contact.peer_id, target) > farthest.high_word()
                    {
                        continue;
                    }
                }
                let d = Distance::between(&contact.peer_id, target);
                if farthest.is_none_or(|f| d < f) {
                    if farthest.is_some() {
                        best.pop();
                    }
                    best.push((d, contact.peer_id));
                }
            }
            seen += bucket.entries.len();
            if seen >= n {
                break;
            }
        }
        let mut found: Vec<(PeerId, Distance)> = best.into_iter().map(|(d, p)| (p, d)).collect();
        found.sort_unstable_by_key(|&(_, d)| d);
        found
    }

    fn bucket_of(&self, peer: &PeerId) -> Option<&KBucket> {
        self.buckets.get(self.bucket_index_of(peer)?)
    }

    /// [`insert`](Self::insert), recording undo steps in `rec`.
    pub(crate) fn insert_with<A: Addrs, R: Recorder>(
        &mut self,
        peer: PeerId,
        addrs: A,
        rec: &mut R,
    ) -> InsertOutcome {
        let Some(index) = self.bucket_index_of(&peer) else {
            return InsertOutcome::IsLocal;
        };
        let (k, cache) = (self.config.k, self.config.replacement_cache);
        let Some(bucket) = self.buckets.get_mut(index) else {
            return InsertOutcome::IsLocal; // unreachable: index < 256
        };
        let tag = bucket_tag(index);
        if let Some(pos) = bucket.entry_position(&peer) {
            refresh(&mut bucket.entries, pos, addrs, rec, tag, Side::Entries);
            return InsertOutcome::Updated;
        }
        // The head of a full bucket; `None` while the bucket has room.
        let full_head = match bucket.entries.first() {
            Some(head) if bucket.entries.len() >= k => Some(head.peer_id),
            _ => None,
        };
        let contact = match (bucket.pending_position(&peer), full_head) {
            (Some(pos), Some(oldest)) => {
                refresh(&mut bucket.pending, pos, addrs, rec, tag, Side::Pending);
                return InsertOutcome::Pending { oldest };
            }
            // A cached contact of a bucket with room (cannot happen while the
            // invariant holds): take it out of the cache and insert it.
            (Some(pos), None) => {
                let old = bucket.pending.remove(pos);
                let peer_id = old.peer_id;
                rec.record(UndoOp::PendingRemoved {
                    bucket: tag,
                    pos,
                    contact: old,
                });
                Contact {
                    peer_id,
                    addrs: addrs.into_vec(),
                }
            }
            (None, _) => Contact {
                peer_id: peer,
                addrs: addrs.into_vec(),
            },
        };
        let Some(oldest) = full_head else {
            bucket.entries.push(contact);
            rec.record(UndoOp::EntryPushed { bucket: tag });
            self.len += 1;
            return InsertOutcome::Inserted;
        };
        park(bucket, contact, cache, oldest, tag, rec)
    }

    /// [`remove`](Self::remove), recording undo steps in `rec`.
    pub(crate) fn remove_with<R: Recorder>(
        &mut self,
        peer: &PeerId,
        rec: &mut R,
    ) -> Option<Removed> {
        let index = self.bucket_index_of(peer)?;
        let bucket = self.buckets.get_mut(index)?;
        let tag = bucket_tag(index);
        if let Some(pos) = bucket.entry_position(peer) {
            let contact = bucket.entries.remove(pos);
            self.len -= 1;
            if R::ENABLED {
                rec.record(UndoOp::EntryRemoved {
                    bucket: tag,
                    pos,
                    contact: contact.clone(),
                });
            }
            let promoted = bucket.pending.pop().map(|c| {
                let id = c.peer_id;
                bucket.entries.push(c);
                rec.record(UndoOp::Promoted { bucket: tag });
                id
            });
            self.len += usize::from(promoted.is_some());
            return Some(Removed::Entry { contact, promoted });
        }
        let pos = bucket.pending_position(peer)?;
        let contact = bucket.pending.remove(pos);
        if R::ENABLED {
            rec.record(UndoOp::PendingRemoved {
                bucket: tag,
                pos,
                contact: contact.clone(),
            });
        }
        Some(Removed::Pending(contact))
    }

    /// Reverses recorded steps, last first.
    pub(crate) fn undo(&mut self, ops: impl DoubleEndedIterator<Item = UndoOp>) {
        for op in ops.rev() {
            if let Some(bucket) = self.buckets.get_mut(op.bucket()) {
                let delta = op.reverse(bucket);
                self.len = self.len.saturating_add_signed(delta);
            }
        }
    }
}

/// Appends a newcomer to the replacement cache of a full bucket whose head
/// is `oldest`, dropping the cache's oldest contact when it is full.
fn park<R: Recorder>(
    bucket: &mut KBucket,
    contact: Contact,
    cache: usize,
    oldest: PeerId,
    tag: u8,
    rec: &mut R,
) -> InsertOutcome {
    if cache == 0 {
        return InsertOutcome::Discarded { oldest };
    }
    if bucket.pending.len() >= cache {
        let dropped = bucket.pending.remove(0);
        rec.record(UndoOp::PendingRemoved {
            bucket: tag,
            pos: 0,
            contact: dropped,
        });
    }
    bucket.pending.push(contact);
    rec.record(UndoOp::PendingPushed { bucket: tag });
    InsertOutcome::Pending { oldest }
}

/// Which list of a bucket a refresh touches.
#[derive(Clone, Copy)]
enum Side {
    Entries,
    Pending,
}

/// Moves the contact at `pos` to the tail with `addrs`, recording how to
/// undo it. Unchanged addresses are kept as they are (no allocation).
fn refresh<A: Addrs, R: Recorder>(
    list: &mut Vec<Contact>,
    pos: usize,
    addrs: A,
    rec: &mut R,
    bucket: u8,
    side: Side,
) {
    let mut contact = list.remove(pos);
    if addrs.same_as(&contact.addrs) {
        list.push(contact);
        rec.record(match side {
            Side::Entries => UndoOp::EntryMovedToTail { bucket, from: pos },
            Side::Pending => UndoOp::PendingMovedToTail { bucket, from: pos },
        });
        return;
    }
    let old_addrs = std::mem::replace(&mut contact.addrs, addrs.into_vec());
    let old = Contact {
        peer_id: contact.peer_id,
        addrs: old_addrs,
    };
    list.push(contact);
    rec.record(match side {
        Side::Entries => UndoOp::EntryRemoved {
            bucket,
            pos,
            contact: old,
        },
        Side::Pending => UndoOp::PendingRemoved {
            bucket,
            pos,
            contact: old,
        },
    });
    rec.record(match side {
        Side::Entries => UndoOp::EntryPushed { bucket },
        Side::Pending => UndoOp::PendingPushed { bucket },
    });
}

/// Bucket indexes are 0..=255, so they fit a `u8` in undo steps.
fn bucket_tag(index: usize) -> u8 {
    u8::try_from(index).unwrap_or(u8::MAX)
}

impl fmt::Debug for RoutingTable {
    /// Prints the non-empty buckets only (a table has 256).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingTable")
            .field("local", &self.local)
            .field("config", &self.config)
            .field("len", &self.len)
            .field("buckets", &self.buckets().collect::<Vec<_>>())
            .finish()
    }
}
