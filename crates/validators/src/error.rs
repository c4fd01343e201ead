//! The crate's error type.

use tazcom_identity::PeerId;
use tazcom_registry::ObserverError;

/// What went wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorError {
    /// [`ValidatorSet::revert`](crate::ValidatorSet::revert) was given a
    /// change that is not the last one applied to the set.
    #[error(
        "cannot revert the change to epoch {change_epoch}: the set is at epoch \
         {current_epoch}; only the last applied change can be reverted"
    )]
    NotLastChange {
        /// The epoch the change produced.
        change_epoch: u64,
        /// The set's current epoch.
        current_epoch: u64,
    },
    /// [`ValidatorSet::revert`](crate::ValidatorSet::revert) was given a
    /// change whose joined/left peers disagree with the set's members (it was
    /// not produced by this set). Nothing was changed.
    #[error(
        "cannot revert the change to epoch {epoch}: peer {peer} should be \
         {expected} but is not; pass the change this set returned"
    )]
    Inconsistent {
        /// The change's epoch.
        epoch: u64,
        /// The peer whose membership disagrees.
        peer: PeerId,
        /// `"a member"` or `"absent"`: what the change implies.
        expected: &'static str,
    },
    /// [`ValidatorSet::revert`](crate::ValidatorSet::revert) was given an
    /// undo notification ([`ValidatorChange::undo`](crate::ValidatorChange::undo));
    /// only forward changes can be reverted.
    #[error("cannot revert the undo notification of epoch {epoch}; revert forward changes only")]
    RevertOfUndo {
        /// The undo's epoch.
        epoch: u64,
    },
    /// A change channel capacity of 0 was requested; tokio's broadcast
    /// channel needs at least 1.
    #[error("the change channel capacity must be at least 1")]
    ZeroCapacity,
}

impl From<ValidatorError> for ObserverError {
    fn from(err: ValidatorError) -> Self {
        ObserverError::new(err)
    }
}
