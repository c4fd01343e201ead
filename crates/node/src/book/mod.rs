//! The peer book: everything the node knows about each peer, and the rules
//! that turn what happens ([`Input`]) into what to do ([`Effect`]). No I/O,
//! no clock, no tasks: time and randomness are passed in, so every rule is
//! a table test (`tests.rs`). One task owns the book (`runtime::actor`) and
//! carries out its effects; that task is the only writer of the registry,
//! so the book's copy of each entry is the registry's.
//!
//! Shaped after libp2p's `NetworkBehaviour` (a state machine that returns
//! actions) and iroh's per-remote state (`docs/node.md`, "The peer book").

mod effect;
mod input;
mod rules;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rand_core::RngCore;
use tazcom_identity::PeerId;
use tazcom_registry::PeerEntry;

use crate::config::LivenessPolicy;
use crate::metrics::Counters;

pub(crate) use effect::{Check, Effect, Greet, GreetKind};
pub(crate) use input::{GreetOutcome, Input, PingOutcome};
use state::{Departed, PeerState};

/// Probe-hint greetings in flight at once, over all peers. A probe is
/// unauthenticated multicast and each names a fresh peer id for free, so
/// without a bound any LAN host could make the node dial out without end
/// (`docs/security.md`, "Limits"). 32 covers 33 nodes starting in the same
/// second; a hint over the budget is only counted (`probe_hints_dropped`):
/// the prober is still found by DNS-SD about 1 s later.
pub(crate) const MAX_HINTS_IN_FLIGHT: usize = 32;

/// Peers stored only because they greeted us (source `Greeting`: no DNS-SD
/// record, not static) from one source IP address, at most. Keys are free
/// to mint (issue 13, Sybil registration): without a cap one host could
/// fill the registry and the liveness schedule. 8 covers several nodes on
/// one host; an announced or static peer is never refused or evicted for
/// them.
pub(crate) const MAX_GREETING_PEERS_PER_SOURCE: usize = 8;

/// Peers stored only because they greeted us, over all sources, at most
/// (`docs/security.md`, "Limits"): a LAN's worth, while many hosts together
/// cannot grow the book without end.
pub(crate) const MAX_GREETING_PEERS: usize = 256;

/// Liveness checks in flight at once, over all peers: due peers beyond wait
/// for the next tick (`checks_deferred`), so the liveness work per second is
/// bounded whatever the number of peers (at most 64 per check's duration,
/// ~2.5 s with the default policy).
pub(crate) const MAX_CHECKS_IN_FLIGHT: usize = 64;

/// Probe-hint greetings in flight to one IP address, at most (issue 13):
/// a probe packet can name many fresh ids, all leading to its sender. 4
/// covers several nodes starting at once on one host.
pub(crate) const MAX_HINTS_PER_SOURCE: usize = 4;

/// The current time, as the book sees it: a monotonic instant for its
/// schedules, and Unix milliseconds for the registry's `first_seen_ms` and
/// `last_seen_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Now {
    pub at: Instant,
    pub unix_ms: u64,
}

impl Now {
    /// The system clocks.
    pub(crate) fn system() -> Self {
        Self {
            at: Instant::now(),
            unix_ms: tazcom_registry::unix_ms(),
        }
    }
}

/// All per-peer state of one node.
pub(crate) struct PeerBook {
    me: PeerId,
    liveness: LivenessPolicy,
    peers: BTreeMap<PeerId, PeerState>,
    /// DNS-SD instance name → the peer whose entry holds it (as the
    /// registry's own index: the latest holder wins).
    by_instance: HashMap<Arc<str>, PeerId>,
    departed: Departed,
    /// Peers with a probe-hint greeting in flight (≤ [`MAX_HINTS_IN_FLIGHT`]).
    hints: usize,
    /// No new contact once set (shutdown has begun).
    departing: bool,
    /// Source of the tokens that tie a task's result to its request.
    next_token: u64,
    rng: Box<dyn RngCore + Send>,
    counters: Arc<Counters>,
}

impl PeerBook {
    /// An empty book for the node `me`. `rng` draws the liveness jitter.
    pub(crate) fn new(
        me: PeerId,
        liveness: LivenessPolicy,
        rng: Box<dyn RngCore + Send>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            me,
            liveness,
            peers: BTreeMap::new(),
            by_instance: HashMap::new(),
            departed: Departed::default(),
            hints: 0,
            departing: false,
            next_token: 0,
            rng,
            counters,
        }
    }

    /// The registry entry the book holds for `peer`.
    pub(crate) fn entry(&self, peer: &PeerId) -> Option<&PeerEntry> {
        self.peers.get(peer)?.entry.as_ref()
    }

    /// Who may hold this node, by peer id, with the addresses to send a BYE
    /// to: every verified peer, and every peer greeted or being greeted (a
    /// signed HELLO of ours may have registered us there even if its ACK
    /// never came back), except known prototypes (unverified entries: they
    /// would not understand a BYE).
    pub(crate) fn bye_targets(&self) -> BTreeMap<PeerId, Vec<SocketAddr>> {
        let mut targets = BTreeMap::new();
        for (peer, state) in &self.peers {
            let mut addrs: Vec<SocketAddr> = Vec::new();
            match &state.entry {
                Some(e) if !e.verified => continue,
                Some(e) => addrs.extend(&e.addrs),
                None => {}
            }
            let greeted = state.greeted.iter().flatten();
            let hinted = state.hint.iter().flat_map(|h| &h.addrs);
            for addr in greeted.chain(hinted) {
                if !addrs.contains(addr) {
                    addrs.push(*addr);
                }
            }
            if !addrs.is_empty() {
                targets.insert(*peer, addrs);
            }
        }
        targets
    }

    /// After the registry refused a commit for `peer`: take the registry's
    /// entry (`current`) as the truth again.
    pub(crate) fn resync(&mut self, peer: PeerId, current: Option<Arc<PeerEntry>>) {
        let current = current.map(|e| (*e).clone());
        if current.is_none() {
            self.forget(&peer);
        }
        self.set_entry(peer, current);
    }

    /// The period of the liveness sweep (`None`: liveness disabled).
    pub(crate) fn tick_period(&self) -> Option<std::time::Duration> {
        self.liveness.enabled.then(|| self.liveness.tick())
    }
}
