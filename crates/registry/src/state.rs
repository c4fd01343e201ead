//! The peer table and how a list of operations becomes a list of changes.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use tazcom_identity::PeerId;

use crate::entry::PeerEntry;
use crate::event::Change;

/// One requested operation (of a single call or of a batch).
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Boxed as the `Arc` it will be stored in: moved once, never copied.
    Upsert(Arc<PeerEntry>),
    Remove(PeerId),
    RemoveByInstance(String),
}

/// The stored peers and the instance-name index.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub peers: HashMap<PeerId, Arc<PeerEntry>, RandomState>,
    /// Instance name → the peer that most recently claimed it.
    pub by_instance: HashMap<Arc<str>, PeerId, RandomState>,
}

impl State {
    /// Applies one planned change. Planning checked everything, so this
    /// cannot fail.
    pub(crate) fn apply(&mut self, change: &Change) {
        // An update that keeps the instance name, which already points at
        // this peer, leaves the index alone (saves three string hashes).
        let same_name = match change {
            Change::Updated { old, new } if old.instance_name == new.instance_name => new
                .instance_name
                .as_ref()
                .is_none_or(|n| self.by_instance.get(n) == Some(&new.peer_id)),
            _ => false,
        };
        if let (Some(old), false) = (change.before(), same_name) {
            self.unindex(old);
        }
        match change.after() {
            Some(new) => {
                if let (Some(name), false) = (&new.instance_name, same_name) {
                    self.by_instance.insert(Arc::clone(name), new.peer_id);
                }
                self.peers.insert(new.peer_id, Arc::clone(new));
            }
            None => {
                if let Some(old) = change.before() {
                    self.peers.remove(&old.peer_id);
                }
            }
        }
    }

    /// Drops the index entry of `entry`'s instance name if it still points
    /// at this peer (a newer claimant keeps it).
    fn unindex(&mut self, entry: &PeerEntry) {
        if let Some(name) = &entry.instance_name {
            if self.by_instance.get(name) == Some(&entry.peer_id) {
                self.by_instance.remove(name);
            }
        }
    }
}

/// Plans a single operation against the stored state: no copies, no
/// overlay. `None` when it changes nothing.
pub(crate) fn plan_one(state: &State, op: Op) -> Option<Change> {
    match op {
        Op::Upsert(entry) => plan_upsert(state.peers.get(&entry.peer_id), entry),
        Op::Remove(id) => state.peers.get(&id).map(|e| Change::Removed(Arc::clone(e))),
        Op::RemoveByInstance(name) => state
            .by_instance
            .get(name.as_str())
            .and_then(|id| state.peers.get(id))
            .map(|e| Change::Removed(Arc::clone(e))),
    }
}

/// Plans a batch: each operation sees the effect of the ones before it.
pub(crate) fn plan_batch(state: &State, ops: Vec<Op>) -> Vec<Change> {
    // Instance names are only read by `RemoveByInstance`: a batch without one
    // skips tracking them (string hashing dominated large batches).
    let by_instance = ops.iter().any(|op| matches!(op, Op::RemoveByInstance(_)));
    let mut view = Overlay::new(state, ops.len(), by_instance);
    let mut changes = Vec::with_capacity(ops.len());
    for op in ops {
        let change = match op {
            Op::Upsert(entry) => plan_upsert(view.get(&entry.peer_id), entry),
            Op::Remove(id) => view.get(&id).map(|e| Change::Removed(Arc::clone(e))),
            Op::RemoveByInstance(name) => view
                .instance(&name)
                .and_then(|id| view.get(&id))
                .map(|e| Change::Removed(Arc::clone(e))),
        };
        if let Some(change) = change {
            view.record(&change);
            changes.push(change);
        }
    }
    changes
}

fn plan_upsert(current: Option<&Arc<PeerEntry>>, mut entry: Arc<PeerEntry>) -> Option<Change> {
    match current {
        None => Some(Change::Added(entry)),
        Some(old) => {
            if entry.first_seen_ms != old.first_seen_ms {
                Arc::make_mut(&mut entry).first_seen_ms = old.first_seen_ms;
            }
            (**old != *entry).then(|| Change::Updated {
                old: Arc::clone(old),
                new: entry,
            })
        }
    }
}

/// The stored state plus the changes planned so far in a batch.
struct Overlay<'a> {
    base: &'a State,
    peers: HashMap<PeerId, Option<Arc<PeerEntry>>, RandomState>,
    /// `None` when the batch never looks a peer up by instance name.
    instances: Option<HashMap<Arc<str>, Option<PeerId>, RandomState>>,
}

impl<'a> Overlay<'a> {
    fn new(base: &'a State, ops: usize, by_instance: bool) -> Self {
        Self {
            base,
            peers: HashMap::with_capacity_and_hasher(ops, RandomState::default()),
            instances: by_instance
                .then(|| HashMap::with_capacity_and_hasher(ops, RandomState::default())),
        }
    }

    fn get(&self, id: &PeerId) -> Option<&Arc<PeerEntry>> {
        match self.peers.get(id) {
            Some(planned) => planned.as_ref(),
            None => self.base.peers.get(id),
        }
    }

    fn instance(&self, name: &str) -> Option<PeerId> {
        match self.instances.as_ref().and_then(|m| m.get(name)) {
            Some(planned) => *planned,
            None => self.base.by_instance.get(name).copied(),
        }
    }

    /// Mirrors [`State::apply`] on the overlay.
    fn record(&mut self, change: &Change) {
        if self.instances.is_some() {
            self.record_instance(change);
        }
        match (change.after(), change.before()) {
            (Some(new), _) => {
                self.peers.insert(new.peer_id, Some(Arc::clone(new)));
            }
            (None, Some(old)) => {
                self.peers.insert(old.peer_id, None);
            }
            (None, None) => {}
        }
    }

    /// The index effect of [`State::apply`]: the old name is released if it
    /// pointed at this peer, then the new name points at it.
    fn record_instance(&mut self, change: &Change) {
        let released = change
            .before()
            .and_then(|old| old.instance_name.as_ref().map(|n| (n, old.peer_id)))
            .filter(|(name, id)| self.instance(name) == Some(*id));
        let claimed = change
            .after()
            .and_then(|new| new.instance_name.as_ref().map(|n| (n, new.peer_id)));
        let Some(instances) = self.instances.as_mut() else {
            return;
        };
        if let Some((name, _)) = released {
            instances.insert(Arc::clone(name), None);
        }
        if let Some((name, id)) = claimed {
            instances.insert(Arc::clone(name), Some(id));
        }
    }
}
