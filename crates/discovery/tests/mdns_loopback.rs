//! mDNS tests on the loopback interface.
//!
//! NETWORK SAFETY: these tests send multicast, so they refuse to run unless
//! `lo` is the only interface with an address, i.e. inside a private network
//! namespace:
//!
//! ```text
//! unshare -n sh -c 'ip link set lo up; cargo test -p tazcom-discovery --offline'
//! ```
//!
//! Each test uses its own random service type `_tz<8 hex>._tcp.local.`, so
//! tests running in parallel (all on the same mDNS port) never see each
//! other. Timing lines are printed to stderr (`--nocapture` shows them).

mod common;

use common::{
    assert_private_network, config, random_peer_id, start_node, unique_service_type,
    DISCOVERY_WAIT, TEST_MDNS_PORT,
};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use tazcom_discovery::{Discovery, DiscoveryEvent, LocalService, RejectReason};
use tazcom_identity::PeerId;
use tokio::sync::mpsc::Receiver;

/// Upper bound for a goodbye to turn into `Removed` (ms). mdns-sd keeps a
/// goodbye record for 1 s (RFC 6762 §10.1) before it reports the removal.
const REMOVAL_WAIT: Duration = Duration::from_secs(3);

/// Reads events into `seen` until one matches `want` or `wait` passes.
async fn wait_for(
    events: &mut Receiver<DiscoveryEvent>,
    seen: &mut Vec<DiscoveryEvent>,
    wait: Duration,
    want: impl Fn(&DiscoveryEvent) -> bool,
) -> Option<DiscoveryEvent> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .ok()??;
        seen.push(event.clone());
        if want(&event) {
            return Some(event);
        }
    }
}

fn discovered(id: PeerId) -> impl Fn(&DiscoveryEvent) -> bool {
    move |e| matches!(e, DiscoveryEvent::Discovered(info) if info.peer_id == id)
}

/// A plain mdns-sd daemon on lo, to publish services the way other
/// implementations (or broken peers) would.
fn raw_daemon() -> ServiceDaemon {
    let daemon = ServiceDaemon::new_with_port(TEST_MDNS_PORT).expect("raw daemon");
    daemon.disable_interface(IfKind::All).expect("disable all");
    daemon.enable_interface("lo").expect("enable lo");
    daemon
}

fn raw_service(service_type: &str, instance: &str, port: u16, txt: &[(&str, &str)]) -> ServiceInfo {
    let host = format!("{}.local.", instance.replace(' ', "-"));
    ServiceInfo::new(service_type, instance, &host, "127.0.0.1", port, txt).expect("service info")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_discover_each_other_but_not_themselves() {
    assert_private_network();
    let ty = unique_service_type();
    let started = Instant::now();
    let (mut a, mut a_events, a_id) = start_node(config(&ty), 4101).await;
    let (mut b, mut b_events, b_id) = start_node(config(&ty), 4102).await;
    let (mut a_seen, mut b_seen) = (Vec::new(), Vec::new());

    let found_b = wait_for(&mut a_events, &mut a_seen, DISCOVERY_WAIT, discovered(b_id)).await;
    let a_took = started.elapsed();
    let found_a = wait_for(&mut b_events, &mut b_seen, DISCOVERY_WAIT, discovered(a_id)).await;
    eprintln!(
        "discovery on lo: A found B after {a_took:?}, B found A after {:?}",
        started.elapsed()
    );

    let Some(DiscoveryEvent::Discovered(info_b)) = found_b else {
        panic!("A did not discover B within {DISCOVERY_WAIT:?}; saw {a_seen:?}");
    };
    let Some(DiscoveryEvent::Discovered(info_a)) = found_a else {
        panic!("B did not discover A within {DISCOVERY_WAIT:?}; saw {b_seen:?}");
    };
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert!(
        info_b
            .addrs
            .iter()
            .any(|s| s.ip() == localhost && s.port() == 4102),
        "{info_b:?}"
    );
    assert!(
        info_a
            .addrs
            .iter()
            .any(|s| s.ip() == localhost && s.port() == 4101),
        "{info_a:?}"
    );
    assert_eq!(
        info_b.instance_name,
        format!("TAZCOM Node {}", b_id.short())
    );
    assert_eq!(info_b.txt.get("id"), Some(&b_id.to_string()));
    assert_eq!(info_b.txt.get("v").map(String::as_str), Some("1"));

    // Each node hears its own announcement (multicast loop) and drops it.
    let deadline = Instant::now() + DISCOVERY_WAIT;
    while (a.stats().self_ignored == 0 || b.stats().self_ignored == 0) && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        a.stats().self_ignored > 0 && b.stats().self_ignored > 0,
        "self-filter not exercised"
    );
    while let Ok(e) = a_events.try_recv() {
        a_seen.push(e);
    }
    while let Ok(e) = b_events.try_recv() {
        b_seen.push(e);
    }
    assert!(
        a_seen.iter().all(|e| e.peer_id() != Some(a_id)),
        "A reported itself: {a_seen:?}"
    );
    assert!(
        b_seen.iter().all(|e| e.peer_id() != Some(b_id)),
        "B reported itself: {b_seen:?}"
    );

    a.shutdown().await.expect("A shutdown");
    b.shutdown().await.expect("B shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_a_goodbye_that_removes_the_peer() {
    assert_private_network();
    let ty = unique_service_type();
    let (mut a, mut a_events, _a_id) = start_node(config(&ty), 4201).await;
    let (mut b, mut b_events, b_id) = start_node(config(&ty), 4202).await;
    let mut seen = Vec::new();
    wait_for(&mut a_events, &mut seen, DISCOVERY_WAIT, discovered(b_id))
        .await
        .unwrap_or_else(|| panic!("A did not discover B; saw {seen:?}"));

    let shutdown_started = Instant::now();
    b.shutdown()
        .await
        .expect("B shutdown confirms goodbye and daemon exit");
    let shutdown_took = shutdown_started.elapsed();
    assert!(!b.is_running());
    let removed = wait_for(&mut a_events, &mut seen, REMOVAL_WAIT, |e| {
        matches!(e, DiscoveryEvent::Removed { .. })
    })
    .await;
    eprintln!(
        "goodbye on lo: shutdown took {shutdown_took:?}, Removed after {:?}",
        shutdown_started.elapsed()
    );
    assert_eq!(
        removed,
        Some(DiscoveryEvent::Removed {
            instance_name: format!("TAZCOM Node {}", b_id.short()),
            peer_id: Some(b_id),
        }),
        "saw {seen:?}"
    );
    assert_eq!(a.stats().removed, 1);

    // B's stream ends after shutdown.
    let end = tokio::time::timeout(Duration::from_secs(1), async {
        while b_events.recv().await.is_some() {}
    })
    .await;
    assert!(end.is_ok(), "B's event stream did not end after shutdown");
    a.shutdown().await.expect("A shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_txt_ids_are_rejected_and_counted_valid_peers_still_found() {
    assert_private_network();
    let ty = unique_service_type();
    let (mut a, mut a_events, _a_id) = start_node(config(&ty), 4301).await;

    let raw = raw_daemon();
    let good_id = random_peer_id();
    let good_hex = good_id.to_string();
    let upper_hex = good_hex.to_uppercase();
    raw.register(raw_service(&ty, "bad id", 4302, &[("id", &upper_hex)]))
        .unwrap();
    raw.register(raw_service(&ty, "no id", 4303, &[("v", "1")]))
        .unwrap();
    raw.register(raw_service(&ty, "good", 4304, &[("id", &good_hex)]))
        .unwrap();

    let mut seen = Vec::new();
    let deadline = Instant::now() + DISCOVERY_WAIT;
    // Probe hints (`Probing`) come first for "good"; wait for its `Discovered`.
    let all_seen = |seen: &[DiscoveryEvent]| {
        let has = |name: &str| {
            seen.iter()
                .any(|e| e.instance_name() == name && !matches!(e, DiscoveryEvent::Probing(_)))
        };
        has("bad id") && has("no id") && has("good")
    };
    while !all_seen(&seen) && Instant::now() < deadline {
        wait_for(&mut a_events, &mut seen, Duration::from_millis(200), |_| {
            true
        })
        .await;
    }

    assert!(
        seen.iter().any(|e| matches!(e,
        DiscoveryEvent::Rejected { instance_name, reason: RejectReason::InvalidId { value, .. } }
            if instance_name == "bad id" && *value == upper_hex)),
        "saw {seen:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e,
        DiscoveryEvent::Rejected { instance_name, reason: RejectReason::MissingId }
            if instance_name == "no id")),
        "saw {seen:?}"
    );
    assert!(seen.iter().any(discovered(good_id)), "saw {seen:?}");
    assert_eq!(
        a.stats().rejected,
        2,
        "each bad instance counted once; saw {seen:?}"
    );
    assert_eq!(a.stats().discovered, 1);

    a.shutdown().await.expect("A shutdown");
    let exit = raw.shutdown().expect("raw shutdown");
    exit.recv_async().await.expect("raw daemon exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_moving_to_another_port_is_updated() {
    assert_private_network();
    let ty = unique_service_type();
    let (mut a, mut a_events, _a_id) = start_node(config(&ty), 4401).await;

    let raw = raw_daemon();
    let peer = random_peer_id();
    let instance = format!("TAZCOM Node {}", peer.short());
    let hex = peer.to_string();
    raw.register(raw_service(&ty, &instance, 4402, &[("id", &hex)]))
        .unwrap();
    let mut seen = Vec::new();
    wait_for(&mut a_events, &mut seen, DISCOVERY_WAIT, discovered(peer))
        .await
        .unwrap_or_else(|| panic!("peer not discovered; saw {seen:?}"));

    // Re-registering the same instance announces the new SRV with the
    // cache-flush bit (RFC 6762 §10.2), replacing the old port.
    let moved = Instant::now();
    raw.register(raw_service(&ty, &instance, 4403, &[("id", &hex)]))
        .unwrap();
    let updated = wait_for(&mut a_events, &mut seen, DISCOVERY_WAIT, |e| {
        matches!(e, DiscoveryEvent::Updated(info) if info.addrs.iter().all(|s| s.port() == 4403))
    })
    .await;
    eprintln!("port change on lo: Updated after {:?}", moved.elapsed());
    let Some(DiscoveryEvent::Updated(info)) = updated else {
        panic!("no Updated with port 4403; saw {seen:?}");
    };
    assert_eq!(info.peer_id, peer);
    assert!(
        seen.iter()
            .all(|e| !matches!(e, DiscoveryEvent::Removed { .. })),
        "a port change is not a removal: {seen:?}"
    );

    a.shutdown().await.expect("A shutdown");
    let exit = raw.shutdown().expect("raw shutdown");
    exit.recv_async().await.expect("raw daemon exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_is_refused_while_running() {
    assert_private_network();
    let ty = unique_service_type();
    let (mut a, _events, a_id) = start_node(config(&ty), 4501).await;
    let again = a.start(LocalService::new(a_id, 4501)).await;
    assert!(
        matches!(
            again,
            Err(tazcom_discovery::DiscoveryError::AlreadyStarted { .. })
        ),
        "{again:?}"
    );
    a.shutdown().await.expect("shutdown");
    assert!(a.shutdown().await.is_ok(), "second shutdown is a no-op");
    // A stopped source can start again.
    let _events = a
        .start(LocalService::new(a_id, 4501))
        .await
        .expect("restart");
    a.shutdown().await.expect("shutdown after restart");
}
