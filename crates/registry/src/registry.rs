//! The peer registry: the table, its readers, and the commit path.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::Instant;

use tazcom_identity::PeerId;

use crate::batch::BatchUpdate;
use crate::config::ObserverRegistryConfig;
use crate::dispatch::{Delivery, Dispatcher, Slot, Stage};
use crate::entry::PeerEntry;
use crate::error::RegistryError;
use crate::event::{Change, EventKind, Origin, RegistryEvent};
use crate::observer::{
    AsyncObserver, Criticality, Observer, ObserverHandle, ObserverOptions, ObserverRef,
};
use crate::state::{plan_batch, plan_one, Op, State};
use crate::stats::{bump, Counters, EvictedObserver, ObserverCounters, RegistryStats};

/// What an [`upsert`](PeerRegistry::upsert) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// The peer was new; observers were sent `Change::Added`.
    Added,
    /// The stored entry differed; observers were sent `Change::Updated`.
    Updated,
    /// The stored entry was equal (ignoring `first_seen_ms`, which the
    /// registry keeps); nothing was dispatched.
    Unchanged,
}

/// The table of known peers, with observers that follow every change.
///
/// Cheap to clone: clones share one registry. Reads ([`get`](Self::get),
/// [`snapshot`](Self::snapshot), [`len`](Self::len)) take a short read lock
/// and never wait for an observer. Writes are commits: they are serialized,
/// dispatched to observers in commit order and atomic (see `docs/registry.md`).
#[derive(Clone)]
pub struct PeerRegistry {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    state: RwLock<State>,
    dispatcher: tokio::sync::Mutex<Dispatcher>,
    counters: Counters,
    committed_seq: AtomicU64,
    observer_list: Mutex<Vec<Arc<ObserverCounters>>>,
    evicted: Mutex<VecDeque<EvictedObserver>>,
    eviction_log_len: usize,
}

impl Default for PeerRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PeerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerRegistry")
            .field("peers", &self.len())
            .field("last_seq", &self.last_seq())
            .finish_non_exhaustive()
    }
}

impl PeerRegistry {
    /// An empty registry with the default [`ObserverRegistryConfig`].
    pub fn new() -> Self {
        Self::build(ObserverRegistryConfig::default())
    }

    /// An empty registry with `config`.
    ///
    /// # Errors
    /// [`RegistryError::InvalidConfig`] when a field is out of range.
    pub fn with_config(config: ObserverRegistryConfig) -> Result<Self, RegistryError> {
        config.validate()?;
        Ok(Self::build(config))
    }

    fn build(config: ObserverRegistryConfig) -> Self {
        let eviction_log_len = config.eviction_log_len;
        Self {
            inner: Arc::new(Inner {
                state: RwLock::new(State::default()),
                dispatcher: tokio::sync::Mutex::new(Dispatcher::new(config)),
                counters: Counters::default(),
                committed_seq: AtomicU64::new(0),
                observer_list: Mutex::new(Vec::new()),
                evicted: Mutex::new(VecDeque::new()),
                eviction_log_len,
            }),
        }
    }

    /// Inserts or replaces the entry for `entry.peer_id`. The stored
    /// `first_seen_ms` is kept on update.
    ///
    /// # Errors
    /// [`RegistryError::Aborted`] / [`RegistryError::TimedOut`] when a
    /// critical observer refused the change; the registry is then unchanged.
    pub async fn upsert(&self, entry: PeerEntry) -> Result<Upsert, RegistryError> {
        let event = self
            .inner
            .commit(Ops::One(Op::Upsert(Arc::new(entry))))
            .await?;
        Ok(upsert_outcome(event.as_deref()))
    }

    /// [`upsert`](Self::upsert) of an entry already in an `Arc` (stored as
    /// is when it is new and nobody else holds it).
    ///
    /// # Errors
    /// As for [`upsert`](Self::upsert).
    pub async fn upsert_arc(&self, entry: Arc<PeerEntry>) -> Result<Upsert, RegistryError> {
        let event = self.inner.commit(Ops::One(Op::Upsert(entry))).await?;
        Ok(upsert_outcome(event.as_deref()))
    }

    /// Removes the peer; returns its last entry, `None` if it was not stored.
    ///
    /// # Errors
    /// As for [`upsert`](Self::upsert).
    pub async fn remove(&self, peer_id: &PeerId) -> Result<Option<Arc<PeerEntry>>, RegistryError> {
        self.removed(Ops::One(Op::Remove(*peer_id))).await
    }

    /// Removes the peer that holds the DNS-SD instance name (e.g. on an mDNS
    /// goodbye, which names only the instance). O(1) through the inverse
    /// index. Returns the removed entry, `None` if no peer holds the name.
    ///
    /// # Errors
    /// As for [`upsert`](Self::upsert).
    pub async fn remove_by_instance(
        &self,
        instance_name: &str,
    ) -> Result<Option<Arc<PeerEntry>>, RegistryError> {
        self.removed(Ops::One(Op::RemoveByInstance(instance_name.to_owned())))
            .await
    }

    async fn removed(&self, ops: Ops) -> Result<Option<Arc<PeerEntry>>, RegistryError> {
        let event = self.inner.commit(ops).await?;
        Ok(event.and_then(|e| e.changes().first().and_then(Change::before).cloned()))
    }

    /// Starts a batch: operations collected now and committed atomically by
    /// [`BatchUpdate::commit`].
    pub fn batch(&self) -> BatchUpdate {
        BatchUpdate::new(self.clone())
    }

    pub(crate) async fn commit_batch(
        &self,
        ops: Vec<Op>,
    ) -> Result<Option<Arc<RegistryEvent>>, RegistryError> {
        self.inner.commit(Ops::Batch(ops)).await
    }

    /// The stored entry for `peer_id`.
    pub fn get(&self, peer_id: &PeerId) -> Option<Arc<PeerEntry>> {
        self.inner.read().peers.get(peer_id).cloned()
    }

    /// The entry of the peer that holds DNS-SD instance name `instance_name`.
    pub fn get_by_instance(&self, instance_name: &str) -> Option<Arc<PeerEntry>> {
        let state = self.inner.read();
        let id = state.by_instance.get(instance_name)?;
        state.peers.get(id).cloned()
    }

    /// Whether `peer_id` is stored.
    pub fn contains(&self, peer_id: &PeerId) -> bool {
        self.inner.read().peers.contains_key(peer_id)
    }

    /// Number of stored peers.
    pub fn len(&self) -> usize {
        self.inner.read().peers.len()
    }

    /// Whether no peer is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every stored entry, sorted by peer id; a consistent copy taken
    /// between two commits.
    pub fn snapshot(&self) -> Vec<Arc<PeerEntry>> {
        let mut all: Vec<_> = self.inner.read().peers.values().cloned().collect();
        all.sort_unstable_by_key(|e| e.peer_id);
        all
    }

    /// Sequence number of the last committed event (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.inner.committed_seq.load(Relaxed)
    }

    /// Registers a sync observer. The registry does not own it: once every
    /// other `Arc` to it is dropped, it is pruned at the next commit. If the
    /// registry holds peers, the observer is first sent one
    /// [`Origin::Replay`] batch of them, so it starts in step.
    ///
    /// # Errors
    /// [`RegistryError::ObserverLimit`], [`RegistryError::AlreadyRegistered`],
    /// [`RegistryError::ReplayFailed`].
    pub async fn register_observer<O: Observer>(
        &self,
        observer: &Arc<O>,
        options: ObserverOptions,
    ) -> Result<ObserverHandle, RegistryError> {
        let observer: Arc<dyn Observer> = observer.clone();
        self.inner
            .register(ObserverRef::Sync(observer), options)
            .await
    }

    /// Registers an async observer; otherwise as
    /// [`register_observer`](Self::register_observer).
    ///
    /// # Errors
    /// As for [`register_observer`](Self::register_observer).
    pub async fn register_async_observer<O: AsyncObserver>(
        &self,
        observer: &Arc<O>,
        options: ObserverOptions,
    ) -> Result<ObserverHandle, RegistryError> {
        let observer: Arc<dyn AsyncObserver> = observer.clone();
        self.inner
            .register(ObserverRef::Async(observer), options)
            .await
    }

    /// Unregisters an observer; `false` if the handle is not registered
    /// (already unregistered, pruned or evicted). Waits for a commit in
    /// progress, so the observer has seen every commit before this call.
    pub async fn unregister_observer(&self, handle: ObserverHandle) -> bool {
        let mut d = self.inner.lock().await;
        let found = [Criticality::Critical, Criticality::BestEffort]
            .into_iter()
            .find_map(|c| {
                let slots = d.slots_mut(c);
                let i = slots.iter().position(|s| s.handle == handle)?;
                Some(slots.remove(i))
            })
            .is_some();
        if found {
            d.plain_dirty = true;
            self.inner.forget(&[handle]);
        }
        found
    }

    /// Prunes observers whose owner dropped them now, rather than at the
    /// next commit; returns how many.
    pub async fn prune_observers(&self) -> usize {
        let mut d = self.inner.lock().await;
        self.inner.prune(&mut d)
    }

    /// A snapshot of the statistics. Never waits for a commit.
    pub fn stats(&self) -> RegistryStats {
        let c = &self.inner.counters;
        let per_observer: Vec<_> = lock(&self.inner.observer_list)
            .iter()
            .map(|o| o.snapshot(c))
            .collect();
        RegistryStats {
            peers: self.len(),
            observers: per_observer.len(),
            commits: c.commits.load(Relaxed),
            deliveries: c.deliveries.load(Relaxed),
            failures: c.failures.load(Relaxed),
            timeouts: c.timeouts.load(Relaxed),
            rollbacks: c.rollbacks.load(Relaxed),
            rollback_failures: c.rollback_failures.load(Relaxed),
            pruned: c.pruned.load(Relaxed),
            evictions: c.evictions.load(Relaxed),
            evicted: lock(&self.inner.evicted).iter().cloned().collect(),
            per_observer,
        }
    }
}

fn upsert_outcome(event: Option<&RegistryEvent>) -> Upsert {
    match event.map(RegistryEvent::changes) {
        Some([Change::Added(_)]) => Upsert::Added,
        Some(_) => Upsert::Updated,
        None => Upsert::Unchanged,
    }
}

/// How far a sync segment of phase 1 got.
enum Progress {
    Done,
    Failed(usize),
    /// Observer `i` is async: the commit must await it.
    Async(usize),
}

/// A single operation or a batch.
enum Ops {
    One(Op),
    Batch(Vec<Op>),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// If a commit future is dropped before it finishes, finishes it on a new
/// task (the next registry operation would otherwise do it first).
struct RecoverOnDrop<'a> {
    inner: &'a Arc<Inner>,
    armed: bool,
}

impl Drop for RecoverOnDrop<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let inner = Arc::clone(self.inner);
            rt.spawn(async move {
                drop(inner.lock().await);
            });
        }
    }
}

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the commit lock and finishes any commit whose caller went away.
    async fn lock(&self) -> tokio::sync::MutexGuard<'_, Dispatcher> {
        // `try_lock` first: an uncontended commit skips the acquire future.
        let mut d = match self.dispatcher.try_lock() {
            Ok(d) => d,
            Err(_) => self.dispatcher.lock().await,
        };
        if d.stage.is_some() {
            self.recover(&mut d).await;
        }
        d
    }

    /// Plans, dispatches and applies one commit. `Ok(None)`: nothing changed.
    ///
    /// Sync observers are delivered by plain loops; only an async observer
    /// makes the commit await, and only then is the recovery position
    /// recorded (a commit can only be cancelled at an await).
    async fn commit(
        self: &Arc<Self>,
        ops: Ops,
    ) -> Result<Option<Arc<RegistryEvent>>, RegistryError> {
        // `try_lock` first: an uncontended commit skips the acquire future.
        let mut d = match self.dispatcher.try_lock() {
            Ok(d) => d,
            Err(_) => self.dispatcher.lock().await,
        };
        if d.stage.is_some() {
            self.recover(&mut d).await;
        }
        let kind = {
            let state = self.read();
            match ops {
                Ops::One(op) => plan_one(&state, op).map(EventKind::Single),
                Ops::Batch(ops) => Some(plan_batch(&state, ops))
                    .filter(|v| !v.is_empty())
                    .map(EventKind::Batch),
            }
        };
        let Some(kind) = kind else { return Ok(None) };
        let event = Arc::new(RegistryEvent {
            seq: d.seq + 1,
            origin: Origin::Commit,
            kind,
        });
        let mut guard = RecoverOnDrop {
            inner: self,
            armed: true,
        };
        let mut lap = d.sample_this_commit().then(Instant::now);
        bump(&self.counters.passes[Criticality::Critical as usize], 1);
        let mut progress = self.critical_from(&mut d, &event, 0, &mut lap);
        while let Progress::Async(i) = progress {
            d.stage = Some(Stage::Critical {
                event: Arc::clone(&event),
                sent: i + 1,
            });
            let c = Criticality::Critical;
            let done = d
                .deliver_async(c, i, &event, &mut lap, &self.counters)
                .await;
            bump(&self.counters.deliveries, 1);
            progress = match done {
                Delivery::Failed => Progress::Failed(i),
                _ => self.critical_from(&mut d, &event, i + 1, &mut lap),
            };
        }
        let result = match progress {
            Progress::Failed(i) => {
                self.missed(&d, i + 1);
                let failure = d.take_failure(Criticality::Critical, i);
                let name = d.critical[i].observer.name().to_owned();
                self.start_rollback(&mut d, &event, i + 1).await;
                Err(failure.into_abort(&name))
            }
            _ => {
                d.stage = None;
                self.apply(&mut d, &event);
                bump(&self.counters.passes[Criticality::BestEffort as usize], 1);
                if let Some(i) = self.best_effort_from(&mut d, &event, 0, &mut lap) {
                    self.finish_best_effort(&mut d, &event, i, lap).await;
                }
                Ok(Some(event))
            }
        };
        guard.armed = false;
        if d.eviction_due {
            self.evict(&mut d);
        }
        if std::mem::take(&mut d.prune_due) {
            self.prune(&mut d);
        }
        result
    }

    /// Phase 1 from observer `from`: sync critical observers in registration
    /// order, stopping at a failure or at an async observer.
    fn critical_from(
        &self,
        d: &mut Dispatcher,
        event: &Arc<RegistryEvent>,
        from: usize,
        lap: &mut Option<Instant>,
    ) -> Progress {
        let c = Criticality::Critical;
        let n = d.critical.len();
        if lap.is_none() && d.is_plain(c) {
            return match d.deliver_plain(c, from, event, &self.counters) {
                None => {
                    bump(&self.counters.deliveries, n.saturating_sub(from) as u64);
                    Progress::Done
                }
                Some(i) => {
                    bump(&self.counters.deliveries, (i + 1 - from) as u64);
                    Progress::Failed(i)
                }
            };
        }
        for i in from..n {
            match d.try_deliver_sync(c, i, event, lap, &self.counters) {
                Delivery::Ok => {}
                Delivery::Failed => {
                    bump(&self.counters.deliveries, (i + 1 - from) as u64);
                    return Progress::Failed(i);
                }
                Delivery::NotSync => {
                    bump(&self.counters.deliveries, (i - from) as u64);
                    return Progress::Async(i);
                }
            }
        }
        bump(&self.counters.deliveries, n.saturating_sub(from) as u64);
        Progress::Done
    }

    /// The critical pass stopped before observers `[from, ..)`.
    fn missed(&self, d: &Dispatcher, from: usize) {
        for slot in d.critical.iter().skip(from) {
            bump(&slot.counters.missed, 1);
        }
    }

    /// The commit is decided: make it visible.
    fn apply(&self, d: &mut Dispatcher, event: &Arc<RegistryEvent>) {
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            let changes = event.changes();
            let added = changes
                .iter()
                .filter(|c| matches!(c, Change::Added(_)))
                .count();
            if added > 1 {
                state.peers.reserve(added);
            }
            for change in changes {
                state.apply(change);
            }
        }
        d.seq = event.seq;
        self.committed_seq.store(event.seq, Relaxed);
        bump(&self.counters.commits, 1);
    }

    /// Phase 2 from observer `from`: sync best-effort observers; returns the
    /// index of the first async one. Failures are counted and logged when
    /// settled; they abort nothing.
    fn best_effort_from(
        &self,
        d: &mut Dispatcher,
        event: &Arc<RegistryEvent>,
        from: usize,
        lap: &mut Option<Instant>,
    ) -> Option<usize> {
        let c = Criticality::BestEffort;
        let n = d.best_effort.len();
        if lap.is_none() && d.is_plain(c) {
            return match d.deliver_plain(c, from, event, &self.counters) {
                None => {
                    bump(&self.counters.deliveries, n.saturating_sub(from) as u64);
                    None
                }
                Some(i) => {
                    // Failures abort nothing: go on (the class is not plain now).
                    bump(&self.counters.deliveries, (i + 1 - from) as u64);
                    self.best_effort_from(d, event, i + 1, lap)
                }
            };
        }
        for i in from..n {
            if d.try_deliver_sync(c, i, event, lap, &self.counters) == Delivery::NotSync {
                bump(&self.counters.deliveries, (i - from) as u64);
                return Some(i);
            }
        }
        bump(&self.counters.deliveries, n.saturating_sub(from) as u64);
        None
    }

    /// Phase 2 from the async observer `i` on (the slow path).
    async fn finish_best_effort(
        &self,
        d: &mut Dispatcher,
        event: &Arc<RegistryEvent>,
        mut i: usize,
        mut lap: Option<Instant>,
    ) {
        loop {
            // Cancelled during this await: recovery resumes after `i`.
            d.stage = Some(Stage::BestEffort {
                event: Arc::clone(event),
                next: i + 1,
            });
            let c = Criticality::BestEffort;
            d.deliver_async(c, i, event, &mut lap, &self.counters).await;
            bump(&self.counters.deliveries, 1);
            match self.best_effort_from(d, event, i + 1, &mut lap) {
                Some(next) => i = next,
                None => break,
            }
        }
        d.stage = None;
    }

    /// Rolls back critical observers `[0, pending)`, last first.
    async fn start_rollback(&self, d: &mut Dispatcher, event: &RegistryEvent, pending: usize) {
        let rollback = Arc::new(event.rollback());
        tracing::warn!(
            seq = event.seq,
            observers = pending,
            "commit aborted; rolling back"
        );
        bump(&self.counters.rollbacks, 1);
        d.stage = Some(Stage::Rollback {
            rollback: Arc::clone(&rollback),
            pending,
        });
        self.run_rollback(d, &rollback).await;
    }

    async fn run_rollback(&self, d: &mut Dispatcher, rollback: &Arc<RegistryEvent>) {
        while let Some(Stage::Rollback { pending, .. }) = &d.stage {
            let Some(i) = pending.checked_sub(1) else {
                break;
            };
            let c = Criticality::Critical;
            let done = d.deliver(c, i, rollback, &mut None, &self.counters).await;
            bump(&self.counters.deliveries, 1);
            bump(&d.critical[i].counters.extra_deliveries, 1);
            if done == Delivery::Failed {
                d.take_failure(c, i);
                bump(&self.counters.rollback_failures, 1);
                tracing::error!(
                    observer = d.critical[i].observer.name(),
                    seq = rollback.seq,
                    "rollback failed: this observer may now disagree with the registry"
                );
            }
            // Only now: a rollback cut short is sent again (it is idempotent).
            if let Some(Stage::Rollback { pending, .. }) = &mut d.stage {
                *pending = i;
            }
        }
        d.stage = None;
    }

    /// Finishes a commit whose caller dropped it: undecided → rolled back,
    /// rollback or phase 2 → completed.
    async fn recover(&self, d: &mut Dispatcher) {
        match &d.stage {
            None => {}
            Some(Stage::Critical { event, sent }) => {
                tracing::warn!(
                    seq = event.seq,
                    "commit cancelled by its caller before it was decided"
                );
                let (event, sent) = (Arc::clone(event), *sent);
                bump(&self.counters.deliveries, sent as u64);
                self.missed(d, sent);
                self.start_rollback(d, &event, sent).await;
            }
            Some(Stage::Rollback { rollback, .. }) => {
                let rollback = Arc::clone(rollback);
                self.run_rollback(d, &rollback).await;
            }
            Some(Stage::BestEffort { event, next }) => {
                let (event, next) = (Arc::clone(event), *next);
                d.stage = None;
                if let Some(i) = self.best_effort_from(d, &event, next, &mut None) {
                    self.finish_best_effort(d, &event, i, None).await;
                }
            }
        }
        self.evict(d);
    }

    async fn register(
        self: &Arc<Self>,
        observer: ObserverRef,
        options: ObserverOptions,
    ) -> Result<ObserverHandle, RegistryError> {
        let mut d = self.lock().await;
        self.prune(&mut d);
        if d.len() >= d.config.max_observers {
            return Err(RegistryError::ObserverLimit {
                limit: d.config.max_observers,
            });
        }
        let name = observer.name().to_owned();
        if d.critical
            .iter()
            .chain(&d.best_effort)
            .any(|s| s.observer.same_as(&observer))
        {
            return Err(RegistryError::AlreadyRegistered { observer: name });
        }
        let handle = ObserverHandle(d.next_handle);
        d.next_handle += 1;
        let is_async = matches!(observer, ObserverRef::Async(_));
        let pass_base = self.counters.passes[options.criticality as usize].load(Relaxed);
        let counters = Arc::new(ObserverCounters::new(
            handle,
            &name,
            options.criticality,
            is_async,
            pass_base,
        ));
        let slot = Slot {
            handle,
            observer,
            timeout: options.timeout,
            consecutive_failures: 0,
            last_error: String::new(),
            failure: None,
            counters: Arc::clone(&counters),
        };
        self.replay(&d, &slot).await?;
        d.slots_mut(options.criticality).push(slot);
        d.plain_dirty = true;
        lock(&self.observer_list).push(counters);
        tracing::debug!(observer = %name, handle = handle.0, criticality = ?options.criticality, "observer registered");
        Ok(handle)
    }

    /// Sends a new observer every stored peer, as one replay batch.
    async fn replay(&self, d: &Dispatcher, slot: &Slot) -> Result<(), RegistryError> {
        let peers: Vec<Change> = {
            let state = self.read();
            let mut all: Vec<_> = state.peers.values().cloned().collect();
            all.sort_unstable_by_key(|e| e.peer_id);
            all.into_iter().map(Change::Added).collect()
        };
        if peers.is_empty() {
            return Ok(());
        }
        let event = Arc::new(RegistryEvent {
            seq: d.seq,
            origin: Origin::Replay,
            kind: EventKind::Batch(peers),
        });
        bump(&self.counters.deliveries, 1);
        bump(&slot.counters.extra_deliveries, 1);
        crate::dispatch::deliver_once(slot, &event, d.config.default_async_timeout)
            .await
            .map_err(|f| RegistryError::ReplayFailed {
                observer: slot.observer.name().to_owned(),
                reason: f.to_string(),
            })
    }

    /// Prunes observers dropped by their owners; returns how many.
    fn prune(&self, d: &mut Dispatcher) -> usize {
        let gone = d.prune(&self.counters);
        if !gone.is_empty() {
            self.forget(&gone);
        }
        gone.len()
    }

    /// Evicts observers that failed too often in a row, and reports them.
    fn evict(&self, d: &mut Dispatcher) {
        let evicted = d.evict_failing();
        if evicted.is_empty() {
            return;
        }
        let handles: Vec<_> = evicted.iter().map(|s| s.handle).collect();
        self.forget(&handles);
        bump(&self.counters.evictions, evicted.len() as u64);
        let mut log = lock(&self.evicted);
        for slot in evicted {
            tracing::warn!(
                observer = slot.observer.name(),
                handle = slot.handle.0,
                consecutive_failures = slot.consecutive_failures,
                last_error = %slot.last_error,
                "observer evicted after repeated failures"
            );
            log.push_back(EvictedObserver {
                handle: slot.handle,
                name: slot.observer.name().to_owned(),
                lifetime: slot.counters.registered_at.elapsed(),
                consecutive_failures: u64::from(slot.consecutive_failures),
                last_error: slot.last_error,
            });
            while log.len() > self.eviction_log_len {
                log.pop_front();
            }
        }
    }

    /// Drops the stats of observers that are no longer registered.
    fn forget(&self, handles: &[ObserverHandle]) {
        lock(&self.observer_list).retain(|c| !handles.contains(&c.handle));
    }
}
