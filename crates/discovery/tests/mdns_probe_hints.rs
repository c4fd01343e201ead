//! mDNS probe hints on the loopback interface: a running node reports a
//! newcomer from its probes (RFC 6762 §8.1) before the newcomer announces.
//!
//! NETWORK SAFETY: these tests send multicast, so they refuse to run unless
//! `lo` is the only interface with an address, i.e. inside a private network
//! namespace:
//!
//! ```text
//! unshare -n sh -c 'ip link set lo up; cargo test -p tazcom-discovery --offline'
//! ```
//!
//! Each test uses its own random service type `_tz<8 hex>._tcp.local.` on
//! the test mDNS port, as tests/mdns_loopback.rs does.

mod common;

use common::{assert_private_network, config, start_node, unique_service_type, DISCOVERY_WAIT};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use tazcom_discovery::{Discovery, DiscoveryEvent};
use tazcom_identity::PeerId;
use tokio::sync::mpsc::Receiver;

/// Reads events into `seen` until `Discovered` for `id` or `wait` passes.
async fn until_discovered(
    events: &mut Receiver<DiscoveryEvent>,
    seen: &mut Vec<(DiscoveryEvent, Duration)>,
    id: PeerId,
    started: Instant,
) {
    let deadline = tokio::time::Instant::now() + DISCOVERY_WAIT;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        let done = matches!(&event, DiscoveryEvent::Discovered(info) if info.peer_id == id);
        seen.push((event, started.elapsed()));
        if done {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_node_reports_a_newcomer_from_its_probes_first() {
    assert_private_network();
    let ty = unique_service_type();
    let (mut a, mut a_events, a_id) = start_node(config(&ty), 4601).await;
    let started = Instant::now();
    let (mut b, _b_events, b_id) = start_node(config(&ty), 4602).await;

    let mut seen = Vec::new();
    until_discovered(&mut a_events, &mut seen, b_id, started).await;
    let events: Vec<&DiscoveryEvent> = seen.iter().map(|(e, _)| e).collect();
    let probing: Vec<usize> = (0..seen.len())
        .filter(|&i| matches!(&seen[i].0, DiscoveryEvent::Probing(info) if info.peer_id == b_id))
        .collect();
    let discovered = seen
        .iter()
        .position(|(e, _)| matches!(e, DiscoveryEvent::Discovered(info) if info.peer_id == b_id));
    eprintln!("probe hints on lo: A saw {seen:?}");

    let [hint_at] = probing[..] else {
        panic!("expected exactly one Probing for B (three probes, de-duplicated); saw {events:?}");
    };
    let Some(discovered_at) = discovered else {
        panic!("A did not discover B within {DISCOVERY_WAIT:?}; saw {events:?}");
    };
    assert!(
        hint_at < discovered_at,
        "Probing must come before Discovered: {events:?}"
    );
    let DiscoveryEvent::Probing(hint) = &seen[hint_at].0 else {
        unreachable!("selected above");
    };
    assert_eq!(hint.instance_name, format!("TAZCOM Node {}", b_id.short()));
    assert!(
        hint.addrs
            .iter()
            .any(|s| s.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST) && s.port() == 4602),
        "{hint:?}"
    );
    assert!(hint.addrs.iter().all(|s| s.port() == 4602), "{hint:?}");
    assert_eq!(hint.txt.get("v").map(String::as_str), Some("1"));
    assert!(
        events.iter().all(|e| e.peer_id() != Some(a_id)),
        "A reported itself: {events:?}"
    );

    let stats = a.stats();
    assert_eq!(stats.probe_hints, 1, "{stats:?}");
    assert!(
        stats.probe_hints_ignored > 0,
        "A's own probes were not seen and ignored: {stats:?}"
    );
    assert_eq!(stats.probe_socket_errors, 0, "{stats:?}");

    let stopping = Instant::now();
    a.shutdown().await.expect("A shutdown");
    b.shutdown().await.expect("B shutdown");
    eprintln!("both shut down in {:?}", stopping.elapsed());
    let end = tokio::time::timeout(Duration::from_secs(1), async {
        while a_events.recv().await.is_some() {}
    })
    .await;
    assert!(end.is_ok(), "A's event stream did not end after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hints_when_turned_off() {
    assert_private_network();
    let ty = unique_service_type();
    let (mut a, mut a_events, _a_id) = start_node(config(&ty).with_probe_hints(false), 4701).await;
    let started = Instant::now();
    let (mut b, _b_events, b_id) = start_node(config(&ty), 4702).await;

    let mut seen = Vec::new();
    until_discovered(&mut a_events, &mut seen, b_id, started).await;
    assert!(
        seen.iter()
            .any(|(e, _)| matches!(e, DiscoveryEvent::Discovered(i) if i.peer_id == b_id)),
        "A did not discover B; saw {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|(e, _)| !matches!(e, DiscoveryEvent::Probing(_))),
        "hints are off: {seen:?}"
    );
    let stats = a.stats();
    assert_eq!(
        (stats.probe_hints, stats.probe_hints_ignored),
        (0, 0),
        "{stats:?}"
    );

    a.shutdown().await.expect("A shutdown");
    b.shutdown().await.expect("B shutdown");
}
