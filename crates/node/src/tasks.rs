//! The node's background tasks, tracked so shutdown can wait for them.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;

/// A `JoinSet` behind a lock; finished tasks are reaped on every spawn so a
/// long-running node does not accumulate them.
#[derive(Default)]
pub(crate) struct Tasks {
    set: Mutex<JoinSet<()>>,
}

impl Tasks {
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        while set.try_join_next().is_some() {}
        set.spawn(task);
    }

    /// Waits up to `grace` for every task, then aborts the rest; returns how
    /// many had to be aborted.
    pub(crate) async fn shutdown(&self, grace: Duration) -> usize {
        let mut set = std::mem::take(&mut *self.set.lock().unwrap_or_else(PoisonError::into_inner));
        let drained =
            tokio::time::timeout(grace, async { while set.join_next().await.is_some() {} }).await;
        let left = set.len();
        if drained.is_err() {
            set.abort_all();
            while set.join_next().await.is_some() {}
        }
        left
    }
}
