//! The actor: one task that owns the peer book, turns every input into
//! effects and carries them out. It is the registry's only writer, so the
//! book's copy of each entry is the registry's, and every rule sees the
//! effects of the previous input.

use std::collections::BTreeMap;
use std::future::pending;
use std::net::SocketAddr;
use std::sync::Arc;

use tazcom_discovery::DiscoveryEvent;
use tazcom_identity::PeerId;
use tazcom_registry::{PeerRegistry, RegistryError, Source};
use tazcom_transport::InboundEvent;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::tasks::{self, Net};
use crate::book::{Effect, Input, Now, PeerBook};
use crate::event::{NodeEvent, Rejection};
use crate::events::Emitter;
use crate::metrics::Counters;

/// How long the actor waits for its tasks once it is told to stop, before
/// it aborts them (they were cancelled when shutdown began, so this is a
/// bound, not a wait).
const TASK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What the node handle asks of the actor.
pub(crate) enum Command {
    /// Shutdown began: no new contact; reply with who to send a BYE to.
    Leave(oneshot::Sender<BTreeMap<PeerId, Vec<SocketAddr>>>),
    /// The listener is closed: handle the inbound events left, stop the
    /// tasks, send `Stopped` and end.
    Stop,
}

/// The actor's state: the book and what it needs to carry out effects.
pub(crate) struct Actor {
    pub book: PeerBook,
    pub registry: PeerRegistry,
    pub emitter: Arc<Emitter>,
    pub counters: Arc<Counters>,
    pub net: Net,
    /// Cancelled when shutdown begins: greetings and PINGs in flight stop.
    pub departing: CancellationToken,
    pub span: tracing::Span,
}

/// The actor's inputs.
pub(crate) struct Inbox {
    pub commands: mpsc::Receiver<Command>,
    pub inbound: mpsc::Receiver<InboundEvent>,
    pub discovery: mpsc::Receiver<(Source, DiscoveryEvent)>,
    /// Sessions opened and broken (`sessions.rs`).
    pub sessions: mpsc::Receiver<Input>,
}

impl Actor {
    /// Runs until [`Command::Stop`] (or until the node handle is dropped).
    pub(crate) async fn run(mut self, mut inbox: Inbox) {
        let mut tasks: JoinSet<Option<Input>> = JoinSet::new();
        let mut ticker = self.book.tick_period().map(|period| {
            let mut t = tokio::time::interval(period);
            t.set_missed_tick_behavior(MissedTickBehavior::Skip);
            t
        });
        let mut discovery_open = true;
        loop {
            // Not `biased`: a flood on one queue (HELLOs from a hostile LAN)
            // must not starve the others (task results, the liveness tick).
            let input = tokio::select! {
                command = inbox.commands.recv() => match command {
                    Some(Command::Leave(reply)) => {
                        self.leave(reply);
                        continue;
                    }
                    Some(Command::Stop) | None => break,
                },
                Some(event) = inbox.inbound.recv() => inbound(event),
                Some(input) = inbox.sessions.recv() => Some(input),
                Some(done) = tasks.join_next(), if !tasks.is_empty() => done.ok().flatten(),
                event = inbox.discovery.recv(), if discovery_open => match event {
                    Some((source, event)) => discovered(source, event),
                    None => {
                        discovery_open = false;
                        None
                    }
                },
                () = tick(&mut ticker) => Some(Input::Tick),
            };
            if let Some(input) = input {
                self.step(input, &mut tasks).await;
            }
        }
        self.stop(inbox.inbound, tasks).await;
    }

    /// One input through the book, then its effects.
    async fn step(&mut self, input: Input, tasks: &mut JoinSet<Option<Input>>) {
        let effects = self.book.handle(input, Now::system());
        self.apply(effects, tasks).await;
    }

    /// Carries out effects in order. A refused commit drops the rest of
    /// that peer's effects (except the `HelloReceived` report) and takes
    /// the registry's entry as the book's again.
    async fn apply(&mut self, effects: Vec<Effect>, tasks: &mut JoinSet<Option<Input>>) {
        let mut refused: Vec<PeerId> = Vec::new();
        for effect in effects {
            let reported = matches!(effect, Effect::Emit(NodeEvent::HelloReceived { .. }));
            if !reported && effect.peer().is_some_and(|p| refused.contains(&p)) {
                continue;
            }
            match effect {
                Effect::Upsert(entry) => {
                    let peer = entry.peer_id;
                    if let Err(e) = self.registry.upsert(entry).await {
                        self.refused(peer, &e);
                        refused.push(peer);
                    }
                }
                Effect::Remove(peer) => {
                    if let Err(e) = self.registry.remove(&peer).await {
                        self.refused(peer, &e);
                        refused.push(peer);
                    }
                }
                Effect::Greet(g) => {
                    self.spawn(tasks, "greet", g.peer, tasks::greet(self.net.clone(), g))
                }

                Effect::Ping(c) => {
                    self.spawn(tasks, "liveness", c.peer, tasks::check(self.net.clone(), c))
                }
                Effect::Emit(event) => self.emitter.emit(event),
            }
        }
    }

    fn refused(&mut self, peer: PeerId, error: &RegistryError) {
        Counters::inc(&self.counters.registry_errors);
        tracing::warn!(peer = %peer, error = %error, "registry refused a change");
        self.book.resync(peer, self.registry.get(&peer));
    }

    /// Runs `task` until it reports or shutdown begins.
    fn spawn(
        &self,
        tasks: &mut JoinSet<Option<Input>>,
        what: &'static str,
        peer: PeerId,
        task: impl std::future::Future<Output = Input> + Send + 'static,
    ) {
        let departing = self.departing.clone();
        let span = tracing::debug_span!(parent: &self.span, "task", what, peer = %peer.short());
        tasks.spawn(
            async move {
                tokio::select! {
                    input = task => Some(input),
                    () = departing.cancelled() => None,
                }
            }
            .instrument(span),
        );
    }

    fn leave(&mut self, reply: oneshot::Sender<BTreeMap<PeerId, Vec<SocketAddr>>>) {
        self.book.handle(Input::Leave, Now::system());
        // Taken before the tasks stop: a hint greeting in flight may have
        // registered us at its peer.
        let targets = self.book.bye_targets();
        self.departing.cancel();
        let _ = reply.send(targets);
    }

    /// The listener is closed: the inbound events it left are still
    /// handled (a HELLO received before the close is reported), then the
    /// tasks are drained and `Stopped` is sent.
    async fn stop(
        mut self,
        mut inbound_rx: mpsc::Receiver<InboundEvent>,
        mut tasks: JoinSet<Option<Input>>,
    ) {
        self.departing.cancel();
        inbound_rx.close();
        while let Some(event) = inbound_rx.recv().await {
            if let Some(input) = inbound(event) {
                self.step(input, &mut tasks).await;
            }
        }
        let drained = tokio::time::timeout(TASK_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = tasks.len(),
                "node tasks aborted after the shutdown grace"
            );
            tasks.shutdown().await;
        }
        self.emitter.emit(NodeEvent::Stopped);
    }
}

async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => pending().await,
    }
}

/// The book's input for a transport event.
fn inbound(event: InboundEvent) -> Option<Input> {
    Some(match event {
        InboundEvent::Hello {
            from,
            remote,
            verified,
            listen_port,
            sent_ms,
            ..
        } => Input::Hello {
            from,
            remote,
            verified,
            listen_port,
            sent_ms,
        },
        InboundEvent::Ping {
            from,
            remote,
            listen_port,
            sent_ms,
            ..
        } => Input::Ping {
            from,
            remote,
            listen_port,
            sent_ms,
        },
        InboundEvent::Bye { from, sent_ms, .. } => Input::Bye { from, sent_ms },
        // Already counted in the transport's stats (`rejected_<reason>`).
        InboundEvent::Rejected { remote, reason, .. } => {
            Input::Rejected(Rejection::Transport { remote, reason })
        }
        other => {
            tracing::debug!(event = ?other, "inbound event ignored");
            return None;
        }
    })
}

/// The book's input for a discovery event from a source of kind `source`.
fn discovered(source: Source, event: DiscoveryEvent) -> Option<Input> {
    Some(match event {
        DiscoveryEvent::Discovered(info) | DiscoveryEvent::Updated(info) => {
            Input::Announced { source, info }
        }
        DiscoveryEvent::Removed {
            instance_name,
            peer_id,
        } => Input::Withdrawn {
            instance: instance_name,
            peer: peer_id,
        },
        DiscoveryEvent::Rejected {
            instance_name,
            reason,
        } => Input::Rejected(Rejection::Discovery {
            instance: instance_name,
            reason,
        }),
        DiscoveryEvent::Probing(info) => Input::Probe(info),
        other => {
            tracing::debug!(event = ?other, "discovery event ignored");
            return None;
        }
    })
}
