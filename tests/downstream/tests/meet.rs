//! Two nodes built from `tazcom_node` alone find each other over mDNS on
//! loopback and prove their ids. NETWORK SAFETY: refuses to run unless
//! loopback is the only network interface (a private network namespace,
//! as `scripts/test.sh` sets up).

use std::time::Duration;

use tazcom_node::{MdnsConfig, Node, NodeEvent, PeerId};

/// mDNS on loopback takes about 1 s (probing, announcing); the greeting a
/// few ms more.
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_meet_over_mdns_with_only_the_facade() {
    assert_private_network();
    let service_type = format!("_tzd{:07x}._tcp.local.", std::process::id() & 0xfff_ffff);
    let mdns = || {
        MdnsConfig::default()
            .with_service_type(&service_type)
            .with_interfaces(["lo"])
    };
    let loopback = "127.0.0.1:0".parse().expect("addr");
    let a = Node::builder()
        .listen(loopback)
        .mdns(mdns())
        .start()
        .await
        .expect("start A");
    let b = Node::builder()
        .listen(loopback)
        .mdns(mdns())
        .start()
        .await
        .expect("start B");

    let (a_acked, b_acked) =
        tokio::join!(verified_ack(&a, b.peer_id()), verified_ack(&b, a.peer_id()));
    assert!(a_acked, "A never proved B's id");
    assert!(b_acked, "B never proved A's id");
    assert!(a.registry().get(&b.peer_id()).is_some_and(|e| e.verified));

    b.shutdown().await.expect("B shutdown");
    a.shutdown().await.expect("A shutdown");
}

/// Whether `node` reports a verified `HelloAcked` from `peer` within [`WAIT`].
async fn verified_ack(node: &Node, peer: PeerId) -> bool {
    let mut events = node.events();
    let acked = async {
        while let Ok(event) = events.recv().await {
            if matches!(event, NodeEvent::HelloAcked { peer: p, verified: true, .. } if p == peer) {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(WAIT, acked).await.unwrap_or(false)
}

/// Panics unless `lo` is the only network interface of this network
/// namespace (`/proc/net/dev` is per namespace; `/sys/class/net` is not
/// remounted by `unshare -n`).
fn assert_private_network() {
    let dev = std::fs::read_to_string("/proc/net/dev").expect("cannot list network interfaces");
    let interfaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|line| Some(line.split_once(':')?.0.trim()))
        .collect();
    assert!(
        interfaces.iter().all(|name| *name == "lo"),
        "refusing to send multicast: interfaces {interfaces:?} exist. Run in a private network \
         namespace: unshare -n sh -c 'ip link set lo up; cargo test -p tazcom-downstream'"
    );
}
