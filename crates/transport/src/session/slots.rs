//! [`SessionSlots`]: the cap on open sessions of one node.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `max` sessions at once (`TransportConfig::max_sessions`): the
/// server takes a slot before it spends any work on an inbound handshake,
/// the node before it dials. Cheap to clone; every clone is the same cap.
#[derive(Debug, Clone)]
pub struct SessionSlots {
    semaphore: Arc<Semaphore>,
    max: usize,
}

/// One place under the cap; given back when dropped.
#[derive(Debug)]
pub struct SessionSlot {
    _permit: OwnedSemaphorePermit,
}

impl SessionSlots {
    /// A cap of `max` sessions.
    pub fn new(max: usize) -> SessionSlots {
        SessionSlots {
            semaphore: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A slot, or `None` when `max` sessions are open.
    pub fn try_acquire(&self) -> Option<SessionSlot> {
        Arc::clone(&self.semaphore)
            .try_acquire_owned()
            .ok()
            .map(|permit| SessionSlot { _permit: permit })
    }

    /// Sessions open now (slots taken).
    pub fn in_use(&self) -> usize {
        self.max - self.semaphore.available_permits()
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }
}
