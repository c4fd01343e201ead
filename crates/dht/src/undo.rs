//! Undo log for exact rollback of the last applied commit.
//!
//! Every mutation of a bucket is one of a few primitive steps; each step
//! records how to reverse itself. Reversing the steps of a commit in reverse
//! order restores every bucket, cache and ordering exactly, in O(steps),
//! without copying buckets.

use std::net::SocketAddr;

use crate::bucket::{Contact, KBucket};

/// One reversible step applied to bucket `bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UndoOp {
    /// A contact was appended to the entries; undo: pop it.
    EntryPushed { bucket: u8 },
    /// The entry at `pos` was removed; undo: put it back at `pos`.
    EntryRemoved {
        bucket: u8,
        pos: usize,
        contact: Contact,
    },
    /// The entry at `from` moved to the tail unchanged; undo: move it back.
    EntryMovedToTail { bucket: u8, from: usize },
    /// A contact was appended to the replacement cache; undo: pop it.
    PendingPushed { bucket: u8 },
    /// The cached contact at `pos` was removed; undo: put it back.
    PendingRemoved {
        bucket: u8,
        pos: usize,
        contact: Contact,
    },
    /// The cached contact at `from` moved to the tail unchanged; undo: move it back.
    PendingMovedToTail { bucket: u8, from: usize },
    /// The cache's tail was promoted to the entries' tail; undo: move it back.
    Promoted { bucket: u8 },
}

impl UndoOp {
    /// The bucket the step touched.
    pub(crate) fn bucket(&self) -> usize {
        let b = match self {
            UndoOp::EntryPushed { bucket }
            | UndoOp::EntryRemoved { bucket, .. }
            | UndoOp::EntryMovedToTail { bucket, .. }
            | UndoOp::PendingPushed { bucket }
            | UndoOp::PendingRemoved { bucket, .. }
            | UndoOp::PendingMovedToTail { bucket, .. }
            | UndoOp::Promoted { bucket } => *bucket,
        };
        usize::from(b)
    }

    /// Reverses the step on its bucket; returns the change in the number of
    /// entries (the table keeps a count).
    pub(crate) fn reverse(self, b: &mut KBucket) -> isize {
        match self {
            UndoOp::EntryPushed { .. } => {
                b.entries.pop();
                -1
            }
            UndoOp::EntryRemoved { pos, contact, .. } => {
                b.entries.insert(pos.min(b.entries.len()), contact);
                1
            }
            UndoOp::EntryMovedToTail { from, .. } => {
                move_tail_back(&mut b.entries, from);
                0
            }
            UndoOp::PendingPushed { .. } => {
                b.pending.pop();
                0
            }
            UndoOp::PendingRemoved { pos, contact, .. } => {
                b.pending.insert(pos.min(b.pending.len()), contact);
                0
            }
            UndoOp::PendingMovedToTail { from, .. } => {
                move_tail_back(&mut b.pending, from);
                0
            }
            UndoOp::Promoted { .. } => match b.entries.pop() {
                Some(c) => {
                    b.pending.push(c);
                    -1
                }
                None => 0,
            },
        }
    }
}

fn move_tail_back(list: &mut Vec<Contact>, to: usize) {
    if let Some(c) = list.pop() {
        list.insert(to.min(list.len()), c);
    }
}

/// Where a mutation's undo steps go: nowhere (plain table use) or a log
/// (the registry observer). Monomorphised, so plain use pays nothing.
pub(crate) trait Recorder {
    /// Whether steps are kept; lets callers skip building costly ones.
    const ENABLED: bool;
    fn record(&mut self, op: UndoOp);
}

impl Recorder for () {
    const ENABLED: bool = false;
    #[inline]
    fn record(&mut self, _op: UndoOp) {}
}

impl Recorder for Vec<UndoOp> {
    const ENABLED: bool = true;
    #[inline]
    fn record(&mut self, op: UndoOp) {
        self.push(op);
    }
}

/// Addresses given to an insert: owned (public API) or borrowed from a
/// registry entry (copied only when they differ from the stored ones).
pub(crate) trait Addrs {
    fn same_as(&self, stored: &[SocketAddr]) -> bool;
    fn into_vec(self) -> Vec<SocketAddr>;
}

impl Addrs for Vec<SocketAddr> {
    fn same_as(&self, stored: &[SocketAddr]) -> bool {
        self.as_slice() == stored
    }
    fn into_vec(self) -> Vec<SocketAddr> {
        self
    }
}

impl Addrs for &[SocketAddr] {
    fn same_as(&self, stored: &[SocketAddr]) -> bool {
        *self == stored
    }
    fn into_vec(self) -> Vec<SocketAddr> {
        self.to_vec()
    }
}
