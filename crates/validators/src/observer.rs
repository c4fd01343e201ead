//! The registry observer that keeps a [`ValidatorSet`] in step with the
//! registry and publishes its changes.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tazcom_identity::PeerId;
use tazcom_registry::{Change, Observer, ObserverError, Origin, RegistryEvent};
use tokio::sync::{broadcast, watch};

use crate::error::ValidatorError;
use crate::policy::ValidatorPolicy;
use crate::set::ValidatorSet;
use crate::snapshot::{ValidatorChange, ValidatorSnapshot};

/// Capacity of the change channel made by [`ValidatorObserver::new`]: how
/// many [`ValidatorChange`]s a subscriber may fall behind before it gets
/// `RecvError::Lagged` (then it should resynchronise from
/// [`ValidatorObserver::watch`]).
pub const DEFAULT_CHANGE_CAPACITY: usize = 64;

/// A registry [`Observer`] that maintains the validator set of the peers the
/// registry holds, per a [`ValidatorPolicy`], and publishes it.
///
/// How events map to the set (one [`ValidatorSet::apply`] per event, so at
/// most one epoch bump per commit, and none when membership is unchanged):
///
/// | event change | effect on the peer |
/// |---|---|
/// | `Added(e)` | member iff `policy.admits(e)` |
/// | `Updated { new, .. }` | member iff `policy.admits(new)`: a flip of the validator flag or of `verified` adds or removes it |
/// | `Removed(e)` | not a member |
///
/// Changes to the local node's id ([`ValidatorPolicy::include_local`]) are
/// ignored; it is a member from the start. `Replay` events apply like
/// commits. A `Rollback` restores the set, epoch included, exactly as it was
/// before the commit it undoes (last-commit undo, see `docs/validators.md`).
///
/// **Critical or best-effort?** The set never refuses a change, so it needs
/// no veto. Registered best-effort it is only ever sent committed changes,
/// and [`watch`](Self::watch) and [`subscribe_changes`](Self::subscribe_changes)
/// never show an aborted state. Registered critical it is updated before the
/// change is visible in the registry, and an aborted commit is published and
/// then undone (see [`watch`](Self::watch)).
///
/// One observer follows one registry. Cost per event: O(k · log n) for k
/// changes (no allocation when membership does not change); a change of
/// membership also builds the O(n) snapshot it publishes.
#[derive(Debug)]
pub struct ValidatorObserver {
    policy: ValidatorPolicy,
    state: Mutex<State>,
    snapshots: watch::Sender<ValidatorSnapshot>,
    changes: broadcast::Sender<ValidatorChange>,
}

#[derive(Debug)]
struct State {
    set: ValidatorSet,
    /// What the last commit changed, until the next event shows whether it
    /// was rolled back.
    undo: Option<Undo>,
}

/// The last commit applied: its `seq` and the membership change it made
/// (`None`: it changed nothing, so its rollback changes nothing either).
#[derive(Debug)]
struct Undo {
    seq: u64,
    change: Option<ValidatorChange>,
}

impl ValidatorObserver {
    /// An observer with `policy` and a change channel of
    /// [`DEFAULT_CHANGE_CAPACITY`]. The set starts at epoch 0 with the local
    /// node as its only member if [`ValidatorPolicy::include_local`] is set,
    /// empty otherwise; registering it replays the registry's peers into it.
    pub fn new(policy: ValidatorPolicy) -> Self {
        Self::build(policy, DEFAULT_CHANGE_CAPACITY)
    }

    /// Like [`new`](Self::new), with a change channel holding `capacity`
    /// changes per subscriber.
    ///
    /// # Errors
    ///
    /// [`ValidatorError::ZeroCapacity`] when `capacity` is 0.
    pub fn with_change_capacity(
        policy: ValidatorPolicy,
        capacity: usize,
    ) -> Result<Self, ValidatorError> {
        if capacity == 0 {
            return Err(ValidatorError::ZeroCapacity);
        }
        Ok(Self::build(policy, capacity))
    }

    fn build(policy: ValidatorPolicy, capacity: usize) -> Self {
        let set = ValidatorSet::with_members(policy.include_local);
        let (changes, _) = broadcast::channel(capacity);
        Self {
            policy,
            snapshots: watch::Sender::new(set.snapshot()),
            state: Mutex::new(State { set, undo: None }),
            changes,
        }
    }

    /// The policy this observer applies.
    pub fn policy(&self) -> ValidatorPolicy {
        self.policy
    }

    /// A copy of the current set (members and epoch). O(n).
    pub fn set(&self) -> ValidatorSet {
        self.lock().set.clone()
    }

    /// The current epoch, members, quorum and `f`, taken together. O(n).
    pub fn snapshot(&self) -> ValidatorSnapshot {
        self.lock().set.snapshot()
    }

    /// Whether `peer` is currently a member. O(log n).
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.lock().set.contains(peer)
    }

    /// The current epoch. Use [`snapshot`](Self::snapshot) to read it
    /// together with the members.
    pub fn epoch(&self) -> u64 {
        self.lock().set.epoch()
    }

    /// The current number of members.
    pub fn len(&self) -> usize {
        self.lock().set.len()
    }

    /// Whether the set is currently empty.
    pub fn is_empty(&self) -> bool {
        self.lock().set.is_empty()
    }

    /// The current quorum (`None` when empty). Use
    /// [`snapshot`](Self::snapshot) to read it together with the members.
    pub fn quorum(&self) -> Option<usize> {
        self.lock().set.quorum()
    }

    /// A watch on the set: the receiver always holds the snapshot after the
    /// last event this observer applied, and is notified when membership
    /// changes (an event that changes nothing publishes nothing).
    ///
    /// Aborted commits: if the observer is registered critical, a commit is
    /// published when it is delivered, before the registry knows whether
    /// another critical observer will abort it. If it is aborted, its
    /// rollback re-publishes the restored snapshot, with the same epoch and
    /// members as before the aborted commit. So a watcher may briefly see an
    /// aborted snapshot, never as the final value: once the registry call
    /// that made the change has returned, the watch holds a committed state.
    /// An epoch number is reused only after such an abort. Registered
    /// best-effort, the observer is never sent aborted commits.
    ///
    /// Do not hold the receiver's `borrow()` guard for long: the observer
    /// publishes inline on the registry's commit path and waits for it.
    pub fn watch(&self) -> watch::Receiver<ValidatorSnapshot> {
        self.snapshots.subscribe()
    }

    /// A stream of membership changes from now on: one [`ValidatorChange`]
    /// per event that changed membership, and, when a commit is rolled back,
    /// its inverse (marked [`undo`](ValidatorChange::undo), epoch restored).
    /// Applying every change in order keeps a copy exact. A subscriber more
    /// than the channel capacity behind gets `RecvError::Lagged` and should
    /// resynchronise from [`watch`](Self::watch).
    pub fn subscribe_changes(&self) -> broadcast::Receiver<ValidatorChange> {
        self.changes.subscribe()
    }

    /// The state lock. Nothing that runs under it can panic (set operations
    /// and channel sends only; logging happens after it is released), so a
    /// poisoned lock still holds a consistent state and is recovered.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The membership a change asks for, or `None` for the local node.
    fn wanted(&self, change: &Change) -> Option<(PeerId, bool)> {
        let entry = change.after().or_else(|| change.before())?;
        if self.policy.is_local(&entry.peer_id) {
            return None;
        }
        let member = change.after().is_some_and(|e| self.policy.admits(e));
        Some((entry.peer_id, member))
    }

    fn apply(&self, event: &RegistryEvent) -> Option<ValidatorSnapshot> {
        let mut state = self.lock();
        let updates = event.changes().iter().filter_map(|c| self.wanted(c));
        let change = state.set.apply(updates);
        state.undo = match event.origin {
            Origin::Commit => Some(Undo {
                seq: event.seq,
                change: change.clone(),
            }),
            // A replay is never rolled back; no commit is pending any more.
            _ => None,
        };
        let change = change?;
        Some(self.publish(&state.set, change))
    }

    fn roll_back(&self, seq: u64) -> Result<Option<ValidatorSnapshot>, ValidatorError> {
        let mut state = self.lock();
        let undo = match state.undo.take() {
            Some(undo) if undo.seq == seq => undo,
            // Not the commit we applied last (we never applied it): nothing to undo.
            other => {
                state.undo = other;
                return Ok(None);
            }
        };
        let Some(change) = undo.change else {
            return Ok(None);
        };
        state.set.revert(&change)?;
        Ok(Some(self.publish(&state.set, change.inverse())))
    }

    /// Publishes under the state lock, so watchers see states in apply order.
    fn publish(&self, set: &ValidatorSet, change: ValidatorChange) -> ValidatorSnapshot {
        let snapshot = set.snapshot();
        self.snapshots.send_replace(snapshot.clone());
        // An error only means nobody subscribed.
        let _ = self.changes.send(change);
        snapshot
    }
}

impl Observer for ValidatorObserver {
    fn name(&self) -> &str {
        "validators"
    }

    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        let published = match event.origin {
            Origin::Commit | Origin::Replay => self.apply(event),
            Origin::Rollback => self.roll_back(event.seq).map_err(|err| {
                tracing::error!(seq = event.seq, error = %err, "validator set rollback failed");
                ObserverError::from(err)
            })?,
        };
        if let Some(snap) = published {
            tracing::info!(
                seq = event.seq,
                origin = ?event.origin,
                epoch = snap.epoch,
                validators = snap.len(),
                f = snap.f,
                quorum = ?snap.quorum,
                "validator set changed"
            );
            tracing::debug!(epoch = snap.epoch, members = ?snap.members, "validator set members");
        }
        Ok(())
    }
}
