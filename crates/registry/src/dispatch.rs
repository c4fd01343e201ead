//! Delivering events to observers: the two phases of a commit, rollback,
//! and recovery of a commit whose caller went away.
//!
//! Everything here runs under the registry's commit lock, so two commits
//! never interleave at any observer. See `docs/registry.md`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::ObserverRegistryConfig;
use crate::error::RegistryError;
use crate::event::RegistryEvent;
use crate::observer::{Criticality, ObserverHandle, ObserverRef};
use crate::stats::{bump, Counters, ObserverCounters};

/// A registered observer and its dispatch bookkeeping.
pub(crate) struct Slot {
    pub handle: ObserverHandle,
    pub observer: ObserverRef,
    /// Async: the delivery timeout. Sync: the after-the-fact check, if any.
    pub timeout: Option<Duration>,
    pub consecutive_failures: u32,
    pub last_error: String,
    /// The last delivery's failure, until the commit path takes it.
    pub failure: Option<Failure>,
    pub counters: Arc<ObserverCounters>,
}

impl Slot {
    /// Ends a failure streak; `true` if there was one.
    #[inline]
    fn succeeded(&mut self) -> bool {
        if self.consecutive_failures == 0 {
            return false;
        }
        self.consecutive_failures = 0;
        self.counters.consecutive_failures.store(0, Relaxed);
        true
    }

    /// Needs no per-delivery bookkeeping: sync, untimed, no failure streak.
    fn is_plain(&self) -> bool {
        matches!(self.observer, ObserverRef::Sync(_))
            && self.timeout.is_none()
            && self.consecutive_failures == 0
    }
}

/// The outcome of one delivery (details of a failure stay in the slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    Ok,
    Failed,
    /// The observer is async: deliver it with `deliver_async`.
    NotSync,
}

/// Why one delivery failed.
#[derive(Debug)]
pub(crate) enum Failure {
    Error(String),
    Timeout(Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Error(e) => e.clone(),
            Failure::Timeout(t) => format!("timed out after {} ms", t.as_millis()),
        }
    }

    /// The error a commit aborted by this failure returns.
    pub(crate) fn into_abort(self, observer: &str) -> RegistryError {
        match self {
            Failure::Error(reason) => RegistryError::Aborted {
                observer: observer.to_owned(),
                reason,
            },
            Failure::Timeout(t) => RegistryError::TimedOut {
                observer: observer.to_owned(),
                timeout_ms: u64::try_from(t.as_millis()).unwrap_or(u64::MAX),
            },
        }
    }
}

/// Where an unfinished commit stands; kept in the dispatcher while the
/// commit runs, so that if the caller drops the commit future half-way,
/// the next holder of the lock can finish it (see [`Dispatcher::recover`]).
pub(crate) enum Stage {
    /// Critical observers `[0, sent)` may have applied the event.
    Critical {
        event: Arc<RegistryEvent>,
        sent: usize,
    },
    /// Rolling back: critical observers `[0, pending)` still need the rollback.
    Rollback {
        rollback: Arc<RegistryEvent>,
        pending: usize,
    },
    /// Committed; best-effort observers from `next` on still need the event.
    BestEffort {
        event: Arc<RegistryEvent>,
        next: usize,
    },
}

/// The observers and the commit sequence. Lives behind the commit lock.
pub(crate) struct Dispatcher {
    pub critical: Vec<Slot>,
    pub best_effort: Vec<Slot>,
    /// Sequence number of the last committed event.
    pub seq: u64,
    pub next_handle: u64,
    pub stage: Option<Stage>,
    pub config: ObserverRegistryConfig,
    /// Some observer reached `max_consecutive_failures`: evict after this commit.
    pub eviction_due: bool,
    /// A delivery found an observer dropped by its owner: prune after the commit.
    pub prune_due: bool,
    /// Per class (`Criticality as usize`): every slot `is_plain`.
    plain: [bool; 2],
    /// The slots changed since `plain` was computed.
    pub plain_dirty: bool,
    /// Commits left until the next latency sample.
    until_sample: u32,
}

impl Dispatcher {
    pub(crate) fn new(config: ObserverRegistryConfig) -> Self {
        Self {
            critical: Vec::new(),
            best_effort: Vec::new(),
            seq: 0,
            next_handle: 1,
            stage: None,
            config,
            eviction_due: false,
            prune_due: false,
            plain: [true; 2],
            plain_dirty: false,
            until_sample: 1,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.critical.len() + self.best_effort.len()
    }

    pub(crate) fn slots_mut(&mut self, c: Criticality) -> &mut Vec<Slot> {
        match c {
            Criticality::Critical => &mut self.critical,
            Criticality::BestEffort => &mut self.best_effort,
        }
    }

    /// Whether this commit samples sync latency: one in
    /// `latency_sample_interval` (a countdown: no division per commit).
    pub(crate) fn sample_this_commit(&mut self) -> bool {
        if self.until_sample > 1 {
            self.until_sample -= 1;
            return false;
        }
        self.until_sample = self.config.latency_sample_interval;
        true
    }

    /// Whether every observer of `class` is [`Slot::is_plain`].
    #[inline]
    pub(crate) fn is_plain(&mut self, class: Criticality) -> bool {
        if self.plain_dirty {
            self.plain = [Criticality::Critical, Criticality::BestEffort]
                .map(|c| self.slots_mut(c).iter().all(Slot::is_plain));
            self.plain_dirty = false;
        }
        self.plain[class as usize]
    }

    /// Delivers `event` to the observers `[from, ..)` of a plain class (see
    /// [`Self::is_plain`]) with no per-delivery bookkeeping at all: the
    /// owner-dropped check, the call, the result. Stops at the first
    /// failure, which is recorded as by [`Self::try_deliver_sync`], and
    /// returns its index.
    #[inline]
    pub(crate) fn deliver_plain(
        &mut self,
        class: Criticality,
        from: usize,
        event: &Arc<RegistryEvent>,
        counters: &Counters,
    ) -> Option<usize> {
        let mut dropped = false;
        let mut failure = None;
        for (i, slot) in self.slots_mut(class).iter().enumerate().skip(from) {
            let ObserverRef::Sync(o) = &slot.observer else {
                continue; // not plain: cannot happen, see is_plain
            };
            if Arc::strong_count(o) == 1 {
                dropped = true;
                continue;
            }
            if let Err(e) = o.on_event(event) {
                failure = Some((i, e));
                break;
            }
        }
        self.prune_due |= dropped;
        let (i, e) = failure?;
        self.slots_mut(class)[i].failure = Some(Failure::Error(e.to_string()));
        self.failed(class, i, event, counters);
        Some(i)
    }

    /// Delivers `event` to a sync observer inline: the hot path (no
    /// future, no await, a one-byte result; failure details go to the slot,
    /// see [`Self::take_failure`]). [`Delivery::NotSync`] when slot `i` is an
    /// async observer: use [`Self::deliver_async`] then.
    ///
    /// `lap` is `Some(previous timestamp)` on commits that sample latency:
    /// consecutive deliveries share clock reads.
    #[inline(always)]
    pub(crate) fn try_deliver_sync(
        &mut self,
        class: Criticality,
        i: usize,
        event: &Arc<RegistryEvent>,
        lap: &mut Option<Instant>,
        counters: &Counters,
    ) -> Delivery {
        let slot = &mut self.slots_mut(class)[i];
        let ObserverRef::Sync(o) = &slot.observer else {
            return Delivery::NotSync;
        };
        if Arc::strong_count(o) == 1 {
            // Its owner dropped it: never call it again; pruned after this commit.
            self.prune_due = true;
            return Delivery::Ok;
        }
        let start = lap.or_else(|| slot.timeout.map(|_| Instant::now()));
        let mut ok = o
            .on_event(event)
            .map_err(|e| slot.failure = Some(Failure::Error(e.to_string())))
            .is_ok();
        if let Some(start) = start {
            let now = Instant::now();
            let elapsed = now - start;
            slot.counters.record_latency(elapsed);
            if let Some(limit) = slot.timeout.filter(|t| elapsed > *t) {
                slot.failure = Some(Failure::Timeout(limit));
                ok = false;
            }
            if lap.is_some() {
                *lap = Some(now);
            }
        }
        self.settle(class, i, event, ok, counters)
    }

    /// Delivers `event` to an async observer under its timeout.
    pub(crate) async fn deliver_async(
        &mut self,
        class: Criticality,
        i: usize,
        event: &Arc<RegistryEvent>,
        lap: &mut Option<Instant>,
        counters: &Counters,
    ) -> Delivery {
        let default_timeout = self.config.default_async_timeout;
        if self.slots_mut(class)[i].observer.owner_dropped() {
            self.prune_due = true;
            return Delivery::Ok;
        }
        let result = deliver_once(&self.slots_mut(class)[i], event, default_timeout).await;
        if lap.is_some() {
            *lap = Some(Instant::now());
        }
        let ok = result
            .map_err(|f| self.slots_mut(class)[i].failure = Some(f))
            .is_ok();
        self.settle(class, i, event, ok, counters)
    }

    /// Ends slot `i`'s failure streak, or counts its failure (details
    /// already in the slot).
    #[inline]
    fn settle(
        &mut self,
        class: Criticality,
        i: usize,
        event: &RegistryEvent,
        ok: bool,
        counters: &Counters,
    ) -> Delivery {
        if !ok {
            self.failed(class, i, event, counters);
            return Delivery::Failed;
        }
        if self.slots_mut(class)[i].succeeded() {
            self.plain_dirty = true;
        }
        Delivery::Ok
    }

    /// Delivers to slot `i`, sync or async.
    pub(crate) async fn deliver(
        &mut self,
        class: Criticality,
        i: usize,
        event: &Arc<RegistryEvent>,
        lap: &mut Option<Instant>,
        counters: &Counters,
    ) -> Delivery {
        match self.try_deliver_sync(class, i, event, lap, counters) {
            Delivery::NotSync => self.deliver_async(class, i, event, lap, counters).await,
            done => done,
        }
    }

    /// The failure of slot `i`'s last delivery (after [`Delivery::Failed`]).
    pub(crate) fn take_failure(&mut self, class: Criticality, i: usize) -> Failure {
        let slot = &mut self.slots_mut(class)[i];
        slot.failure
            .take()
            .unwrap_or_else(|| Failure::Error("unknown failure".to_owned()))
    }

    /// Counts a failed delivery and tracks consecutive failures.
    #[cold]
    fn failed(&mut self, class: Criticality, i: usize, event: &RegistryEvent, counters: &Counters) {
        let limit = self.config.max_consecutive_failures;
        let slot = &mut self.slots_mut(class)[i];
        let failure = slot
            .failure
            .as_ref()
            .map(Failure::describe)
            .unwrap_or_default();
        slot.consecutive_failures = slot.consecutive_failures.saturating_add(1);
        bump(&slot.counters.consecutive_failures, 1);
        let (mine, total) = match slot.failure {
            Some(Failure::Timeout(_)) => (&slot.counters.timeouts, &counters.timeouts),
            _ => (&slot.counters.failures, &counters.failures),
        };
        bump(mine, 1);
        bump(total, 1);
        tracing::warn!(
            observer = slot.observer.name(),
            handle = slot.handle.0,
            seq = event.seq,
            origin = ?event.origin,
            criticality = ?class,
            error = %failure,
            "observer delivery failed"
        );
        slot.last_error = failure;
        if slot.consecutive_failures >= limit {
            self.eviction_due = true;
        }
        self.plain_dirty = true;
    }

    /// Drops observers whose owner dropped them (between commits only, so
    /// slot indices stay stable while a commit runs).
    pub(crate) fn prune(&mut self, counters: &Counters) -> Vec<ObserverHandle> {
        let mut gone = Vec::new();
        for class in [Criticality::Critical, Criticality::BestEffort] {
            // Loads only; `retain` (which writes) runs only if one was dropped.
            if !self
                .slots_mut(class)
                .iter()
                .any(|s| s.observer.owner_dropped())
            {
                continue;
            }
            self.plain_dirty = true;
            self.slots_mut(class).retain(|s| {
                let dropped = s.observer.owner_dropped();
                if dropped {
                    tracing::debug!(
                        observer = s.observer.name(),
                        handle = s.handle.0,
                        "observer dropped by its owner; pruned"
                    );
                    gone.push(s.handle);
                }
                !dropped
            });
        }
        bump(&counters.pruned, gone.len() as u64);
        gone
    }

    /// Removes observers that failed too often in a row and returns them.
    pub(crate) fn evict_failing(&mut self) -> Vec<Slot> {
        let limit = self.config.max_consecutive_failures;
        let mut evicted = Vec::new();
        if !std::mem::take(&mut self.eviction_due) {
            return evicted;
        }
        self.plain_dirty = true;
        for class in [Criticality::Critical, Criticality::BestEffort] {
            let slots = self.slots_mut(class);
            let mut i = 0;
            while i < slots.len() {
                if slots[i].consecutive_failures >= limit {
                    evicted.push(slots.remove(i));
                } else {
                    i += 1;
                }
            }
        }
        evicted
    }
}

/// One async delivery under the observer's timeout; records its latency.
/// A sync observer is called inline (for the replay of a new observer).
pub(crate) async fn deliver_once(
    slot: &Slot,
    event: &Arc<RegistryEvent>,
    default_timeout: Duration,
) -> Result<(), Failure> {
    match &slot.observer {
        ObserverRef::Sync(o) => o.on_event(event).map_err(|e| Failure::Error(e.to_string())),
        ObserverRef::Async(o) => {
            let limit = slot.timeout.unwrap_or(default_timeout);
            let start = Instant::now();
            // Boxed: keeps the timer out of every commit future (this is
            // the slow path; async-trait boxes the observer's future anyway).
            let result = Box::pin(tokio::time::timeout(limit, o.on_event(event))).await;
            slot.counters.record_latency(start.elapsed());
            match result {
                Ok(r) => r.map_err(|e| Failure::Error(e.to_string())),
                Err(_) => Err(Failure::Timeout(limit)),
            }
        }
    }
}
