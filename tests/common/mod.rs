//! Helpers shared by the workspace-level tests.
#![allow(dead_code)]

use std::hash::{BuildHasher, RandomState};

/// Panics unless loopback is the only interface with an address: mDNS from a
/// test must never reach a real network. Run the tests through
/// `scripts/test.sh` (a private network namespace).
pub(crate) fn require_private_network() {
    let interfaces = if_addrs::get_if_addrs().expect("list interfaces");
    let outside: Vec<_> = interfaces
        .iter()
        .filter(|i| !i.is_loopback())
        .map(|i| i.name.clone())
        .collect();
    assert!(
        outside.is_empty(),
        "refusing to run mDNS with non-loopback interfaces up ({outside:?}); \
         run scripts/test.sh (private network namespace)"
    );
}

/// A DNS-SD service type of this test's own (`_tz<8 hex>._tcp.local.`), so
/// tests running at the same time never see each other.
pub(crate) fn random_service_type() -> String {
    let tag = RandomState::new().hash_one(std::process::id()) as u32;
    format!("_tz{tag:08x}._tcp.local.")
}
