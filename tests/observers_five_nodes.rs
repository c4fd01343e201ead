//! Five nodes on loopback, two of them validators, each with the three real
//! observers: every routing table holds the other four, every mesh has four
//! neighbours, every node agrees on the validator set and quorum; after one
//! validator stops, all of that updates within 2 s.
//!
//! Real mDNS: refuses to run outside a private network namespace
//! (`scripts/test.sh`).

mod common;

use std::time::{Duration, Instant};

use common::{random_service_type, require_private_network};
use tazcom_node::dht::DhtConfig;

use tazcom_node::identity::PeerId;
use tazcom_node::mesh::Reachability;
use tazcom_node::validators::ValidatorPolicy;
use tazcom_node::{MdnsConfig, Node};

/// What one node's observers say, sorted, for comparison.
#[derive(Debug, PartialEq, Eq)]
struct View {
    routing: Vec<PeerId>,
    neighbours: Vec<PeerId>,
    validators: Vec<PeerId>,
    quorum: Option<usize>,
}

fn view(node: &Node) -> View {
    let dht = node.dht().expect("dht attached");
    let mut routing: Vec<PeerId> = dht
        .buckets()
        .into_iter()
        .flat_map(|b| b.entries.into_iter().map(|c| c.peer_id))
        .collect();
    routing.sort();
    let validators = node.validators().expect("validators attached").snapshot();
    View {
        routing,
        neighbours: node.mesh().expect("mesh attached").local_neighbours(),
        validators: validators.members,
        quorum: validators.quorum,
    }
}

/// The view every node should converge to, given who is up.
fn expected(me: PeerId, up: &[PeerId], validators: &[PeerId]) -> View {
    let mut others: Vec<PeerId> = up.iter().copied().filter(|p| *p != me).collect();
    others.sort();
    let mut v: Vec<PeerId> = validators
        .iter()
        .copied()
        .filter(|p| up.contains(p))
        .collect();
    v.sort();
    let n = v.len();
    View {
        routing: others.clone(),
        neighbours: others,
        validators: v,
        quorum: (n > 0).then(|| n - (n - 1) / 3),
    }
}

/// Polls until every node in `nodes` shows its expected view.
async fn converge(
    nodes: &[Node],
    up: &[PeerId],
    validators: &[PeerId],
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let views: Vec<(View, View)> = nodes
            .iter()
            .map(|n| (view(n), expected(n.peer_id(), up, validators)))
            .collect();
        if views.iter().all(|(got, want)| got == want) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "not converged within {limit:?}: {:#?}",
            views.iter().filter(|(g, w)| g != w).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_agree_on_routing_mesh_and_validators() {
    require_private_network();
    let service_type = random_service_type();
    let mut nodes = Vec::new();
    for i in 0..5 {
        let node = Node::builder()
            .listen("127.0.0.1:0".parse().expect("addr"))
            .mdns(
                MdnsConfig::default()
                    .with_interfaces(["lo"])
                    .with_service_type(service_type.clone()),
            )
            .validator(i < 2)
            .dht(DhtConfig::default())
            .mesh(Reachability::AnyAddress)
            .validators(ValidatorPolicy::default())
            .start()
            .await
            .expect("start node");
        nodes.push(node);
    }
    let ids: Vec<PeerId> = nodes.iter().map(Node::peer_id).collect();
    let validators = [ids[0], ids[1]];
    converge(&nodes, &ids, &validators, Duration::from_secs(10)).await;
    assert_eq!(view(&nodes[2]).quorum, Some(2), "two validators: quorum 2");

    // A validator leaves (goodbye): everyone else updates within 2 s.
    let gone = nodes.remove(0);
    let stopped_at = Instant::now();
    gone.shutdown().await.expect("shutdown");
    let up = &ids[1..];
    converge(
        &nodes,
        up,
        &validators,
        Duration::from_secs(2).saturating_sub(stopped_at.elapsed()),
    )
    .await;
    assert_eq!(view(&nodes[1]).validators, vec![ids[1]]);
    assert_eq!(view(&nodes[1]).quorum, Some(1));
    for node in &nodes {
        node.shutdown().await.expect("shutdown");
    }
}
