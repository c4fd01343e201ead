//! One test per registry rule (see docs/registry.md).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{entry, peers, AsyncMirror, Fault, Mirror};
use tazcom_registry::{
    AsyncObserver, Change, EventKind, Observer, ObserverError, ObserverOptions,
    ObserverRegistryConfig, Origin, PeerRegistry, RegistryError, RegistryEvent, Upsert,
};

fn registry() -> PeerRegistry {
    PeerRegistry::new()
}

#[tokio::test]
async fn upsert_reports_added_updated_unchanged_and_unchanged_dispatches_nothing() {
    let reg = registry();
    let m = Mirror::new("m");
    reg.register_observer(&m, ObserverOptions::critical())
        .await
        .unwrap();
    let id = peers(1)[0];
    assert_eq!(reg.upsert(entry(id, 1)).await.unwrap(), Upsert::Added);
    assert_eq!(reg.upsert(entry(id, 1)).await.unwrap(), Upsert::Unchanged);
    assert_eq!(reg.upsert(entry(id, 2)).await.unwrap(), Upsert::Updated);
    assert_eq!(m.seqs(), vec![1, 2]);
    assert_eq!(reg.last_seq(), 2);
    let events = m.events.lock().unwrap().clone();
    assert!(matches!(events[0].changes(), [Change::Added(_)]));
    match events[1].changes() {
        [Change::Updated { old, new }] => {
            assert_eq!(old.addrs[0].port(), 1);
            assert_eq!(new.addrs[0].port(), 2);
        }
        other => panic!("expected one update, got {other:?}"),
    }
}

#[tokio::test]
async fn update_keeps_first_seen() {
    let reg = registry();
    let id = peers(1)[0];
    let mut first = entry(id, 1);
    first.first_seen_ms = 100;
    first.last_seen_ms = 100;
    reg.upsert(first).await.unwrap();
    let mut later = entry(id, 1);
    later.first_seen_ms = 900;
    later.last_seen_ms = 900;
    assert_eq!(reg.upsert(later).await.unwrap(), Upsert::Updated);
    let stored = reg.get(&id).unwrap();
    assert_eq!((stored.first_seen_ms, stored.last_seen_ms), (100, 900));
}

#[tokio::test]
async fn remove_returns_the_entry_and_missing_peer_dispatches_nothing() {
    let reg = registry();
    let m = Mirror::new("m");
    reg.register_observer(&m, ObserverOptions::best_effort())
        .await
        .unwrap();
    let [a, b] = peers(2)[..] else { unreachable!() };
    reg.upsert(entry(a, 1)).await.unwrap();
    let removed = reg.remove(&a).await.unwrap().unwrap();
    assert_eq!(removed.peer_id, a);
    assert!(reg.remove(&b).await.unwrap().is_none());
    assert!(reg.is_empty());
    assert_eq!(m.seqs(), vec![1, 2]);
}

#[tokio::test]
async fn remove_by_instance_uses_the_index_and_follows_renames() {
    let reg = registry();
    let [a, b] = peers(2)[..] else { unreachable!() };
    let mut ea = entry(a, 1);
    ea.instance_name = Some("first".into());
    reg.upsert(ea.clone()).await.unwrap();
    assert_eq!(reg.get_by_instance("first").unwrap().peer_id, a);
    // Rename: the old name no longer resolves.
    ea.instance_name = Some("second".into());
    reg.upsert(ea).await.unwrap();
    assert!(reg.get_by_instance("first").is_none());
    assert!(reg.remove_by_instance("first").await.unwrap().is_none());
    // A newer claim of the same name moves it.
    let mut eb = entry(b, 2);
    eb.instance_name = Some("second".into());
    reg.upsert(eb).await.unwrap();
    let removed = reg.remove_by_instance("second").await.unwrap().unwrap();
    assert_eq!(removed.peer_id, b);
    assert!(reg.contains(&a), "the earlier claimant stays stored");
    assert!(reg.get_by_instance("second").is_none());
}

#[tokio::test]
async fn events_are_shared_not_cloned_per_observer() {
    let reg = registry();
    let (m1, m2) = (Mirror::new("m1"), Mirror::new("m2"));
    reg.register_observer(&m1, ObserverOptions::critical())
        .await
        .unwrap();
    reg.register_observer(&m2, ObserverOptions::best_effort())
        .await
        .unwrap();
    reg.upsert(entry(peers(1)[0], 1)).await.unwrap();
    let e1 = m1.events.lock().unwrap()[0].clone();
    let e2 = m2.events.lock().unwrap()[0].clone();
    assert!(Arc::ptr_eq(&e1, &e2));
}

/// Records entry and exit of each delivery to detect interleaving.
struct Tracer(Mutex<Vec<(u64, bool)>>);

#[async_trait]
impl AsyncObserver for Tracer {
    fn name(&self) -> &str {
        "tracer"
    }
    async fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        self.0.lock().unwrap().push((event.seq, true));
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_micros(50)).await;
        self.0.lock().unwrap().push((event.seq, false));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_reach_every_observer_once_in_order_without_interleaving() {
    let reg = registry();
    let tracer = Arc::new(Tracer(Mutex::new(Vec::new())));
    let critical = Mirror::new("critical");
    let best = Mirror::new("best");
    reg.register_async_observer(&tracer, ObserverOptions::critical())
        .await
        .unwrap();
    reg.register_observer(&critical, ObserverOptions::critical())
        .await
        .unwrap();
    reg.register_observer(&best, ObserverOptions::best_effort())
        .await
        .unwrap();
    let ids = peers(8);
    let mut tasks = Vec::new();
    for (t, id) in ids.iter().copied().enumerate() {
        let reg = reg.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25u16 {
                reg.upsert(entry(id, 1000 + i * 8 + t as u16))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let expected: Vec<u64> = (1..=200).collect();
    assert_eq!(critical.seqs(), expected);
    assert_eq!(best.seqs(), expected);
    let trace = tracer.0.lock().unwrap().clone();
    for (k, pair) in trace.chunks(2).enumerate() {
        assert_eq!(
            pair,
            [(k as u64 + 1, true), (k as u64 + 1, false)],
            "interleaved at {k}"
        );
    }
    assert_eq!(critical.contents(), reg.snapshot());
    assert_eq!(best.contents(), reg.snapshot());
}

#[tokio::test]
async fn critical_failure_aborts_and_rolls_back_observers_already_sent() {
    let reg = registry();
    let (c1, c2, c3, be) = (
        Mirror::new("c1"),
        Mirror::new("c2"),
        Mirror::new("c3"),
        Mirror::new("be"),
    );
    for c in [&c1, &c2, &c3] {
        reg.register_observer(c, ObserverOptions::critical())
            .await
            .unwrap();
    }
    reg.register_observer(&be, ObserverOptions::best_effort())
        .await
        .unwrap();
    let ids = peers(2);
    reg.upsert(entry(ids[0], 1)).await.unwrap();
    let before = reg.snapshot();

    c2.arm(Fault::Partial);
    let mut batch = reg.batch();
    batch
        .upsert(entry(ids[1], 2))
        .upsert(entry(ids[0], 3))
        .remove(&ids[0]);
    let err = batch.commit().await.unwrap_err();
    assert!(
        matches!(err, RegistryError::Aborted { ref observer, .. } if observer == "c2"),
        "{err}"
    );

    assert_eq!(reg.snapshot(), before, "registry unchanged");
    assert_eq!(
        reg.last_seq(),
        1,
        "an aborted commit consumes no sequence number"
    );
    for m in [&c1, &c2, &c3, &be] {
        assert_eq!(m.contents(), before, "{} equals the registry", m.name);
    }
    let origins = |m: &Mirror| {
        m.log
            .lock()
            .unwrap()
            .iter()
            .map(|(_, o)| *o)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        origins(&c1),
        [Origin::Commit, Origin::Commit, Origin::Rollback]
    );
    assert_eq!(
        origins(&c2),
        [Origin::Commit, Origin::Commit, Origin::Rollback]
    );
    assert_eq!(
        origins(&c3),
        [Origin::Commit],
        "never sent the aborted change"
    );
    assert_eq!(
        origins(&be),
        [Origin::Commit],
        "best-effort sees only committed changes"
    );
    let stats = reg.stats();
    assert_eq!((stats.rollbacks, stats.failures, stats.commits), (1, 1, 1));
    // Per observer: commit 1, the aborted change (not c3, not be), rollbacks.
    let per: Vec<_> = stats
        .per_observer
        .iter()
        .map(|o| (o.name.as_str(), o.deliveries))
        .collect();
    assert_eq!(per, [("c1", 3), ("c2", 3), ("c3", 1), ("be", 1)]);
    assert_eq!(stats.deliveries, 1 + 1 + 1 + 1 + 2 + 2);

    // The next commit goes through and takes the next sequence number.
    reg.upsert(entry(ids[1], 4)).await.unwrap();
    assert_eq!(c3.seqs(), vec![1, 2]);
}

#[tokio::test(start_paused = true)]
async fn critical_async_timeout_aborts_and_the_late_observer_is_rolled_back_too() {
    let reg = registry();
    let sync = Mirror::new("sync");
    let slow = Arc::new(AsyncMirror(Mirror::new("slow")));
    reg.register_observer(&sync, ObserverOptions::critical())
        .await
        .unwrap();
    reg.register_async_observer(
        &slow,
        ObserverOptions::critical().with_timeout(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let ids = peers(4);
    let mut batch = reg.batch();
    for (i, id) in ids.iter().enumerate() {
        batch.upsert(entry(*id, i as u16));
    }
    slow.0.arm(Fault::Hang);
    let err = batch.commit().await.unwrap_err();
    assert_eq!(
        err,
        RegistryError::TimedOut {
            observer: "slow".into(),
            timeout_ms: 100
        }
    );
    assert!(reg.is_empty());
    assert!(sync.contents().is_empty());
    assert!(slow.0.contents().is_empty(), "half-applied batch undone");
    assert_eq!(reg.stats().timeouts, 1);
}

#[tokio::test]
async fn sync_observer_timeout_is_checked_when_it_returns() {
    let reg = registry();
    let slow = Mirror::new("slow-sync");
    reg.register_observer(
        &slow,
        ObserverOptions::critical().with_timeout(Duration::from_millis(5)),
    )
    .await
    .unwrap();
    slow.arm(Fault::Hang); // applies half, sleeps 50 ms, returns Ok
    let mut batch = reg.batch();
    for (i, id) in peers(2).into_iter().enumerate() {
        batch.upsert(entry(id, i as u16));
    }
    let err = batch.commit().await.unwrap_err();
    assert!(
        matches!(err, RegistryError::TimedOut { timeout_ms: 5, .. }),
        "{err}"
    );
    assert!(reg.is_empty() && slow.contents().is_empty());
}

#[tokio::test]
async fn best_effort_failure_is_counted_and_does_not_abort() {
    let reg = registry();
    let be = Mirror::new("be");
    reg.register_observer(&be, ObserverOptions::best_effort())
        .await
        .unwrap();
    be.arm(Fault::Refuse);
    let id = peers(1)[0];
    assert_eq!(reg.upsert(entry(id, 1)).await.unwrap(), Upsert::Added);
    assert!(reg.contains(&id));
    let stats = reg.stats();
    assert_eq!((stats.failures, stats.rollbacks), (1, 0));
    assert_eq!(stats.per_observer[0].failures, 1);
    assert_eq!(stats.per_observer[0].consecutive_failures, 1);
}

/// A critical observer that blocks until released.
struct Gate {
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait]
impl AsyncObserver for Gate {
    fn name(&self) -> &str {
        "gate"
    }
    async fn on_event(&self, _: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        self.entered.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_wait_for_an_observer() {
    let reg = registry();
    let gate = Arc::new(Gate {
        entered: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    reg.register_async_observer(
        &gate,
        ObserverOptions::critical().with_timeout(Duration::from_secs(30)),
    )
    .await
    .unwrap();
    let id = peers(1)[0];
    let writer = {
        let reg = reg.clone();
        tokio::spawn(async move { reg.upsert(entry(id, 1)).await })
    };
    gate.entered.notified().await;
    // The commit is in flight and blocked in the observer: reads still answer,
    // with the state before the commit.
    assert!(reg.get(&id).is_none());
    assert!(reg.snapshot().is_empty());
    assert_eq!(reg.len(), 0);
    let _ = reg.stats();
    gate.release.notify_one();
    assert_eq!(writer.await.unwrap().unwrap(), Upsert::Added);
    assert!(reg.get(&id).is_some());
}

#[tokio::test]
async fn observer_limit_is_enforced_and_unregister_frees_a_place() {
    let reg =
        PeerRegistry::with_config(ObserverRegistryConfig::default().with_max_observers(2)).unwrap();
    let ms: Vec<_> = (0..3).map(|i| Mirror::new(&format!("m{i}"))).collect();
    let h0 = reg
        .register_observer(&ms[0], ObserverOptions::critical())
        .await
        .unwrap();
    reg.register_observer(&ms[1], ObserverOptions::critical())
        .await
        .unwrap();
    let err = reg
        .register_observer(&ms[2], ObserverOptions::critical())
        .await
        .unwrap_err();
    assert_eq!(err, RegistryError::ObserverLimit { limit: 2 });
    assert!(reg.unregister_observer(h0).await);
    assert!(
        !reg.unregister_observer(h0).await,
        "second unregister finds nothing"
    );
    reg.register_observer(&ms[2], ObserverOptions::critical())
        .await
        .unwrap();
    reg.upsert(entry(peers(1)[0], 1)).await.unwrap();
    assert!(
        ms[0].seqs().is_empty(),
        "unregistered observer gets nothing"
    );
    assert_eq!(ms[2].seqs(), vec![1]);
}

#[tokio::test]
async fn registering_the_same_observer_twice_is_refused() {
    let reg = registry();
    let m = Mirror::new("m");
    reg.register_observer(&m, ObserverOptions::critical())
        .await
        .unwrap();
    let err = reg
        .register_observer(&m, ObserverOptions::best_effort())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::AlreadyRegistered { .. }));
}

/// Counts deliveries into a counter that outlives the observer.
struct Counting(Arc<AtomicUsize>);

impl Observer for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    fn on_event(&self, _: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        self.0.fetch_add(1, SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn observer_dropped_by_its_owner_is_pruned() {
    let reg = registry();
    let count = Arc::new(AtomicUsize::new(0));
    let obs = Arc::new(Counting(Arc::clone(&count)));
    reg.register_observer(&obs, ObserverOptions::critical())
        .await
        .unwrap();
    let ids = peers(2);
    reg.upsert(entry(ids[0], 1)).await.unwrap();
    assert_eq!(count.load(SeqCst), 1);
    drop(obs);
    reg.upsert(entry(ids[1], 1)).await.unwrap();
    assert_eq!(
        count.load(SeqCst),
        1,
        "not called after its owner dropped it"
    );
    let stats = reg.stats();
    assert_eq!((stats.observers, stats.pruned), (0, 1));
}

#[tokio::test]
async fn observer_failing_n_times_in_a_row_is_evicted_and_reported() {
    let reg = PeerRegistry::with_config(
        ObserverRegistryConfig::default().with_max_consecutive_failures(3),
    )
    .unwrap();
    let flaky = Mirror::new("flaky");
    reg.register_observer(&flaky, ObserverOptions::best_effort())
        .await
        .unwrap();
    let ids = peers(6);
    // fail, fail, succeed: the streak resets.
    flaky.arm(Fault::Refuse);
    reg.upsert(entry(ids[0], 1)).await.unwrap();
    flaky.arm(Fault::Refuse);
    reg.upsert(entry(ids[1], 1)).await.unwrap();
    reg.upsert(entry(ids[2], 1)).await.unwrap();
    assert_eq!(reg.stats().observers, 1);
    flaky.always.store(Fault::Refuse as u8, SeqCst);
    for id in &ids[3..6] {
        reg.upsert(entry(*id, 1)).await.unwrap();
    }
    let stats = reg.stats();
    assert_eq!((stats.observers, stats.evictions), (0, 1));
    assert_eq!(stats.evicted[0].name, "flaky");
    assert_eq!(stats.evicted[0].consecutive_failures, 3);
    assert_eq!(stats.evicted[0].last_error, "refused");
}

#[tokio::test]
async fn stats_count_deliveries_and_latency() {
    let reg = PeerRegistry::with_config(
        ObserverRegistryConfig::default().with_latency_sample_interval(1),
    )
    .unwrap();
    let (a, b) = (Mirror::new("a"), Arc::new(AsyncMirror(Mirror::new("b"))));
    reg.register_observer(&a, ObserverOptions::critical())
        .await
        .unwrap();
    reg.register_async_observer(&b, ObserverOptions::best_effort())
        .await
        .unwrap();
    for id in peers(3) {
        reg.upsert(entry(id, 1)).await.unwrap();
    }
    let stats = reg.stats();
    assert_eq!(
        (
            stats.peers,
            stats.observers,
            stats.commits,
            stats.deliveries
        ),
        (3, 2, 3, 6)
    );
    for o in &stats.per_observer {
        assert_eq!((o.deliveries, o.latency.samples), (3, 3), "{}", o.name);
        assert!(o.latency.max >= o.latency.mean);
    }
    assert!(stats.per_observer[1].is_async);
    assert!(stats.average_observer_age().is_some());
}

#[test]
fn config_is_validated() {
    let bad = [
        ObserverRegistryConfig::default().with_max_observers(0),
        ObserverRegistryConfig::default().with_max_consecutive_failures(0),
        ObserverRegistryConfig::default().with_default_async_timeout(Duration::ZERO),
        ObserverRegistryConfig::default().with_latency_sample_interval(0),
    ];
    let fields: Vec<_> = bad
        .into_iter()
        .map(|c| match PeerRegistry::with_config(c) {
            Err(RegistryError::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        })
        .collect();
    assert_eq!(
        fields,
        [
            "max_observers",
            "max_consecutive_failures",
            "default_async_timeout",
            "latency_sample_interval"
        ]
    );
    assert!(ObserverRegistryConfig::default().validate().is_ok());
}

#[tokio::test]
async fn batch_is_one_event_with_ordered_changes_each_seeing_the_previous() {
    let reg = registry();
    let m = Mirror::new("m");
    reg.register_observer(&m, ObserverOptions::critical())
        .await
        .unwrap();
    let ids = peers(3);
    reg.upsert(entry(ids[2], 9)).await.unwrap();
    let mut batch = reg.batch();
    batch
        .upsert(entry(ids[0], 1))
        .upsert(entry(ids[1], 1))
        .upsert(entry(ids[0], 2))
        .remove(&ids[1])
        .remove_by_instance(&format!("TAZCOM Node {}", ids[2].short()))
        .remove(&ids[1]); // already gone inside the batch: no change
    assert_eq!(batch.len(), 6);
    let out = batch.commit().await.unwrap();
    assert_eq!(
        (out.seq, out.added, out.updated, out.removed),
        (Some(2), 2, 1, 2)
    );
    let events = m.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "one event for the whole batch");
    let EventKind::Batch(changes) = &events[1].kind else {
        panic!("not a batch")
    };
    let shape: Vec<_> = changes
        .iter()
        .map(|c| match c {
            Change::Added(e) => ("added", e.peer_id),
            Change::Updated { new, .. } => ("updated", new.peer_id),
            Change::Removed(e) => ("removed", e.peer_id),
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("added", ids[0]),
            ("added", ids[1]),
            ("updated", ids[0]),
            ("removed", ids[1]),
            ("removed", ids[2])
        ]
    );
    assert_eq!(m.contents(), reg.snapshot());
    assert_eq!(reg.len(), 1);
    // An empty or no-op batch dispatches nothing.
    let mut noop = reg.batch();
    noop.remove(&ids[1]);
    assert_eq!(noop.commit().await.unwrap().seq, None);
    assert_eq!(m.events.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn new_observer_gets_a_replay_of_current_peers() {
    let reg = registry();
    for (i, id) in peers(5).into_iter().enumerate() {
        reg.upsert(entry(id, i as u16)).await.unwrap();
    }
    let late = Mirror::new("late");
    reg.register_observer(&late, ObserverOptions::critical())
        .await
        .unwrap();
    assert_eq!(late.contents(), reg.snapshot());
    assert_eq!(*late.log.lock().unwrap(), [(5, Origin::Replay)]);
    // A replay the observer refuses leaves it unregistered.
    let picky = Mirror::new("picky");
    picky.arm(Fault::Refuse);
    let err = reg
        .register_observer(&picky, ObserverOptions::best_effort())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::ReplayFailed { .. }));
    assert_eq!(reg.stats().observers, 1);
}

#[tokio::test(start_paused = true)]
async fn commit_cancelled_by_its_caller_is_rolled_back() {
    let reg = registry();
    let first = Mirror::new("first");
    let slow = Arc::new(AsyncMirror(Mirror::new("slow")));
    reg.register_observer(&first, ObserverOptions::critical())
        .await
        .unwrap();
    reg.register_async_observer(
        &slow,
        ObserverOptions::critical().with_timeout(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    slow.0.arm(Fault::Hang);
    let id = peers(1)[0];
    // The caller gives up after 1 s, while the commit waits in `slow`.
    let r = tokio::time::timeout(Duration::from_secs(1), reg.upsert(entry(id, 1))).await;
    assert!(r.is_err(), "the caller timed out");
    // Recovery runs on its own task: the change is undone everywhere.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(reg.is_empty());
    assert!(first.contents().is_empty(), "first was sent the rollback");
    assert_eq!(reg.stats().rollbacks, 1);
    // And the registry goes on.
    assert_eq!(reg.upsert(entry(id, 1)).await.unwrap(), Upsert::Added);
    assert_eq!(
        first.seqs(),
        vec![1, 1],
        "seq 1 was never committed, so it is reused"
    );
}

/// Rejected input never removes or alters a stored peer: when a critical
/// observer refuses an update, a removal (by id or by instance) or a batch,
/// the very same entry (`Arc::ptr_eq`) stays under both indexes and no
/// sequence number is used.
#[tokio::test]
async fn refused_update_remove_and_batch_leave_the_stored_entry_untouched() {
    let reg = registry();
    let gate = Mirror::new("gate");
    reg.register_observer(&gate, ObserverOptions::critical())
        .await
        .unwrap();
    let ids = peers(2);
    reg.upsert(entry(ids[0], 1)).await.unwrap();
    let stored = reg.get(&ids[0]).unwrap();
    let instance = stored.instance_name.clone().unwrap();
    let seq = reg.last_seq();
    let unchanged = |what: &str| {
        let now = reg
            .get(&ids[0])
            .unwrap_or_else(|| panic!("{what}: removed"));
        assert!(Arc::ptr_eq(&now, &stored), "{what}: entry replaced");
        let by_instance = reg.get_by_instance(&instance).unwrap();
        assert!(Arc::ptr_eq(&by_instance, &stored), "{what}: index changed");
        assert_eq!((reg.len(), reg.last_seq()), (1, seq), "{what}");
        assert_eq!(gate.contents(), [Arc::clone(&stored)], "{what}");
    };
    let refused = |result: Result<(), RegistryError>, what: &str| {
        let err = result.expect_err(what);
        assert!(
            matches!(err, RegistryError::Aborted { ref observer, .. } if observer == "gate"),
            "{what}: {err}"
        );
    };

    gate.arm(Fault::Refuse);
    refused(reg.upsert(entry(ids[0], 2)).await.map(drop), "update");
    unchanged("update");

    gate.arm(Fault::Refuse);
    refused(reg.remove(&ids[0]).await.map(drop), "remove");
    unchanged("remove");

    gate.arm(Fault::Refuse);
    refused(
        reg.remove_by_instance(&instance).await.map(drop),
        "remove_by_instance",
    );
    unchanged("remove_by_instance");

    gate.arm(Fault::Refuse);
    let mut batch = reg.batch();
    batch
        .upsert(entry(ids[1], 3))
        .upsert(entry(ids[0], 4))
        .remove(&ids[0]);
    refused(batch.commit().await.map(drop), "batch");
    unchanged("batch");
    assert!(
        !reg.contains(&ids[1]),
        "nothing of the refused batch is kept"
    );
}
