//! Test observers: a mirror of the registry that can be told to fail.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tazcom_identity::{Identity, PeerId};
use tazcom_registry::{
    AsyncObserver, Change, Observer, ObserverError, Origin, PeerEntry, RegistryEvent, Source,
};

/// How the next delivery should misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Fault {
    None = 0,
    /// Return an error without applying anything.
    Refuse = 1,
    /// Apply the first half of the changes, then return an error.
    Partial = 2,
    /// Apply the first half, then hang past any timeout (async only).
    Hang = 3,
    /// Apply everything, then return an error.
    FailAfter = 4,
}

/// Mirrors the registry by applying changes as assignments, and logs every
/// event it receives.
pub(crate) struct Mirror {
    pub name: String,
    pub peers: Mutex<HashMap<PeerId, Arc<PeerEntry>>>,
    pub log: Mutex<Vec<(u64, Origin)>>,
    pub events: Mutex<Vec<Arc<RegistryEvent>>>,
    next_fault: AtomicU8,
    /// Fault on every delivery (not only the next one).
    pub always: AtomicU8,
}

impl Mirror {
    pub(crate) fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            peers: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            next_fault: AtomicU8::new(0),
            always: AtomicU8::new(0),
        })
    }

    /// The next delivery misbehaves as `fault`.
    pub(crate) fn arm(&self, fault: Fault) {
        self.next_fault.store(fault as u8, SeqCst);
    }

    fn take_fault(&self) -> Fault {
        let f = match self.always.load(SeqCst) {
            0 => self.next_fault.swap(0, SeqCst),
            f => f,
        };
        match f {
            1 => Fault::Refuse,
            2 => Fault::Partial,
            3 => Fault::Hang,
            4 => Fault::FailAfter,
            _ => Fault::None,
        }
    }

    /// Sorted copy of the mirrored peers.
    pub(crate) fn contents(&self) -> Vec<Arc<PeerEntry>> {
        let mut v: Vec<_> = self.peers.lock().unwrap().values().cloned().collect();
        v.sort_by_key(|e| e.peer_id);
        v
    }

    pub(crate) fn seqs(&self) -> Vec<u64> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, o)| *o == Origin::Commit)
            .map(|(s, _)| *s)
            .collect()
    }

    fn apply(&self, changes: &[Change]) {
        let mut peers = self.peers.lock().unwrap();
        for change in changes {
            match change.after() {
                Some(e) => {
                    peers.insert(e.peer_id, Arc::clone(e));
                }
                None => {
                    if let Some(old) = change.before() {
                        peers.remove(&old.peer_id);
                    }
                }
            }
        }
    }

    /// Applies `event` as told by the armed fault; `true` if it should then hang.
    fn handle(&self, event: &Arc<RegistryEvent>) -> (Result<(), ObserverError>, bool) {
        self.log.lock().unwrap().push((event.seq, event.origin));
        self.events.lock().unwrap().push(Arc::clone(event));
        let changes = event.changes();
        let half = &changes[..changes.len() / 2];
        match self.take_fault() {
            Fault::None => {
                self.apply(changes);
                (Ok(()), false)
            }
            Fault::Refuse => (Err(ObserverError::new("refused")), false),
            Fault::Partial => {
                self.apply(half);
                (Err(ObserverError::new("failed half-way")), false)
            }
            Fault::Hang => {
                self.apply(half);
                (Ok(()), true)
            }
            Fault::FailAfter => {
                self.apply(changes);
                (Err(ObserverError::new("failed after applying")), false)
            }
        }
    }
}

impl Observer for Mirror {
    fn name(&self) -> &str {
        &self.name
    }
    fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        let (result, hang) = self.handle(event);
        if hang {
            std::thread::sleep(Duration::from_millis(50));
        }
        result
    }
}

/// The same mirror as an async observer (a separate type so it can be
/// registered through `register_async_observer`).
pub(crate) struct AsyncMirror(pub Arc<Mirror>);

#[async_trait]
impl AsyncObserver for AsyncMirror {
    fn name(&self) -> &str {
        &self.0.name
    }
    async fn on_event(&self, event: &Arc<RegistryEvent>) -> Result<(), ObserverError> {
        let (result, hang) = self.0.handle(event);
        if hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        tokio::task::yield_now().await;
        result
    }
}

/// `n` distinct peer ids.
pub(crate) fn peers(n: usize) -> Vec<PeerId> {
    (0..n).map(|_| Identity::generate().peer_id()).collect()
}

/// An mDNS entry for `id` with instance name `TAZCOM Node <short>` and one address.
pub(crate) fn entry(id: PeerId, port: u16) -> PeerEntry {
    let mut e = PeerEntry::new(id, Source::Mdns);
    e.instance_name = Some(format!("TAZCOM Node {}", id.short()).into());
    e.addrs = vec![SocketAddr::from(([127, 0, 0, 1], port))];
    // Fixed, not "now": two calls must give equal entries even across a
    // millisecond boundary (an equal upsert is `Unchanged`).
    e.first_seen_ms = 1_700_000_000_000;
    e.last_seen_ms = 1_700_000_000_000;
    e
}
