//! Greeting failures: a static peer whose address refuses connections.

mod common;

use std::time::Duration;

use common::{builder, closed_port, EventLog, WAIT};
use tazcom_discovery::StaticPeer;
use tazcom_identity::Identity;
use tazcom_node::{GreetFailure, GreetingPolicy, NodeEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_refuses_every_attempt_gets_hello_failed() {
    let ghost = Identity::generate().peer_id();
    let addr = closed_port();
    let policy = GreetingPolicy::default().with_attempts(2, Duration::from_millis(10));
    let node = builder()
        .greeting(policy)
        .static_peers(vec![StaticPeer {
            peer_id: ghost,
            addr,
        }])
        .start()
        .await
        .expect("start");
    let mut events = EventLog::of(&node);

    let failed = events
        .expect(
            "HelloFailed",
            WAIT,
            |e| matches!(e, NodeEvent::HelloFailed { peer, .. } if *peer == ghost),
        )
        .await;
    let NodeEvent::HelloFailed {
        addr: tried,
        reason,
        ..
    } = failed
    else {
        unreachable!("matched HelloFailed");
    };
    assert_eq!(tried, addr, "the event names the address");
    assert_eq!(reason, GreetFailure::Refused);
    assert!(
        !events
            .seen
            .iter()
            .any(|e| matches!(e, NodeEvent::HelloAcked { .. })),
        "{:?}",
        events.seen
    );

    // One attempt per round (one address, two rounds), one failed peer.
    let metrics = node.metrics();
    assert_eq!(metrics.hellos_sent, 2);
    assert_eq!(metrics.hellos_failed, 1);
    assert_eq!(metrics.hellos_acked, 0);
    // A failed greeting does not remove the discovered peer.
    assert!(node.registry().contains(&ghost));

    node.shutdown().await.expect("shutdown");
}

#[test]
fn default_policy_is_three_rounds_250_ms_apart() {
    let policy = GreetingPolicy::default();
    assert_eq!(
        (policy.attempts, policy.backoff),
        (3, Duration::from_millis(250))
    );
}
