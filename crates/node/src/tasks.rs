//! The node's background tasks, tracked so shutdown can wait for them.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::Instrument;

/// A `JoinSet` behind a lock; finished tasks are reaped on every spawn so a
/// long-running node does not accumulate them. Every task runs inside the
/// node's span (`node{peer=<short id>}`), so its logs say which node.
pub(crate) struct Tasks {
    set: Mutex<JoinSet<()>>,
    span: tracing::Span,
}

impl Tasks {
    pub(crate) fn new(span: tracing::Span) -> Self {
        Self {
            set: Mutex::new(JoinSet::new()),
            span,
        }
    }

    /// The node's span.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        while set.try_join_next().is_some() {}
        set.spawn(task.instrument(self.span.clone()));
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
