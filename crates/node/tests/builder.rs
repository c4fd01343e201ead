//! `NodeBuilder` options and start-up errors.

mod common;

use common::{builder, EventLog, WAIT};
use tazcom_identity::Identity;
use tazcom_node::{ConfigError, NodeEvent, StartError};
use tazcom_transport::TransportError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_keeps_the_peer_id_across_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node.key");

    let first = builder()
        .key_file(&path)
        .start()
        .await
        .expect("first start");
    let id = first.peer_id();
    assert!(path.exists(), "key file not created");
    assert_eq!(first.identity().peer_id(), id);
    first.shutdown().await.expect("shutdown");

    let second = builder().key_file(&path).start().await.expect("restart");
    assert_eq!(second.peer_id(), id);
    second.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_identity_is_used_and_ready_reports_it() {
    let identity = Identity::generate();
    let id = identity.peer_id();
    let node = builder().identity(identity).start().await.expect("start");
    assert_eq!(node.peer_id(), id);
    assert!(node.local_addr().ip().is_loopback());
    assert_ne!(
        node.local_addr().port(),
        0,
        "port 0 resolves to a real port"
    );

    let mut events = EventLog::of(&node);
    let ready = events
        .expect("Ready", WAIT, |e| matches!(e, NodeEvent::Ready { .. }))
        .await;
    assert_eq!(
        ready,
        NodeEvent::Ready {
            peer: id,
            addr: node.local_addr()
        }
    );
    assert_eq!(events.seen.first(), Some(&ready), "Ready comes first");
    node.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_in_use_is_a_transport_error() {
    let taken = std::net::TcpListener::bind(common::loopback()).expect("bind");
    let addr = taken.local_addr().expect("local_addr");
    let result = builder().listen(addr).start().await;
    match result {
        Err(StartError::Bind(TransportError::Bind { addr: asked, .. })) => {
            assert_eq!(asked, addr)
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_event_capacity_is_refused() {
    let result = builder().event_capacity(0).start().await;
    assert!(
        matches!(result, Err(StartError::Config(ConfigError::EventCapacity))),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_range_transport_config_is_refused_before_binding() {
    let addr = common::closed_port();
    let bad = tazcom_node::TransportConfig::default().with_max_connections(0);
    let result = builder().listen(addr).transport(bad).start().await;
    assert!(
        matches!(result, Err(StartError::TransportConfig(_))),
        "{result:?}"
    );
    let connect = tokio::net::TcpStream::connect(addr).await;
    assert!(connect.is_err(), "nothing was bound at {addr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_mdns_config_fails_start_before_any_multicast() {
    // Refused by MdnsConfig::validate, before a daemon or socket exists.
    let config = common::mdns_config("_tazcom._tcp.local"); // no trailing dot
    let result = builder().mdns(config).start().await;
    assert!(
        matches!(result, Err(StartError::Discovery(_))),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_fails_to_start_closes_the_listener() {
    // The unknown interface is refused before any mDNS socket exists.
    let config = tazcom_discovery::MdnsConfig::default().with_interfaces(["tazcom-no-such-if0"]);
    let addr = common::closed_port();
    let result = builder()
        .listen(addr)
        .static_peers(Vec::new())
        .mdns(config)
        .start()
        .await;
    assert!(
        matches!(
            result,
            Err(StartError::Discovery(
                tazcom_discovery::DiscoveryError::InterfaceNotFound { .. }
            ))
        ),
        "{result:?}"
    );
    let connect = tokio::net::TcpStream::connect(addr).await;
    assert!(
        connect.is_err(),
        "the listener of a failed start is still open"
    );
}
