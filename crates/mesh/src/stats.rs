//! Counters of what a [`MeshObserver`](crate::MeshObserver) was sent.

/// Event counters of one [`MeshObserver`](crate::MeshObserver), since it was
/// created. Read with [`MeshObserver::stats`](crate::MeshObserver::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeshObserverStats {
    /// Commit events applied.
    pub commits: u64,
    /// Replay events applied (one per registration to a non-empty registry).
    pub replays: u64,
    /// Rollbacks that undid the last commit.
    pub rollbacks: u64,
    /// Rollbacks of a commit this mesh had not applied (ignored, logged at
    /// warn level): a registry contract violation, or an observer registered
    /// as best-effort being sent a rollback.
    pub unmatched_rollbacks: u64,
    /// Registry changes about the local node itself (ignored: the local node
    /// is always a vertex and never its own neighbour).
    pub local_entries_ignored: u64,
}
