//! Registry observers see what the node discovers.

mod common;

use std::sync::{Arc, Mutex};

use common::{builder, builder_with_static, eventually, EventLog, WAIT};
use tazcom_identity::PeerId;
use tazcom_registry::{Change, Observer, ObserverError, ObserverOptions, Origin, RegistryEvent};

/// Records (origin, change kind, peer) for every change it is told about.
#[derive(Default)]
struct Recorder(Mutex<Vec<(Origin, &'static str, PeerId)>>);

impl Recorder {
    fn added(&self) -> Vec<(Origin, PeerId)> {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter()
            .filter(|(_, kind, _)| *kind == "added")
            .map(|(origin, _, peer)| (*origin, *peer))
            .collect()
    }
}

impl Observer for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        let mut seen = self.0.lock().map_err(|_| ObserverError::new("poisoned"))?;
        for change in event.changes() {
            let (kind, entry) = match change {
                Change::Added(e) => ("added", e),
                Change::Updated { new, .. } => ("updated", new),
                Change::Removed(e) => ("removed", e),
            };
            seen.push((event.origin, kind, entry.peer_id));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_registered_before_start_sees_the_discovered_peer_added() {
    let a = builder().start().await.expect("start A");
    // Registered by the builder, before any discovery.
    let recorder = Arc::new(Recorder::default());
    let b = builder_with_static(&[&a])
        .observer(&recorder, ObserverOptions::critical())
        .start()
        .await
        .expect("start B");
    let mut events = EventLog::of(&b);
    events
        .expect("Discovered A", WAIT, common::is_discovered(a.peer_id()))
        .await;

    // The change came as a commit, not a replay.
    assert_eq!(b.registry().len(), 1);
    assert_eq!(recorder.added(), vec![(Origin::Commit, a.peer_id())]);
    let stats = b.metrics().registry;
    assert_eq!(stats.observers, 1);
    assert!(stats.deliveries >= 1, "{stats:?}");

    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_registered_later_on_node_registry_gets_a_replay() {
    let a = builder().start().await.expect("start A");
    let b = builder_with_static(&[&a]).start().await.expect("start B");
    assert!(
        eventually(WAIT, || b.registry().contains(&a.peer_id())).await,
        "A never stored"
    );

    let recorder = Arc::new(Recorder::default());
    b.registry()
        .register_observer(&recorder, ObserverOptions::best_effort())
        .await
        .expect("register");
    assert_eq!(recorder.added(), vec![(Origin::Replay, a.peer_id())]);

    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}
