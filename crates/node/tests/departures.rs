//! How peers leave: a node that shuts down says BYE and is removed at once;
//! one that dies is removed by the liveness check; a live one is kept; a
//! static one is never removed. Loopback TCP only (static discovery).

mod common;

use std::time::Duration;

use common::{builder, builder_with_static, eventually, EventLog, WAIT};
use tazcom_node::{LivenessPolicy, Node, NodeEvent, RemovalReason};

/// Checks every 150 ms; a dead peer's port refuses at once.
fn fast_liveness() -> LivenessPolicy {
    LivenessPolicy::default().with_interval(Duration::from_millis(150))
}

/// A knows B from B's greeting, B knows A from its static list; both
/// verified.
async fn pair(a_liveness: LivenessPolicy, b_liveness: LivenessPolicy) -> (Node, Node, EventLog) {
    let a = builder()
        .liveness(a_liveness)
        .start()
        .await
        .expect("start A");
    let mut a_events = EventLog::of(&a);
    let b = builder_with_static(&[&a])
        .liveness(b_liveness)
        .start()
        .await
        .expect("start B");
    a_events
        .expect("A: Discovered B", WAIT, common::is_discovered(b.peer_id()))
        .await;
    let both_verified = eventually(WAIT, || {
        a.peers().iter().all(|e| e.verified) && b.peers().iter().all(|e| e.verified)
    })
    .await;
    assert!(both_verified, "{:?} {:?}", a.peers(), b.peers());
    (a, b, a_events)
}

fn removal_reason(event: &NodeEvent) -> Option<RemovalReason> {
    match event {
        NodeEvent::Removed { reason, .. } => Some(*reason),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_shuts_down_says_bye_and_is_removed_at_once() {
    let off = LivenessPolicy::disabled();
    let (a, b, mut a_events) = pair(off, off).await;
    let b_id = b.peer_id();
    b.shutdown().await.expect("B shutdown");
    // B's BYE is acknowledged before shutdown goes on, so A has handled it.
    assert_eq!((b.metrics().byes_sent, b.metrics().byes_acked), (1, 1));
    let removed = a_events
        .expect("A: Removed B", WAIT, common::is_removed(b_id))
        .await;
    assert_eq!(removal_reason(&removed), Some(RemovalReason::Bye));
    assert!(a.peers().is_empty(), "{:?}", a.peers());
    assert_eq!(a.metrics().byes_received, 1);
    assert_eq!(a.metrics().transport.byes_verified, 1);
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_dies_is_removed_as_unreachable() {
    let (a, b, mut a_events) = pair(fast_liveness(), LivenessPolicy::disabled()).await;
    let b_id = b.peer_id();
    // Dropped without shutdown: no BYE, no goodbye; its listener closes.
    drop(b);
    let removed = a_events
        .expect("A: Removed B", WAIT, common::is_removed(b_id))
        .await;
    assert_eq!(removal_reason(&removed), Some(RemovalReason::Unreachable));
    let metrics = a.metrics();
    assert_eq!(metrics.peers_unreachable, 1);
    assert!(
        metrics.pings_sent >= 2,
        "two rounds before removal: {metrics:?}"
    );
    assert!(a.peers().is_empty());
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_peer_answers_its_pings_and_stays() {
    let (a, b, _a_events) = pair(fast_liveness(), LivenessPolicy::disabled()).await;
    // Several intervals: A checks B (B does not check A).
    // Over the session the greeting opened: keep-alive frames, not TCP PINGs.
    let checked = |m: &tazcom_node::NodeMetrics| m.pings_received + m.sessions.keepalives_received;
    let pinged = eventually(WAIT, || checked(&b.metrics()) >= 3).await;
    assert!(pinged, "B was checked {} times", checked(&b.metrics()));
    assert_eq!(a.metrics().peers_unreachable, 0);
    assert_eq!(a.peers().len(), 1);
    assert_eq!(
        b.metrics().transport.pings_verified,
        b.metrics().pings_received
    );
    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hearing_from_a_peer_saves_checking_it() {
    // Both check every 150 ms; each PING tells its receiver the sender is
    // alive, so a pair exchanges about one PING per interval, not two.
    let (a, b, _a_events) = pair(fast_liveness(), fast_liveness()).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let checks = |m: tazcom_node::NodeMetrics| m.pings_sent + m.keepalives_sent;
    let sent = checks(a.metrics()) + checks(b.metrics());
    // 1.5 s / 150 ms = 10 intervals: without the saving about 16 PINGs.
    assert!(
        (3..=12).contains(&sent),
        "{sent} PINGs in 10 intervals between two peers"
    );
    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_peer_is_checked_but_never_removed() {
    let (a, b, _a_events) = pair(LivenessPolicy::disabled(), fast_liveness()).await;
    let a_id = a.peer_id();
    drop(a);
    let checked = eventually(WAIT, || b.metrics().pings_sent >= 6).await;
    assert!(checked, "B sent {} PINGs", b.metrics().pings_sent);
    assert!(
        b.registry().contains(&a_id),
        "a configured peer was removed"
    );
    assert_eq!(b.metrics().peers_unreachable, 0);
    b.shutdown().await.expect("B shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_liveness_interval_is_refused() {
    let result = builder()
        .liveness(LivenessPolicy::default().with_interval(Duration::ZERO))
        .start()
        .await;
    assert!(
        matches!(
            result,
            Err(tazcom_node::StartError::Config(
                tazcom_node::ConfigError::Liveness
            ))
        ),
        "{result:?}"
    );
}

/// A peer that said BYE is not brought back by its own late announcement;
/// its withdrawal by discovery ends that, and it is found again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_announcement_does_not_bring_back_a_peer_that_said_bye() {
    use std::collections::BTreeMap;
    use tazcom_discovery::{DiscoveryEvent, PeerInfo, RejectReason};
    use tazcom_identity::Identity;
    use tazcom_registry::Source;
    use tazcom_transport::{send_signed_bye, TransportConfig};

    let (source, script, _local) = common::ScriptedDiscovery::new();
    let a = builder()
        .liveness(LivenessPolicy::disabled())
        .discovery(source, Source::Mdns)
        .start()
        .await
        .expect("start A");
    let mut events = EventLog::of(&a);
    let x = Identity::generate();
    let x_id = x.peer_id();
    let instance = format!("TAZCOM Node {}", x_id.short());
    let announce = || {
        DiscoveryEvent::Discovered(PeerInfo {
            peer_id: x_id,
            addrs: vec![common::closed_port()],
            instance_name: instance.clone(),
            txt: BTreeMap::from([("id".to_owned(), x_id.to_string())]),
        })
    };
    // Handled in order: once A reports this rejection, all before it is done.
    let barrier = |name: &str| DiscoveryEvent::Rejected {
        instance_name: name.to_owned(),
        reason: RejectReason::MissingId,
    };
    let is_barrier = |name: &'static str| common::is_rejected_instance(name);

    script.send(announce()).await.expect("send");
    events
        .expect("Discovered X", WAIT, common::is_discovered(x_id))
        .await;
    let reply = send_signed_bye(
        a.local_addr(),
        &x,
        &a.peer_id(),
        &TransportConfig::default(),
    )
    .await
    .expect("A acknowledges the BYE");
    assert!(reply.is_verified());
    let removed = events
        .expect("Removed X", WAIT, common::is_removed(x_id))
        .await;
    assert_eq!(removal_reason(&removed), Some(RemovalReason::Bye));

    // X's announcement, still on its way: ignored.
    script.send(announce()).await.expect("send");
    script.send(barrier("first-barrier")).await.expect("send");
    events
        .expect("barrier", WAIT, is_barrier("first-barrier"))
        .await;
    assert!(!a.registry().contains(&x_id), "{:?}", a.peers());

    // Discovery withdraws X (its goodbye): X is no longer departed, and a
    // new announcement finds it again.
    script
        .send(DiscoveryEvent::Removed {
            instance_name: instance.clone(),
            peer_id: Some(x_id),
        })
        .await
        .expect("send");
    script.send(announce()).await.expect("send");
    let found_again = eventually(WAIT, || a.registry().contains(&x_id)).await;
    assert!(found_again, "X never found again: {:?}", events.seen);
    a.shutdown().await.expect("A shutdown");
}
