//! Shared helpers for the node integration tests: loopback builders, bounded
//! waits over node events, and the mDNS safety guard.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tazcom_discovery::{
    Discovery, DiscoveryError, DiscoveryEvent, DiscoveryStats, LocalService, MdnsConfig, StaticPeer,
};
use tazcom_identity::PeerId;
use tazcom_node::{Events, Node, NodeBuilder, NodeEvent, RecvError, Rejection, TryRecvError};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Upper bound for anything on loopback TCP (greetings, counters), so a bug
/// fails the test instead of hanging it.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// Upper bound for mDNS discovery on loopback.
pub(crate) const DISCOVERY_WAIT: Duration = Duration::from_secs(5);

/// Upper bound for an mDNS goodbye to become `Removed`: mdns-sd keeps a
/// goodbye record for 1 s (RFC 6762 §10.1) before it reports the removal.
pub(crate) const REMOVAL_WAIT: Duration = Duration::from_secs(3);

/// `127.0.0.1:0`: loopback only, a port chosen by the OS.
pub(crate) fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A builder listening on [`loopback`], otherwise with the defaults.
pub(crate) fn builder() -> NodeBuilder {
    Node::builder().listen(loopback())
}

/// A builder on [`loopback`] that greets `peers` through a static list.
pub(crate) fn builder_with_static(peers: &[&Node]) -> NodeBuilder {
    builder().static_peers(
        peers
            .iter()
            .map(|n| StaticPeer {
                peer_id: n.peer_id(),
                addr: n.local_addr(),
            })
            .collect(),
    )
}

/// A loopback address where nothing listens: bind port 0, note it, close.
pub(crate) fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind(loopback()).expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    drop(listener);
    addr
}

/// A node's event stream, with everything read so far kept for messages.
pub(crate) struct EventLog {
    rx: Events,
    /// Every event received, in order.
    pub(crate) seen: Vec<NodeEvent>,
}

impl EventLog {
    /// Follows `node`'s events (from its start: `Node::events` replays them).
    pub(crate) fn of(node: &Node) -> Self {
        EventLog {
            rx: node.events(),
            seen: Vec::new(),
        }
    }

    /// The first event matching `want`: one already in `seen`, else the
    /// next one read within `wait` (`None` if none came). Events read on the
    /// way are kept in `seen`, so waits for several events can come in any
    /// order.
    pub(crate) async fn wait_for(
        &mut self,
        wait: Duration,
        want: impl Fn(&NodeEvent) -> bool,
    ) -> Option<NodeEvent> {
        if let Some(hit) = self.seen.iter().find(|e| want(e)) {
            return Some(hit.clone());
        }
        let deadline = Instant::now() + wait;
        loop {
            let event = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Err(_) => return None,
                Ok(Ok(event)) => event,
                Ok(Err(RecvError::Lagged(n))) => panic!("test fell {n} events behind"),
                Ok(Err(RecvError::Closed)) => return None,
            };
            self.seen.push(event.clone());
            if want(&event) {
                return Some(event);
            }
        }
    }

    /// Like [`wait_for`](Self::wait_for), but panics with the events seen.
    pub(crate) async fn expect(
        &mut self,
        what: &str,
        wait: Duration,
        want: impl Fn(&NodeEvent) -> bool,
    ) -> NodeEvent {
        match self.wait_for(wait, want).await {
            Some(event) => event,
            None => panic!("no {what} within {wait:?}; saw {:?}", self.seen),
        }
    }

    /// Waits until `n` events matching `want` have been seen in all, or
    /// panics with the events seen after `wait`.
    pub(crate) async fn expect_count(
        &mut self,
        what: &str,
        n: usize,
        wait: Duration,
        want: impl Fn(&NodeEvent) -> bool,
    ) {
        let deadline = Instant::now() + wait;
        while self.seen.iter().filter(|e| want(e)).count() < n {
            let event = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Ok(event)) => event,
                Ok(Err(RecvError::Lagged(n))) => panic!("test fell {n} events behind"),
                Err(_) | Ok(Err(RecvError::Closed)) => {
                    panic!("fewer than {n} {what} within {wait:?}; saw {:?}", self.seen)
                }
            };
            self.seen.push(event);
        }
    }

    /// Reads what is queued now, without waiting.
    pub(crate) fn drain(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(event) => self.seen.push(event),
                Err(TryRecvError::Lagged(n)) => panic!("test fell {n} events behind"),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }
}

/// Polls `condition` every 10 ms until it holds (true) or `wait` passes
/// (false). For state that settles just after the event that announces it.
pub(crate) async fn eventually(wait: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) fn is_discovered(peer: PeerId) -> impl Fn(&NodeEvent) -> bool {
    move |e| matches!(e, NodeEvent::Discovered { peer: p, .. } if *p == peer)
}

pub(crate) fn is_hello_acked(peer: PeerId) -> impl Fn(&NodeEvent) -> bool {
    move |e| matches!(e, NodeEvent::HelloAcked { peer: p, .. } if *p == peer)
}

pub(crate) fn is_hello_received(peer: PeerId) -> impl Fn(&NodeEvent) -> bool {
    move |e| matches!(e, NodeEvent::HelloReceived { peer: p, .. } if *p == peer)
}

pub(crate) fn is_rejected_instance(name: &str) -> impl Fn(&NodeEvent) -> bool + '_ {
    move |e| matches!(e, NodeEvent::Rejected(Rejection::Discovery { instance, .. }) if instance == name)
}

pub(crate) fn is_removed(peer: PeerId) -> impl Fn(&NodeEvent) -> bool {
    move |e| matches!(e, NodeEvent::Removed { peer: p, .. } if *p == peer)
}

/// A [`Discovery`] source that reports exactly what the test sends on its
/// script channel: Updated, Removed and Rejected without any multicast.
pub(crate) struct ScriptedDiscovery {
    events: Option<mpsc::Receiver<DiscoveryEvent>>,
    /// The `LocalService` the node started the source with.
    pub(crate) started_with: mpsc::UnboundedSender<LocalService>,
}

impl ScriptedDiscovery {
    /// The source, the sender that scripts it, and the receiver of the
    /// `LocalService` the node publishes.
    pub(crate) fn new() -> (
        Self,
        mpsc::Sender<DiscoveryEvent>,
        mpsc::UnboundedReceiver<LocalService>,
    ) {
        let (tx, rx) = mpsc::channel(64);
        let (local_tx, local_rx) = mpsc::unbounded_channel();
        let source = ScriptedDiscovery {
            events: Some(rx),
            started_with: local_tx,
        };
        (source, tx, local_rx)
    }
}

#[async_trait]
impl Discovery for ScriptedDiscovery {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn start(
        &mut self,
        local: LocalService,
    ) -> Result<mpsc::Receiver<DiscoveryEvent>, DiscoveryError> {
        let _ = self.started_with.send(local);
        self.events
            .take()
            .ok_or_else(|| DiscoveryError::AlreadyStarted {
                source_name: "scripted".to_owned(),
            })
    }

    async fn shutdown(&mut self) -> Result<(), DiscoveryError> {
        Ok(())
    }

    fn stats(&self) -> DiscoveryStats {
        DiscoveryStats::default()
    }
}

// ---- mDNS ----

/// NETWORK SAFETY: mDNS tests send multicast, so they refuse to run unless
/// loopback is the only interface with an address, i.e. inside a private
/// network namespace:
///
/// ```text
/// unshare -n sh -c 'ip link set lo up; cargo test -p tazcom-node --offline'
/// ```
pub(crate) fn assert_private_network() {
    let interfaces = if_addrs::get_if_addrs().expect("cannot list network interfaces");
    let mut outside: Vec<&str> = interfaces
        .iter()
        .filter(|i| !i.is_loopback())
        .map(|i| i.name.as_str())
        .collect();
    outside.dedup();
    assert!(
        outside.is_empty(),
        "refusing to send multicast: interfaces {outside:?} are reachable. Run these tests in a \
         private network namespace: \
         unshare -n sh -c 'ip link set lo up; cargo test -p tazcom-node --offline'"
    );
    assert!(
        interfaces.iter().any(|i| i.name == "lo"),
        "loopback has no address; run `ip link set lo up` in the namespace first"
    );
}

/// A fresh service type `_tz<8 hex>._tcp.local.` (name 10 chars ≤ 15), so
/// tests running in parallel on the same mDNS port never see each other.
pub(crate) fn unique_service_type() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("_tz{:08x}._tcp.local.", hasher.finish() as u32)
}

/// mDNS on loopback only, with the test's own service type.
pub(crate) fn mdns_config(service_type: &str) -> MdnsConfig {
    MdnsConfig::default()
        .with_service_type(service_type)
        .with_interfaces(["lo"])
}
