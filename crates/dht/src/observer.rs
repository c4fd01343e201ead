//! The registry observer: a routing table that follows the peer registry.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tazcom_identity::PeerId;
use tazcom_registry::{Change, Observer, ObserverError, Origin, RegistryEvent};

use crate::bucket::BucketView;
use crate::config::DhtConfig;
use crate::distance::Distance;
use crate::error::DhtError;
use crate::table::{InsertOutcome, RoutingTable};
use crate::undo::UndoOp;

/// Undo steps kept allocated between commits; a larger log (after a big
/// replay or batch) is shrunk back to this when the next commit starts.
const UNDO_KEEP_CAPACITY: usize = 256;

/// A [`RoutingTable`] kept in step with a
/// [`PeerRegistry`](tazcom_registry::PeerRegistry) (register it with
/// `register_observer`, critical or best-effort).
///
/// Events map to table operations (`docs/dht.md`, "Events"):
/// `Added` and `Updated` → [`RoutingTable::insert`] with the entry's
/// addresses (an update counts as "seen again": the peer moves to its
/// bucket's tail); `Removed` → [`RoutingTable::remove`] (promotes a cached
/// contact). A `Replay` is applied like a commit.
///
/// Rollback is exact: while applying a commit the observer logs how to
/// reverse each step; a `Rollback` with that commit's `seq` replays the log
/// backwards, restoring every bucket, cache and ordering. The log is
/// replaced when the next commit arrives.
///
/// Accessors copy what they return and never hold the lock beyond the call.
#[derive(Debug)]
pub struct DhtObserver {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    table: RoutingTable,
    /// `seq` of the last applied commit or replay, while it can still be
    /// rolled back.
    undo_seq: Option<u64>,
    undo: Vec<UndoOp>,
}

impl DhtObserver {
    /// An observer over an empty table for `local`.
    ///
    /// # Errors
    /// [`DhtError::InvalidConfig`] when `config` is out of range (`k` = 0).
    pub fn new(local: PeerId, config: DhtConfig) -> Result<Self, DhtError> {
        Ok(Self::from_table(RoutingTable::new(local, config)?))
    }

    /// An observer over an existing table (the registry's replay then
    /// inserts its stored peers into it).
    pub fn from_table(table: RoutingTable) -> Self {
        Self {
            state: Mutex::new(State {
                table,
                undo_seq: None,
                undo: Vec::new(),
            }),
        }
    }

    /// See [`RoutingTable::closest`].
    pub fn closest(&self, target: &PeerId, n: usize) -> Vec<(PeerId, Distance)> {
        self.lock().table.closest(target, n)
    }

    /// See [`RoutingTable::len`].
    pub fn len(&self) -> usize {
        self.lock().table.len()
    }

    /// See [`RoutingTable::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.lock().table.is_empty()
    }

    /// See [`RoutingTable::contains`].
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.lock().table.contains(peer)
    }

    /// Copies of the non-empty buckets, lowest index first
    /// (see [`RoutingTable::buckets`]).
    pub fn buckets(&self) -> Vec<BucketView> {
        self.lock().table.buckets().collect()
    }

    /// A copy of the whole table.
    pub fn snapshot(&self) -> RoutingTable {
        self.lock().table.clone()
    }

    /// The local node's id.
    pub fn local_id(&self) -> PeerId {
        *self.lock().table.local_id()
    }

    /// A poisoned lock is recovered: nothing done under the lock panics
    /// (positions come from searches of the same list, undo positions are
    /// clamped), so no panic can have left the table half-changed.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn apply(&mut self, event: &RegistryEvent) {
        self.undo.clear();
        self.undo.shrink_to(UNDO_KEEP_CAPACITY);
        self.undo_seq = Some(event.seq);
        for change in event.changes() {
            match change {
                Change::Added(entry) | Change::Updated { new: entry, .. } => {
                    let outcome =
                        self.table
                            .insert_with(entry.peer_id, &entry.addrs[..], &mut self.undo);
                    if outcome == InsertOutcome::IsLocal {
                        tracing::debug!(peer = %entry.peer_id.short(), "dht: local id not stored");
                    }
                }
                Change::Removed(entry) => {
                    self.table.remove_with(&entry.peer_id, &mut self.undo);
                }
            }
        }
    }

    fn rollback(&mut self, seq: u64) {
        if self.undo_seq != Some(seq) {
            // This observer never refuses a commit, so the registry only
            // rolls back the commit it just delivered; anything else has
            // nothing here to undo.
            tracing::debug!(
                seq,
                "dht: rollback of a commit not applied here; nothing to undo"
            );
            return;
        }
        self.undo_seq = None;
        self.table.undo(self.undo.drain(..));
    }
}

impl Observer for DhtObserver {
    fn name(&self) -> &str {
        "dht"
    }

    /// Applies the event (see the type docs). Never fails: every table
    /// operation accepts any peer id and address list.
    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        let mut state = self.lock();
        match event.origin {
            Origin::Commit | Origin::Replay => state.apply(event),
            Origin::Rollback => state.rollback(event.seq),
        }
        Ok(())
    }
}
