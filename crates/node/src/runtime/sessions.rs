//! The node's sessions: at most one [`Link`] per peer, dialled on demand
//! (`send`, `request`) and by every verified greeting (the handshake at the
//! greeted address is what verifies it, `docs/node.md`, "Verification"),
//! accepted from the server, and closed when idle or at shutdown.
//!
//! Two sessions with one peer: when both were dialled by the same side, the
//! newer replaces the older (a re-dial, e.g. after a restart); when each
//! side dialled one (a simultaneous open), both sides keep the one dialled
//! by the smaller peer id (`docs/wire.md` §3.9.6).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tazcom_identity::{Identity, PeerId};
use tazcom_registry::PeerRegistry;
use tazcom_transport::session::{
    self, HandshakeError, Link, LinkEnd, NoiseKeys, Router, SendError, Session, SessionConfig,
    SessionCounters, SessionSlots,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::book::Input;
use crate::event::NodeEvent;
use crate::events::Emitter;

/// Peers remembered as answering the upgrade with `ACK` (no sessions); the
/// set is cleared when full, so it stays bounded on a hostile LAN.
const MAX_UNSUPPORTED: usize = 4096;

/// The outcome of [`Sessions::prove`].
#[derive(Debug)]
pub(crate) enum Proof {
    /// A session handshake at the address proved the key and both
    /// addresses of the connection.
    Proven,
    /// The peer answered the upgrade with `ACK`: it has no sessions (a
    /// signed greeting is all it can prove).
    Unsupported,
    /// The handshake failed: a relay (`AddressMismatch`), or any other
    /// failure; nothing is proven at the address.
    Failed(HandshakeError),
}

/// What the session table needs; one per node, shared (`Arc`).
pub(crate) struct Sessions {
    pub identity: Arc<Identity>,
    pub keys: NoiseKeys,
    pub router: Router,
    pub config: SessionConfig,
    pub slots: SessionSlots,
    pub counters: Arc<SessionCounters>,
    pub registry: PeerRegistry,
    pub emitter: Arc<Emitter>,
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    /// Our listen port, signed in our handshake payloads.
    pub listen_port: u16,
    /// Session up or broken, for the peer book.
    pub actor: mpsc::Sender<Input>,
    pub table: Mutex<Table>,
}

#[derive(Default)]
pub(crate) struct Table {
    links: HashMap<PeerId, Link>,
    /// One dial at a time per peer: later callers wait for it.
    dialing: HashMap<PeerId, Arc<tokio::sync::Mutex<()>>>,
    unsupported: HashSet<PeerId>,
    /// Set at shutdown: no new session.
    closed: bool,
}

fn lock(m: &Mutex<Table>) -> MutexGuard<'_, Table> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sessions {
    /// The open session to `peer`, dialling one when there is none.
    ///
    /// # Errors
    ///
    /// [`SendError::Unsupported`] (the peer answered `ACK`),
    /// [`SendError::NotConnected`] (no known address, no free session slot,
    /// or every address failed: the last handshake error attached),
    /// [`SendError::SessionClosed`] (the node is stopping).
    pub(crate) async fn link(self: &Arc<Self>, peer: PeerId) -> Result<Link, SendError> {
        if let Some(link) = self.open_link(&peer)? {
            return Ok(link);
        }
        let gate = {
            let mut table = lock(&self.table);
            Arc::clone(table.dialing.entry(peer).or_default())
        };
        let _dialing = gate.lock().await;
        let result = match self.open_link(&peer)? {
            Some(link) => Ok(link),
            None => self.dial(peer).await,
        };
        self.release_gate(peer, &gate);
        result
    }

    /// The open, not closing, link to `peer`, if any.
    pub(crate) fn open_link(&self, peer: &PeerId) -> Result<Option<Link>, SendError> {
        let table = lock(&self.table);
        if table.closed {
            return Err(SendError::SessionClosed);
        }
        if table.unsupported.contains(peer) {
            return Err(SendError::Unsupported);
        }
        Ok(table.links.get(peer).filter(|l| !l.is_closing()).cloned())
    }

    /// Whether `peer`'s key can be proven at `addr` by a session handshake
    /// (`docs/node.md`, "Verification"): an open session that proved `addr`
    /// as the peer's listen address already; otherwise a fresh dial there,
    /// whose session is then kept (or closed as a duplicate).
    pub(crate) async fn prove(self: &Arc<Self>, peer: PeerId, addr: SocketAddr) -> Proof {
        // One dial per peer at a time: greetings of one peer often finish
        // together (a probe hint, a greeting, a greet-back); the later ones
        // then find the first one's session.
        let gate = {
            let mut table = lock(&self.table);
            Arc::clone(table.dialing.entry(peer).or_default())
        };
        let _dialing = gate.lock().await;
        let proof = self.prove_now(peer, addr).await;
        self.release_gate(peer, &gate);
        proof
    }

    async fn prove_now(self: &Arc<Self>, peer: PeerId, addr: SocketAddr) -> Proof {
        {
            let table = lock(&self.table);
            if table.closed {
                return Proof::Failed(HandshakeError::Io(std::io::Error::other(
                    "node is stopping",
                )));
            }
            // An open session proved this listen address already: one we
            // dialled there, or one the peer dialled from its IP, signing
            // this listen port (`docs/wire.md` §3.8.4).
            let proven = table
                .links
                .get(&peer)
                .is_some_and(|l| l.peer_listen_addr() == Some(addr) && !l.is_closing());
            if proven {
                return Proof::Proven;
            }
        }
        match self.dial_at(peer, addr).await {
            Ok(_) => Proof::Proven,
            Err(HandshakeError::Unsupported) => {
                self.mark_unsupported(peer);
                Proof::Unsupported
            }
            Err(e) => Proof::Failed(e),
        }
    }

    /// Forgets `peer`'s dial gate unless someone else waits on it (the
    /// table and this caller hold the only references).
    fn release_gate(&self, peer: PeerId, gate: &Arc<tokio::sync::Mutex<()>>) {
        let mut table = lock(&self.table);
        if Arc::strong_count(gate) <= 2 {
            table.dialing.remove(&peer);
        }
    }

    fn mark_unsupported(&self, peer: PeerId) {
        let mut table = lock(&self.table);
        if table.unsupported.len() >= MAX_UNSUPPORTED {
            table.unsupported.clear();
        }
        table.unsupported.insert(peer);
    }

    /// Dials `peer` at each of its registry addresses in turn.
    async fn dial(self: &Arc<Self>, peer: PeerId) -> Result<Link, SendError> {
        let addrs = self
            .registry
            .get(&peer)
            .map(|entry| entry.addrs.clone())
            .unwrap_or_default();
        let mut last = None;
        for addr in addrs {
            match self.dial_at(peer, addr).await {
                Ok(link) => return Ok(link),
                Err(HandshakeError::Unsupported) => {
                    self.mark_unsupported(peer);
                    return Err(SendError::Unsupported);
                }
                Err(e) => {
                    tracing::debug!(peer = %peer, %addr, error = %e, "session dial failed");
                    last = Some(e);
                }
            }
        }
        Err(SendError::NotConnected(last))
    }

    async fn dial_at(
        self: &Arc<Self>,
        peer: PeerId,
        addr: SocketAddr,
    ) -> Result<Link, HandshakeError> {
        let Some(slot) = self.slots.try_acquire() else {
            return Err(HandshakeError::Io(std::io::Error::other(
                "max_sessions sessions are open",
            )));
        };
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| HandshakeError::Timeout {
                after: self.connect_timeout,
            })?
            .map_err(HandshakeError::Io)?;
        let mut session = session::initiate(
            stream,
            &self.identity,
            &self.keys,
            peer,
            self.listen_port,
            self.handshake_timeout,
        )
        .await?;
        session.hold_slot(slot);
        Ok(self.adopt(session))
    }

    /// Starts the link of an established session (dialled or accepted) and
    /// keeps it, or the one it duplicates.
    pub(crate) fn adopt(self: &Arc<Self>, session: Session) -> Link {
        let peer = session.peer();
        let remote = session.remote_addr();
        let proven = session.peer_listen_addr();
        let link = Link::spawn(
            session,
            self.router.clone(),
            self.config,
            Arc::clone(&self.counters),
        );
        let kept = {
            let mut table = lock(&self.table);
            if table.closed {
                link.close();
                return link;
            }
            table.unsupported.remove(&peer);
            match table.links.get(&peer) {
                Some(old) if !old.is_closing() && !self.prefer(&link, old) => {
                    link.close_duplicate();
                    old.clone()
                }
                existing => {
                    if let Some(old) = existing.filter(|o| !o.is_closing()) {
                        old.close_duplicate();
                    }
                    table.links.insert(peer, link.clone());
                    link.clone()
                }
            }
        };
        tracing::debug!(peer = %peer, %remote, initiator = link.is_initiator(), "session opened");
        self.emitter.emit(NodeEvent::SessionOpened {
            peer,
            remote,
            initiator: link.is_initiator(),
        });
        let _ = self.actor.try_send(Input::SessionOpened { peer, proven });
        self.watch(link);
        kept
    }

    /// Of two sessions with one peer: the newer when one side dialled both
    /// (a re-dial), else the one dialled by the smaller peer id (both sides
    /// decide alike).
    fn prefer(&self, new: &Link, old: &Link) -> bool {
        let me = self.identity.peer_id();
        let dialler = |l: &Link| if l.is_initiator() { me } else { l.peer() };
        dialler(new) <= dialler(old)
    }

    /// When `link` ends: forgets it and tells the book whether it broke.
    fn watch(self: &Arc<Self>, link: Link) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let end = link.closed().await;
            let peer = link.peer();
            {
                let mut table = lock(&this.table);
                if table.links.get(&peer).is_some_and(|l| l.same_as(&link)) {
                    table.links.remove(&peer);
                }
            }
            let broken = matches!(
                end,
                LinkEnd::PeerGone | LinkEnd::Broken(_) | LinkEnd::Violation(_)
            );
            tracing::debug!(peer = %peer, ?end, "session closed");
            this.emitter.emit(NodeEvent::SessionClosed { peer, broken });
            if broken {
                let _ = this.actor.try_send(Input::SessionBroken { peer });
            }
        });
    }

    /// Shutdown: no new session; each open one closes gracefully.
    pub(crate) fn close_all(&self) {
        let mut table = lock(&self.table);
        table.closed = true;
        for link in table.links.values() {
            link.close();
        }
    }

    /// The node is dropped without a shutdown: every session ends now.
    pub(crate) fn abort_all(&self) {
        let mut table = lock(&self.table);
        table.closed = true;
        for link in table.links.values() {
            link.abort();
        }
    }

    /// The peers with an open session.
    pub(crate) fn connected(&self) -> Vec<PeerId> {
        let table = lock(&self.table);
        let mut peers: Vec<PeerId> = table
            .links
            .iter()
            .filter(|(_, l)| !l.is_closing())
            .map(|(p, _)| *p)
            .collect();
        peers.sort();
        peers
    }
}
