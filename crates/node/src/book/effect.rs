//! What the book asks the node to do: its effects, carried out in order by
//! the actor (`runtime::actor`).

use std::net::SocketAddr;
use std::time::Instant;

use tazcom_identity::PeerId;
use tazcom_registry::PeerEntry;

use crate::event::NodeEvent;

/// One thing to do. Effects about one peer are carried out in the order
/// given; if the registry refuses a commit, the rest of that peer's effects
/// from the same input are dropped and the book is resynchronised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// Commit this entry to the registry (insert or replace).
    Upsert(PeerEntry),
    /// Remove the peer from the registry.
    Remove(PeerId),
    /// Start a greeting task.
    Greet(Greet),
    /// Start a liveness check task.
    Ping(Check),
    /// Send this event to subscribers.
    Emit(NodeEvent),
}

impl Effect {
    /// The peer the effect concerns (`None` for events about no peer).
    pub(crate) fn peer(&self) -> Option<PeerId> {
        match self {
            Self::Upsert(e) => Some(e.peer_id),
            Self::Remove(p) => Some(*p),
            Self::Greet(g) => Some(g.peer),
            Self::Ping(c) => Some(c.peer),
            Self::Emit(e) => e.peer(),
        }
    }
}

/// Greet `peer` at `addrs` (in order, per the greeting policy); the result
/// comes back as `Input::Greeted` with `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Greet {
    pub peer: PeerId,
    pub addrs: Vec<SocketAddr>,
    pub token: u64,
    pub kind: GreetKind,
}

/// Why a greeting is sent; decides its retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GreetKind {
    /// A discovered peer, or one that greeted us first: the greeting policy.
    Peer,
    /// A probe hint: 2 quick rounds (the prober's listener is already bound).
    Hint,
}

/// PING `peer` at `addrs`; `require_verified`: only a signed ACK counts
/// (someone else may hold a verified peer's old address). The result comes
/// back as `Input::Pinged` with `started`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub peer: PeerId,
    pub addrs: Vec<SocketAddr>,
    pub require_verified: bool,
    pub started: Instant,
}
