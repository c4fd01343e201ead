//! The observer traits and how an observer is registered.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::event::RegistryEvent;

/// Why an observer refused or failed to apply an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverError {
    // A `Box<str>` (16 bytes) keeps `Result<(), ObserverError>` small enough
    // to be returned in registers on the dispatch hot path.
    message: Box<str>,
}

impl ObserverError {
    /// An error with a message saying what went wrong.
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string().into_boxed_str(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ObserverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ObserverError {}

/// An observer that applies events synchronously, inline on the committing
/// task: the fast path (no allocation, no clock read per event).
///
/// Contract (see `docs/registry.md`):
/// - Apply each [`Change`](crate::Change) as an assignment: insert-or-replace
///   the new entry, remove-if-present the removed one. Then a
///   [`Rollback`](crate::Origin::Rollback) event restores the previous state
///   exactly, even if the observer failed half-way through a batch.
/// - Return quickly and never block: a sync observer cannot be pre-empted.
///   Anything that waits (I/O, locks held by other tasks) belongs in an
///   [`AsyncObserver`], which gets a real timeout.
pub trait Observer: Send + Sync + 'static {
    /// A name for logs and stats.
    fn name(&self) -> &str;

    /// Apply one event. An `Err` from a critical observer aborts the commit.
    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError>;
}

/// An observer that applies events asynchronously. Each delivery runs under
/// the observer's timeout ([`ObserverOptions::timeout`], or
/// [`ObserverRegistryConfig::default_async_timeout`](crate::ObserverRegistryConfig::default_async_timeout));
/// a delivery that runs out of time is cancelled and counts as a timeout.
///
/// The same assignment contract as [`Observer`] applies.
#[async_trait]
pub trait AsyncObserver: Send + Sync + 'static {
    /// A name for logs and stats.
    fn name(&self) -> &str;

    /// Apply one event. An `Err` (or a timeout) from a critical observer
    /// aborts the commit.
    async fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError>;
}

/// Whether an observer's failure aborts the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Criticality {
    /// Delivered before the change becomes visible. A failure or timeout
    /// aborts the commit: the registry stays as it was, and every critical
    /// observer that was sent the change is sent its rollback.
    Critical,
    /// Delivered after the change is committed. A failure or timeout is
    /// logged and counted; it does not abort anything.
    BestEffort,
}

/// How an observer is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObserverOptions {
    /// Critical or best-effort.
    pub criticality: Criticality,
    /// Per-delivery timeout. For an [`AsyncObserver`] the delivery is
    /// cancelled when it expires (`None`: the registry's default). For a sync
    /// [`Observer`] it is checked when the call returns (a sync call cannot be
    /// interrupted), which costs two clock reads per delivery; `None` turns
    /// the check off.
    pub timeout: Option<Duration>,
}

impl ObserverOptions {
    /// Critical, default timeout.
    pub fn critical() -> Self {
        Self {
            criticality: Criticality::Critical,
            timeout: None,
        }
    }

    /// Best-effort, default timeout.
    pub fn best_effort() -> Self {
        Self {
            criticality: Criticality::BestEffort,
            timeout: None,
        }
    }

    /// The same options with a per-delivery timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Identifies a registered observer; pass it to
/// [`PeerRegistry::unregister_observer`](crate::PeerRegistry::unregister_observer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObserverHandle(pub(crate) u64);

impl ObserverHandle {
    /// The numeric id (unique within one registry, never reused).
    pub fn id(&self) -> u64 {
        self.0
    }
}

/// A registered observer, sync or async.
#[derive(Clone)]
pub(crate) enum ObserverRef {
    Sync(Arc<dyn Observer>),
    Async(Arc<dyn AsyncObserver>),
}

impl ObserverRef {
    pub(crate) fn name(&self) -> &str {
        match self {
            ObserverRef::Sync(o) => o.name(),
            ObserverRef::Async(o) => o.name(),
        }
    }

    /// Whether both refer to the same observer object.
    pub(crate) fn same_as(&self, other: &ObserverRef) -> bool {
        self.addr() == other.addr()
    }

    fn addr(&self) -> *const () {
        match self {
            ObserverRef::Sync(o) => Arc::as_ptr(o).cast(),
            ObserverRef::Async(o) => Arc::as_ptr(o).cast(),
        }
    }

    /// True when the registry holds the only reference: the owner dropped
    /// the observer. The registry keeps a strong reference but never counts
    /// as an owner, which gives weak-reference semantics without an atomic
    /// upgrade per delivery (see docs/registry.md for the measurement).
    pub(crate) fn owner_dropped(&self) -> bool {
        match self {
            ObserverRef::Sync(o) => Arc::strong_count(o) == 1,
            ObserverRef::Async(o) => Arc::strong_count(o) == 1,
        }
    }
}
