//! What watchers and subscribers are sent: the whole set, or what changed.

use tazcom_identity::PeerId;

use crate::quorum::{max_faulty, quorum_size};

/// The validator set at one epoch, as published on the watch channel
/// ([`ValidatorObserver::watch`](crate::ValidatorObserver::watch)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidatorSnapshot {
    /// The membership epoch: 0 for the initial membership, +1 per change of
    /// membership (see [`ValidatorSet::epoch`](crate::ValidatorSet::epoch)).
    pub epoch: u64,
    /// The members, sorted by peer id (byte order), without duplicates.
    pub members: Vec<PeerId>,
    /// The BFT quorum, [`quorum_size`]`(members.len())`: `None` when there
    /// are no members.
    pub quorum: Option<usize>,
    /// The number of faulty validators tolerated,
    /// [`max_faulty`]`(members.len())`.
    pub f: usize,
}

impl ValidatorSnapshot {
    /// A snapshot of `members` (must be sorted and deduplicated, as a
    /// [`ValidatorSet`](crate::ValidatorSet) yields them) at `epoch`.
    pub(crate) fn new(epoch: u64, members: Vec<PeerId>) -> Self {
        let n = members.len();
        Self {
            epoch,
            members,
            quorum: quorum_size(n),
            f: max_faulty(n),
        }
    }

    /// Whether `peer` is a member (binary search: O(log n)).
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.members.binary_search(peer).is_ok()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// One change of membership, as returned by
/// [`ValidatorSet::apply`](crate::ValidatorSet::apply) and sent on the
/// broadcast channel
/// ([`ValidatorObserver::subscribe_changes`](crate::ValidatorObserver::subscribe_changes)).
///
/// Applying `joined` (insert) and `left` (remove) to the previous membership
/// gives the membership at `epoch`, whether or not `undo` is set, so an
/// incremental consumer never needs to special-case undos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorChange {
    /// The epoch after the change. For a forward change it is the previous
    /// epoch + 1; for an undo it is the restored epoch (one less than the
    /// undone change's epoch).
    pub epoch: u64,
    /// Peers that became members, sorted, never empty together with `left`.
    pub joined: Vec<PeerId>,
    /// Peers that stopped being members, sorted.
    pub left: Vec<PeerId>,
    /// `true` when this undoes the previous change because its registry
    /// commit was aborted (a critical observer failed): `joined` and `left`
    /// are the undone change's `left` and `joined`.
    pub undo: bool,
}

impl ValidatorChange {
    /// The change that undoes this one: joined and left swapped, epoch one
    /// lower, marked `undo`.
    pub(crate) fn inverse(&self) -> ValidatorChange {
        ValidatorChange {
            epoch: self.epoch.wrapping_sub(1),
            joined: self.left.clone(),
            left: self.joined.clone(),
            undo: true,
        }
    }
}
