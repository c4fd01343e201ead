//! The validator set: sorted members and a membership epoch.

use std::collections::{BTreeMap, BTreeSet};

use tazcom_identity::PeerId;

use crate::error::ValidatorError;
use crate::quorum::{max_faulty, quorum_size};
use crate::snapshot::{ValidatorChange, ValidatorSnapshot};

/// A set of validators with a membership epoch; usable on its own, without
/// a registry.
///
/// - Members are kept sorted by peer id (byte order), so two sets with the
///   same members and epoch are equal (`==`) and iterate identically.
/// - The epoch is 0 for the initial membership and grows by exactly 1 per
///   call that changes membership ([`insert`](Self::insert),
///   [`remove`](Self::remove), [`apply`](Self::apply)); a call that changes
///   nothing leaves it as is. [`revert`](Self::revert) restores the previous
///   epoch. (At one change per nanosecond a `u64` lasts 584 years; it wraps
///   rather than panics.)
///
/// Operations cost O(k · log n) for k peers touched, plus the two vectors of
/// the returned [`ValidatorChange`] when membership changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidatorSet {
    members: BTreeSet<PeerId>,
    epoch: u64,
}

impl ValidatorSet {
    /// An empty set at epoch 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of `members` (duplicates collapse) at epoch 0.
    pub fn with_members(members: impl IntoIterator<Item = PeerId>) -> Self {
        Self {
            members: members.into_iter().collect(),
            epoch: 0,
        }
    }

    /// The membership epoch (see the type docs).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The number of members, `n`.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `peer` is a member. O(log n).
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.members.contains(peer)
    }

    /// The members in ascending peer-id order.
    pub fn members(&self) -> impl ExactSizeIterator<Item = &PeerId> + '_ {
        self.members.iter()
    }

    /// The members in ascending peer-id order, copied. O(n).
    pub fn to_vec(&self) -> Vec<PeerId> {
        self.members.iter().copied().collect()
    }

    /// The number of faulty validators tolerated: [`max_faulty`]`(len())`,
    /// `⌊(n − 1) / 3⌋`, 0 when empty.
    pub fn f(&self) -> usize {
        max_faulty(self.len())
    }

    /// The BFT quorum: [`quorum_size`]`(len())`, `n − f`; `None` when the set
    /// is empty (no decision can be taken).
    pub fn quorum(&self) -> Option<usize> {
        quorum_size(self.len())
    }

    /// The current epoch and members, with `f` and quorum. O(n).
    pub fn snapshot(&self) -> ValidatorSnapshot {
        ValidatorSnapshot::new(self.epoch, self.to_vec())
    }

    /// Adds `peer`. Returns the change (epoch + 1) when it was not a member,
    /// `None` (epoch unchanged) when it already was.
    pub fn insert(&mut self, peer: PeerId) -> Option<ValidatorChange> {
        self.apply([(peer, true)])
    }

    /// Removes `peer`. Returns the change (epoch + 1) when it was a member,
    /// `None` (epoch unchanged) when it was not.
    pub fn remove(&mut self, peer: &PeerId) -> Option<ValidatorChange> {
        self.apply([(*peer, false)])
    }

    /// Sets the membership of several peers as one change: each item is
    /// `(peer, should_be_member)`, applied in order, so for a peer listed more
    /// than once the last item wins.
    ///
    /// Returns the net change, with the epoch bumped once, when membership
    /// differs from before; `None` (epoch unchanged) otherwise, e.g. when a
    /// peer is added and removed again within the same call.
    pub fn apply(
        &mut self,
        updates: impl IntoIterator<Item = (PeerId, bool)>,
    ) -> Option<ValidatorChange> {
        let mut updates = updates.into_iter();
        let first = updates.next()?;
        // One update (the common case): no map, no allocation unless it changes something.
        let Some(second) = updates.next() else {
            return self.commit(std::iter::once(first));
        };
        let mut wanted = BTreeMap::new();
        for (peer, member) in [first, second].into_iter().chain(updates) {
            wanted.insert(peer, member);
        }
        self.commit(wanted.into_iter())
    }

    /// Applies the final wanted membership of distinct peers (in ascending
    /// order when there are several), bumping the epoch if anything changed.
    fn commit(&mut self, wanted: impl Iterator<Item = (PeerId, bool)>) -> Option<ValidatorChange> {
        let (mut joined, mut left) = (Vec::new(), Vec::new());
        for (peer, member) in wanted {
            if member && self.members.insert(peer) {
                joined.push(peer);
            } else if !member && self.members.remove(&peer) {
                left.push(peer);
            }
        }
        if joined.is_empty() && left.is_empty() {
            return None;
        }
        self.epoch = self.epoch.wrapping_add(1);
        Some(ValidatorChange {
            epoch: self.epoch,
            joined,
            left,
            undo: false,
        })
    }

    /// Undoes `change`, the last change this set returned: removes its
    /// `joined`, re-inserts its `left` and restores the previous epoch, so the
    /// set is equal (`==`) to what it was before the change.
    ///
    /// # Errors
    ///
    /// Nothing is modified when an error is returned.
    /// - [`ValidatorError::RevertOfUndo`]: `change.undo` is set.
    /// - [`ValidatorError::NotLastChange`]: the set's epoch is not
    ///   `change.epoch` (another change came after it, or it was already
    ///   reverted).
    /// - [`ValidatorError::Inconsistent`]: a joined peer is not a member or a
    ///   left peer is one (the change did not come from this set).
    pub fn revert(&mut self, change: &ValidatorChange) -> Result<(), ValidatorError> {
        self.check_revertible(change)?;
        for peer in &change.joined {
            self.members.remove(peer);
        }
        self.members.extend(change.left.iter().copied());
        self.epoch = self.epoch.wrapping_sub(1);
        Ok(())
    }

    fn check_revertible(&self, change: &ValidatorChange) -> Result<(), ValidatorError> {
        if change.undo {
            return Err(ValidatorError::RevertOfUndo {
                epoch: change.epoch,
            });
        }
        if change.epoch != self.epoch {
            return Err(ValidatorError::NotLastChange {
                change_epoch: change.epoch,
                current_epoch: self.epoch,
            });
        }
        let inconsistent = |peer: &PeerId, expected| ValidatorError::Inconsistent {
            epoch: change.epoch,
            peer: *peer,
            expected,
        };
        if let Some(peer) = change.joined.iter().find(|p| !self.contains(p)) {
            return Err(inconsistent(peer, "a member"));
        }
        if let Some(peer) = change.left.iter().find(|p| self.contains(p)) {
            return Err(inconsistent(peer, "absent"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> PeerId {
        PeerId::from_bytes([n; 32])
    }

    #[test]
    fn insert_and_remove_bump_the_epoch_only_when_membership_changes() {
        let mut set = ValidatorSet::new();
        assert_eq!(set.epoch(), 0);
        let change = set.insert(id(1)).expect("a new member");
        assert_eq!(
            change,
            ValidatorChange {
                epoch: 1,
                joined: vec![id(1)],
                left: vec![],
                undo: false
            }
        );
        assert_eq!(set.insert(id(1)), None, "already a member");
        assert_eq!(set.epoch(), 1);
        assert_eq!(set.remove(&id(2)), None, "never a member");
        assert_eq!(set.epoch(), 1);
        assert_eq!(
            set.remove(&id(1)).map(|c| (c.epoch, c.left)),
            Some((2, vec![id(1)]))
        );
        assert!(set.is_empty());
    }

    #[test]
    fn apply_reports_the_net_change_with_one_epoch_bump() {
        let mut set = ValidatorSet::with_members([id(5), id(1)]);
        let change = set
            .apply([
                (id(3), true),
                (id(1), false),
                (id(9), true),
                (id(9), false),
                (id(4), true),
            ])
            .expect("membership changed");
        assert_eq!(change.epoch, 1);
        assert_eq!(change.joined, vec![id(3), id(4)], "sorted, 9 netted out");
        assert_eq!(change.left, vec![id(1)]);
        assert_eq!(set.to_vec(), vec![id(3), id(4), id(5)]);
    }

    #[test]
    fn apply_that_nets_out_changes_nothing() {
        let mut set = ValidatorSet::with_members([id(1)]);
        let before = set.clone();
        assert_eq!(
            set.apply([(id(2), true), (id(2), false), (id(1), true)]),
            None
        );
        assert_eq!(set.apply([]), None);
        assert_eq!(set, before);
    }

    #[test]
    fn members_are_sorted_and_deduplicated() {
        let set = ValidatorSet::with_members([id(7), id(2), id(7), id(4)]);
        assert_eq!(set.to_vec(), vec![id(2), id(4), id(7)]);
        assert_eq!(set.members().len(), 3);
        assert_eq!(set.epoch(), 0);
    }

    #[test]
    fn f_and_quorum_follow_the_size() {
        let mut set = ValidatorSet::new();
        assert_eq!((set.f(), set.quorum()), (0, None));
        let expected = [
            (0, Some(1)),
            (0, Some(2)),
            (0, Some(3)),
            (1, Some(3)),
            (1, Some(4)),
            (1, Some(5)),
            (2, Some(5)),
            (2, Some(6)),
            (2, Some(7)),
            (3, Some(7)),
        ];
        for (i, (f, quorum)) in (1u8..).zip(expected) {
            set.insert(id(i));
            assert_eq!((set.f(), set.quorum()), (f, quorum), "n = {i}");
            let snap = set.snapshot();
            assert_eq!(
                (snap.f, snap.quorum, snap.len()),
                (f, quorum, usize::from(i))
            );
        }
    }

    #[test]
    fn revert_restores_members_and_epoch_exactly() {
        let mut set = ValidatorSet::with_members([id(1), id(2)]);
        set.insert(id(3));
        let before = set.clone();
        let change = set.apply([(id(1), false), (id(4), true)]).expect("changed");
        set.revert(&change).expect("last change");
        assert_eq!(set, before);
        assert_eq!(set.epoch(), 1);
    }

    #[test]
    fn revert_refuses_anything_but_the_last_change_and_changes_nothing() {
        let mut set = ValidatorSet::new();
        let first = set.insert(id(1)).expect("changed");
        let second = set.insert(id(2)).expect("changed");
        let before = set.clone();
        assert_eq!(
            set.revert(&first),
            Err(ValidatorError::NotLastChange {
                change_epoch: 1,
                current_epoch: 2
            })
        );
        assert!(matches!(
            set.revert(&second.inverse()),
            Err(ValidatorError::RevertOfUndo { epoch: 1 })
        ));
        let forged = ValidatorChange {
            epoch: 2,
            joined: vec![id(9)],
            left: vec![],
            undo: false,
        };
        assert!(matches!(
            set.revert(&forged),
            Err(ValidatorError::Inconsistent { peer, expected: "a member", .. }) if peer == id(9)
        ));
        let forged_left = ValidatorChange {
            joined: vec![],
            left: vec![id(1)],
            ..forged
        };
        assert!(matches!(
            set.revert(&forged_left),
            Err(ValidatorError::Inconsistent {
                expected: "absent",
                ..
            })
        ));
        assert_eq!(set, before);
    }

    #[test]
    fn snapshot_contains_uses_the_sorted_members() {
        let set = ValidatorSet::with_members([id(3), id(1)]);
        let snap = set.snapshot();
        assert_eq!(snap.members, vec![id(1), id(3)]);
        assert!(snap.contains(&id(3)));
        assert!(!snap.contains(&id(2)));
    }
}
