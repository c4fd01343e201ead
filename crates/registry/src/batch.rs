//! Batch updates: several operations committed as one atomic event.

use std::sync::Arc;

use tazcom_identity::PeerId;

use crate::entry::PeerEntry;
use crate::error::RegistryError;
use crate::event::Change;
use crate::registry::PeerRegistry;
use crate::state::Op;

/// Operations collected for one atomic commit ([`PeerRegistry::batch`]).
///
/// Each operation sees the effect of the ones before it. On commit,
/// observers receive one [`EventKind::Batch`](crate::EventKind::Batch) with
/// the resulting changes in order; either all of them are committed or, if
/// a critical observer fails, none.
#[derive(Debug)]
#[must_use = "a batch does nothing until it is committed"]
pub struct BatchUpdate {
    registry: PeerRegistry,
    ops: Vec<Op>,
}

/// What a committed batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchOutcome {
    /// The commit's sequence number; `None` when the batch changed nothing
    /// (then nothing was dispatched).
    pub seq: Option<u64>,
    /// Peers added.
    pub added: usize,
    /// Entries replaced.
    pub updated: usize,
    /// Peers removed.
    pub removed: usize,
}

impl BatchUpdate {
    pub(crate) fn new(registry: PeerRegistry) -> Self {
        Self {
            registry,
            ops: Vec::new(),
        }
    }

    /// Adds an upsert (see [`PeerRegistry::upsert`]).
    pub fn upsert(&mut self, entry: PeerEntry) -> &mut Self {
        self.ops.push(Op::Upsert(Arc::new(entry)));
        self
    }

    /// Adds a removal by peer id (see [`PeerRegistry::remove`]).
    pub fn remove(&mut self, peer_id: &PeerId) -> &mut Self {
        self.ops.push(Op::Remove(*peer_id));
        self
    }

    /// Adds a removal by DNS-SD instance name (see
    /// [`PeerRegistry::remove_by_instance`]).
    pub fn remove_by_instance(&mut self, instance_name: &str) -> &mut Self {
        self.ops
            .push(Op::RemoveByInstance(instance_name.to_owned()));
        self
    }

    /// Number of operations collected.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no operation was collected.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Commits every operation atomically.
    ///
    /// # Errors
    /// [`RegistryError::Aborted`] / [`RegistryError::TimedOut`] when a
    /// critical observer refused the batch; then no operation took effect.
    pub async fn commit(self) -> Result<BatchOutcome, RegistryError> {
        let event = self.registry.commit_batch(self.ops).await?;
        let mut outcome = BatchOutcome::default();
        if let Some(event) = event {
            outcome.seq = Some(event.seq);
            for change in event.changes() {
                match change {
                    Change::Added(_) => outcome.added += 1,
                    Change::Updated { .. } => outcome.updated += 1,
                    Change::Removed(_) => outcome.removed += 1,
                }
            }
        }
        Ok(outcome)
    }
}
