//! State shared by the node's tasks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tazcom_identity::PeerId;
use tazcom_registry::PeerRegistry;
use tazcom_transport::Greeter;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::departure::Departed;
use crate::event::NodeEvent;
use crate::liveness::{Heard, LivenessPolicy};
use crate::metrics::Counters;
use crate::tasks::Tasks;

/// Greeting policy (see [`NodeBuilder::greeting`](crate::NodeBuilder::greeting)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreetingPolicy {
    /// Rounds over the peer's addresses before giving up. Default 3.
    pub attempts: u32,
    /// Pause before round n+1 is n × this. Default 250 ms.
    pub backoff: Duration,
}

impl Default for GreetingPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

pub(crate) struct Shared {
    pub peer_id: PeerId,
    pub registry: PeerRegistry,
    pub events: broadcast::Sender<NodeEvent>,
    pub counters: Counters,
    /// Sends signed HELLOs as this node (its identity, listen port,
    /// transport config), counting into the listener's `TransportStats`.
    pub greeter: Greeter,
    pub greeting: GreetingPolicy,
    /// The address set each peer was last greeted at: a peer is greeted
    /// once per distinct set.
    pub greeted: Mutex<HashMap<PeerId, Vec<SocketAddr>>>,
    /// Peers with a hint greeting in flight (`hints.rs`, one at a time), and
    /// the addresses being greeted.
    pub hinted: Mutex<HashMap<PeerId, Vec<SocketAddr>>>,
    /// Peers that said BYE recently (not re-added by discovery).
    pub departed: Mutex<Departed>,
    /// When each peer was last heard from, and which are being checked.
    pub heard: Mutex<Heard>,
    pub liveness: LivenessPolicy,
    pub tasks: Tasks,
    /// Cancelled when the node starts leaving (or stops): no new contact
    /// (greetings, liveness checks) is started. A child of `cancel`.
    pub departing: CancellationToken,
    pub cancel: CancellationToken,
    /// Held across each read-modify-write of the registry by the node's two
    /// writers (discovery handler, HELLO refresh), so a refresh can neither
    /// overwrite a newer entry nor bring back a peer removed meanwhile.
    pub registry_writes: tokio::sync::Mutex<()>,
}

impl Shared {
    /// Sends an event to every subscriber (none listening is fine).
    pub(crate) fn emit(&self, event: NodeEvent) {
        let _ = self.events.send(event);
    }

    pub(crate) fn greeted(&self) -> MutexGuard<'_, HashMap<PeerId, Vec<SocketAddr>>> {
        lock(&self.greeted)
    }

    pub(crate) fn hinted(&self) -> MutexGuard<'_, HashMap<PeerId, Vec<SocketAddr>>> {
        lock(&self.hinted)
    }

    pub(crate) fn departed(&self) -> MutexGuard<'_, Departed> {
        lock(&self.departed)
    }

    pub(crate) fn heard(&self) -> MutexGuard<'_, Heard> {
        lock(&self.heard)
    }
}

/// Locks `m`; a panic elsewhere while holding it does not make it unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) type SharedRef = Arc<Shared>;
