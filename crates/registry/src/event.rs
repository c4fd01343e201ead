//! Events: what observers are told about each committed change.

use std::sync::Arc;

use crate::entry::PeerEntry;

/// One change to one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A peer that was not in the registry was added.
    Added(Arc<PeerEntry>),
    /// A stored peer's entry was replaced.
    Updated {
        /// The entry before the change.
        old: Arc<PeerEntry>,
        /// The entry after the change.
        new: Arc<PeerEntry>,
    },
    /// A stored peer was removed; this is its last entry.
    Removed(Arc<PeerEntry>),
}

impl Change {
    /// The entry the registry holds for this peer after the change, if any.
    pub fn after(&self) -> Option<&Arc<PeerEntry>> {
        match self {
            Change::Added(e) | Change::Updated { new: e, .. } => Some(e),
            Change::Removed(_) => None,
        }
    }

    /// The entry the registry held for this peer before the change, if any.
    pub fn before(&self) -> Option<&Arc<PeerEntry>> {
        match self {
            Change::Added(_) => None,
            Change::Updated { old: e, .. } | Change::Removed(e) => Some(e),
        }
    }

    /// The change that undoes this one: added ↔ removed, updated old → new
    /// becomes updated new → old.
    pub fn inverse(&self) -> Change {
        match self {
            Change::Added(e) => Change::Removed(Arc::clone(e)),
            Change::Removed(e) => Change::Added(Arc::clone(e)),
            Change::Updated { old, new } => Change::Updated {
                old: Arc::clone(new),
                new: Arc::clone(old),
            },
        }
    }
}

/// Whether an event reports a commit, undoes one, or replays the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A change being committed (see `docs/registry.md` for when it is final).
    Commit,
    /// Undoes the event with the same `seq`: a critical observer failed, so
    /// that commit was aborted. Apply it exactly like any other event.
    Rollback,
    /// Sent once to a newly registered observer: every stored peer as
    /// `Added`, so it starts from the registry's current contents.
    Replay,
}

/// What happened: one change, or an atomic batch of changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A single upsert or removal.
    Single(Change),
    /// A batch committed atomically: the changes in the order they were
    /// applied (the same peer may appear more than once).
    Batch(Vec<Change>),
}

/// A registry event, delivered to observers as a shared `Arc<RegistryEvent>`
/// (one allocation per commit, whatever the number of observers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEvent {
    /// Commit sequence number: 1 for the first commit, +1 per commit.
    /// Aborted commits do not consume a number; a rollback carries the
    /// number of the commit it undoes; a replay carries the last committed one.
    pub seq: u64,
    /// Commit, rollback or replay.
    pub origin: Origin,
    /// The change(s).
    pub kind: EventKind,
}

impl RegistryEvent {
    /// The changes in application order (one for a single change).
    pub fn changes(&self) -> &[Change] {
        match &self.kind {
            EventKind::Single(c) => std::slice::from_ref(c),
            EventKind::Batch(v) => v,
        }
    }

    /// The event that undoes this one: each change inverted, in reverse order.
    pub(crate) fn rollback(&self) -> RegistryEvent {
        let kind = match &self.kind {
            EventKind::Single(c) => EventKind::Single(c.inverse()),
            EventKind::Batch(v) => EventKind::Batch(v.iter().rev().map(Change::inverse).collect()),
        };
        RegistryEvent {
            seq: self.seq,
            origin: Origin::Rollback,
            kind,
        }
    }
}
