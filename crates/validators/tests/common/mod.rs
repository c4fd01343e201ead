//! Shared test helpers: entries and an observer that aborts commits on demand.

#![allow(dead_code)] // each test binary uses a subset

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tazcom_identity::PeerId;
use tazcom_registry::{Observer, ObserverError, Origin, PeerEntry, RegistryEvent, Source};

/// A deterministic peer id.
pub(crate) fn id(n: u8) -> PeerId {
    PeerId::from_bytes([n; 32])
}

/// An entry for `peer` with the validator flag, `verified` and a port.
pub(crate) fn entry(peer: PeerId, validator: bool, verified: bool, port: u16) -> PeerEntry {
    let mut e = PeerEntry::new(peer, Source::Mdns);
    e.capabilities.validator = validator;
    e.verified = verified;
    e.addrs = vec![SocketAddr::from(([127, 0, 0, 1], port))];
    e
}

/// A critical observer that refuses the next commit when armed.
#[derive(Default)]
pub(crate) struct Saboteur {
    armed: AtomicBool,
}

impl Saboteur {
    /// Make the next commit fail.
    pub(crate) fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Disarm (when the armed commit changed nothing, nothing was dispatched).
    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }
}

impl Observer for Saboteur {
    fn name(&self) -> &str {
        "saboteur"
    }

    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        if event.origin == Origin::Commit && self.armed.swap(false, Ordering::SeqCst) {
            return Err(ObserverError::new("sabotaged"));
        }
        Ok(())
    }
}
