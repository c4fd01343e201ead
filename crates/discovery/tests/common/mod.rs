//! Helpers shared by the mDNS loopback tests: the network-namespace guard,
//! per-test service types and peer ids, the loopback configuration.
//!
//! NETWORK SAFETY: the tests using these send multicast, so they refuse to
//! run unless `lo` is the only interface with an address, i.e. inside a
//! private network namespace:
//!
//! ```text
//! unshare -n sh -c 'ip link set lo up; cargo test -p tazcom-discovery --offline'
//! ```

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tazcom_discovery::{Discovery, DiscoveryEvent, LocalService, MdnsConfig, MdnsDiscovery};
use tazcom_identity::PeerId;
use tokio::sync::mpsc::Receiver;

/// A non-standard mDNS port: exercises the port option and keeps clear of
/// any responder on 5353 (mdns-sd >= 0.21 serves several processes on it).
pub(crate) const TEST_MDNS_PORT: u16 = 5454;

/// Upper bound for a peer to be discovered on loopback.
pub(crate) const DISCOVERY_WAIT: Duration = Duration::from_secs(5);

/// Panics unless loopback is the only interface with an address.
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
         unshare -n sh -c 'ip link set lo up; cargo test -p tazcom-discovery --offline'"
    );
    assert!(
        interfaces.iter().any(|i| i.name == "lo"),
        "loopback has no address; run `ip link set lo up` in the namespace first"
    );
}

/// A fresh service type `_tz<8 hex>._tcp.local.` (name 10 chars <= 15), so
/// tests running in parallel on the same mDNS port never see each other.
pub(crate) fn unique_service_type() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("_tz{:08x}._tcp.local.", hasher.finish() as u32)
}

/// A random peer id (the key behind it is never needed here).
pub(crate) fn random_peer_id() -> PeerId {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u8(chunk.len() as u8);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes()[..chunk.len()]);
    }
    PeerId::from_bytes(bytes)
}

/// mDNS on `lo` only, on [`TEST_MDNS_PORT`], with the test's service type.
pub(crate) fn config(service_type: &str) -> MdnsConfig {
    MdnsConfig::default()
        .with_service_type(service_type)
        .with_mdns_port(TEST_MDNS_PORT)
        .with_interfaces(["lo"])
}

/// Starts a source with `config` publishing a random id on TCP `port`
/// (TXT `v=1`).
pub(crate) async fn start_node(
    config: MdnsConfig,
    port: u16,
) -> (MdnsDiscovery, Receiver<DiscoveryEvent>, PeerId) {
    let id = random_peer_id();
    let mut mdns = MdnsDiscovery::new(config).expect("valid config");
    let events = mdns
        .start(LocalService::new(id, port).with_txt("v", "1"))
        .await
        .expect("mDNS start on lo");
    (mdns, events, id)
}
