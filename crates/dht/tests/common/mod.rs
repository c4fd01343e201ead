//! Test helpers: hand-made peer ids and an observer that fails on demand.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use tazcom_dht::PeerId;
use tazcom_registry::{Observer, ObserverError, Origin, RegistryEvent};

/// The local id used by hand-made tables: all zero bytes, so a peer's
/// bucket is the index of its highest set bit.
pub(crate) const LOCAL: PeerId = PeerId::from_bytes([0; 32]);

/// A peer in bucket `bucket` (≥ 8) of a table whose local id is [`LOCAL`],
/// told apart by `n` in its last byte.
pub(crate) fn peer(bucket: usize, n: u8) -> PeerId {
    assert!(bucket >= 8, "helper needs room for n below the bucket bit");
    let mut b = [0u8; 32];
    b[31 - bucket / 8] |= 1 << (bucket % 8);
    b[31] = n;
    PeerId::from_bytes(b)
}

/// One loopback address with port `port`.
pub(crate) fn addr(port: u16) -> Vec<SocketAddr> {
    vec![SocketAddr::from(([127, 0, 0, 1], port))]
}

/// A critical observer that refuses the next commit once armed (and
/// accepts everything else, rollbacks included).
#[derive(Default)]
pub(crate) struct Gate {
    armed: AtomicBool,
}

impl Gate {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The next commit is refused.
    pub(crate) fn arm(&self) {
        self.armed.store(true, SeqCst);
    }

    /// Accept the next commit again (an armed gate that saw no commit
    /// stays armed otherwise).
    pub(crate) fn disarm(&self) {
        self.armed.store(false, SeqCst);
    }
}

impl Observer for Gate {
    fn name(&self) -> &str {
        "gate"
    }

    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        if event.origin == Origin::Commit && self.armed.swap(false, SeqCst) {
            return Err(ObserverError::new("gate armed"));
        }
        Ok(())
    }
}
