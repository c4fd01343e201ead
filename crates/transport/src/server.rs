//! [`Listener`] and [`Server`]: accept connections and serve each in its own
//! task (`docs/transport.md`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tazcom_identity::{Identity, PeerId};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::authenticate::Authenticator;
use crate::config::TransportConfig;
use crate::connection::{reject, serve_connection, ConnectionContext, SessionServing};
use crate::error::TransportError;
use crate::event::InboundEvent;
use crate::greeter::Greeter;
use crate::limits::{GlobalRate, HelloRateLimiter, SourceSlots};
use crate::session::{NoiseKeys, Session, SessionSlots};
use crate::stats::RejectReason;
use crate::stats::{Counters, TransportStats};

/// How long a new connection waits for the slot of the connection evicted
/// for it (its task only has to notice and return).
const EVICTION_WAIT: Duration = Duration::from_millis(100);

/// Pause after a failed `accept()` (e.g. out of file descriptors), so the
/// loop does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A bound TCP listener that is not serving yet.
///
/// Binding first and serving second lets the caller learn the OS-assigned
/// port ([`Listener::local_addr`]) before announcing it (DNS-SD SRV port,
/// `docs/wire.md`).
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: TransportConfig,
    identity: Option<Arc<Identity>>,
    sessions: Option<(NoiseKeys, mpsc::Sender<Session>)>,
}

impl Listener {
    /// Validates `config`, then binds a TCP listener on `addr` (port 0: the
    /// OS picks a free port).
    ///
    /// # Errors
    ///
    /// [`TransportError::Config`] when `config` is out of range (see
    /// [`TransportConfig::validate`]; nothing is bound);
    /// [`TransportError::Bind`] when the address is in use, not local, or
    /// not permitted.
    pub async fn bind(
        addr: SocketAddr,
        config: TransportConfig,
    ) -> Result<Listener, TransportError> {
        config.validate().map_err(TransportError::Config)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| TransportError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| TransportError::Bind { addr, source })?;
        Ok(Listener {
            listener,
            local_addr,
            config,
            identity: None,
            sessions: None,
        })
    }

    /// Serve as `identity` (`docs/wire.md` §3.6): signed HELLOs are checked
    /// (addressed to this id, timestamp within
    /// [`TransportConfig::timestamp_window`], signature by `from`, nonce not
    /// seen before) and answered with a signed ACK, or rejected (closed
    /// without reply, counted per reason). Legacy HELLOs still get `ACK`.
    ///
    /// Without an identity the server answers every valid line with `ACK`
    /// and reports every HELLO unverified.
    pub fn with_identity(mut self, identity: Arc<Identity>) -> Listener {
        self.identity = Some(identity);
        self
    }

    /// Accept session upgrades (`docs/wire.md` §3.8) with the Noise static
    /// key `keys`; each established [`Session`] is sent to `sessions` (the
    /// send is awaited). Requires an identity ([`with_identity`](Self::with_identity));
    /// without one, or without this call, a `SESSION` line is an unknown
    /// type and gets `ACK` (what the prototype does).
    ///
    /// Before any handshake work an upgrade must be the connection's first
    /// line, addressed to this server's id, within its source's request
    /// rate and the global `handshake_rate_per_sec`, with a free place under
    /// `max_handshakes` and `max_sessions`; the handshake is bounded by
    /// `handshake_timeout`. Each refusal closes the connection and is
    /// counted (`rejected_<reason>`).
    pub fn with_sessions(mut self, keys: NoiseKeys, sessions: mpsc::Sender<Session>) -> Listener {
        self.sessions = Some((keys, sessions));
        self
    }

    /// The peer id signed HELLOs must be addressed to, if an identity was given.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.identity.as_ref().map(|id| id.peer_id())
    }

    /// The address actually bound, with the OS-assigned port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The configuration connections will be served with.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Starts serving: accepts connections (at most
    /// [`TransportConfig::max_connections`] at once) and serves each in its
    /// own task. When every slot is taken, a new connection gets one only
    /// if some source holds at least two more connections than its own:
    /// that source's oldest connection is closed to make room (counted in
    /// `connections_evicted`), else the newcomer is closed at once
    /// (`rejected_connection_limit`), so a few sources cannot keep another
    /// host out. Valid HELLOs (legacy, and signed ones that pass the checks
    /// of [`Listener::with_identity`]) are sent to `events`; the send is
    /// awaited before the reply, so a full channel slows peers down rather
    /// than dropping events. Rejections are offered as
    /// [`InboundEvent::Rejected`] without waiting (dropped and counted when
    /// the channel is full). Connections beyond
    /// [`TransportConfig::max_connections_per_source`] are closed at once;
    /// HELLOs beyond the source's rate are rejected (`docs/transport.md`).
    ///
    /// Dropping the returned [`Server`] starts a shutdown in the background;
    /// call [`Server::shutdown`] to wait for it.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime (it spawns the accept task).
    pub fn serve(self, events: mpsc::Sender<InboundEvent>) -> Server {
        let counters = Arc::new(Counters::default());
        let shutdown = CancellationToken::new();
        let auth = self
            .identity
            .clone()
            .map(|identity| Authenticator::new(identity, &self.config));
        let greeter = auth.as_ref().map(|auth| {
            Greeter::with_counters(
                Arc::clone(auth.identity()),
                Some(self.local_addr.port()),
                self.config.clone(),
                Arc::clone(&counters),
            )
        });
        let rate_limiter = HelloRateLimiter::new(&self.config);
        let slots = SessionSlots::new(
            self.config.max_sessions,
            self.config.max_sessions_per_source,
        );
        let sessions = match (self.sessions, &self.identity) {
            (Some((keys, sink)), Some(identity)) => Some(SessionServing {
                identity: Arc::clone(identity),
                keys,
                slots: slots.clone(),
                handshakes: Arc::new(Semaphore::new(self.config.max_handshakes)),
                rate: GlobalRate::new(self.config.handshake_rate_per_sec, Instant::now()),
                sink,
            }),
            _ => None,
        };
        let ctx = Arc::new(ConnectionContext {
            sessions,
            rate_limiter,
            config: self.config,
            counters: Arc::clone(&counters),
            events,
            shutdown: shutdown.clone(),
            auth,
        });
        info!(local_addr = %self.local_addr, signed = greeter.is_some(), "TCP server started");
        let accept_task = tokio::spawn(accept_loop(self.listener, ctx));
        Server {
            local_addr: self.local_addr,
            slots,
            counters,
            greeter,
            shutdown,
            accept_task: Some(accept_task),
        }
    }
}

/// A running server, returned by [`Listener::serve`].
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    slots: SessionSlots,
    counters: Arc<Counters>,
    greeter: Option<Greeter>,
    shutdown: CancellationToken,
    accept_task: Option<JoinHandle<()>>,
}

impl Server {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The cap on open sessions (`max_sessions`), shared with inbound
    /// upgrades: take a slot before dialling a session.
    pub fn session_slots(&self) -> &SessionSlots {
        &self.slots
    }

    /// A snapshot of the counters since [`Listener::serve`], including
    /// those of the greeters made by [`Server::greeter`].
    pub fn stats(&self) -> TransportStats {
        self.counters.snapshot()
    }

    /// A [`Greeter`] that signs with the server's identity, announces its
    /// listen port, uses its configuration and counts into its
    /// [`TransportStats`]. `None` when the server has no identity
    /// ([`Listener::with_identity`]).
    pub fn greeter(&self) -> Option<Greeter> {
        self.greeter.clone()
    }

    /// Stops the server and returns when it is fully stopped:
    ///
    /// 1. stops accepting and closes the listening socket (new connections
    ///    are refused from then on);
    /// 2. closes connections that are between lines at once; lets those in
    ///    the middle of a line finish it (and get their `ACK`) for up to
    ///    [`TransportConfig::shutdown_grace`];
    /// 3. aborts whatever is still running after the grace period.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.accept_task.take() {
            log_join_error(task.await);
        }
        info!(local_addr = %self.local_addr, "TCP server stopped");
    }
}

impl Drop for Server {
    /// Starts the shutdown sequence of [`Server::shutdown`] without waiting.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Accepts until shutdown, then closes the listener and drains connections.
async fn accept_loop(listener: TcpListener, ctx: Arc<ConnectionContext>) {
    let slots = Arc::new(Semaphore::new(ctx.config.max_connections));
    let sources = Arc::new(SourceSlots::new(ctx.config.max_connections_per_source));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => break,
            Some(done) = connections.join_next() => log_join_error(done),
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    Counters::bump(&ctx.counters.connections_accepted);
                    // The global slot first: a source at its own cap never
                    // makes another give way (`SourceSlots::evict_for`).
                    let Some(slot) = take_slot(&slots, &sources, remote, &ctx).await else {
                        let detail = "every connection slot taken, none to give way";
                        reject(RejectReason::ConnectionLimit, detail, remote, &ctx);
                        continue;
                    };
                    let Some(source_slot) = sources.try_acquire(remote.ip(), &ctx.counters) else {
                        // Dropping the stream closes it; its slot is free again.
                        let detail = "too many connections from this source";
                        reject(RejectReason::PerSourceLimit, detail, remote, &ctx);
                        continue;
                    };
                    debug!(%remote, "connection accepted");
                    let ctx = Arc::clone(&ctx);
                    let evicted = source_slot.evicted();
                    connections.spawn(async move {
                        serve_connection(stream, remote, ctx, evicted).await;
                        drop((source_slot, slot));
                    });
                }
                Err(error) => {
                    Counters::bump(&ctx.counters.accept_errors);
                    warn!(%error, "accept failed; retrying in 100 ms");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    drain(connections, ctx.config.shutdown_grace).await;
}

/// A connection slot for `remote`: a free one, or one that a source holding
/// at least two more connections than `remote`'s gives way
/// ([`SourceSlots::evict_for`]; issue 13, slot lock-out), waited for at most
/// [`EVICTION_WAIT`]. `None` when every slot is taken and no source holds
/// more than its share.
async fn take_slot(
    slots: &Arc<Semaphore>,
    sources: &SourceSlots,
    remote: SocketAddr,
    ctx: &ConnectionContext,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(slot) = Arc::clone(slots).try_acquire_owned() {
        return Some(slot);
    }
    if !sources.evict_for(remote.ip()) {
        return None;
    }
    Counters::bump(&ctx.counters.connections_evicted);
    tokio::time::timeout(EVICTION_WAIT, Arc::clone(slots).acquire_owned())
        .await
        .ok()?
        .ok()
}

/// Lets connections finish for up to `grace`, then aborts the rest.
async fn drain(mut connections: JoinSet<()>, grace: Duration) {
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => {
                if !connections.is_empty() {
                    warn!(aborted = connections.len(), "shutdown grace elapsed; aborting connections");
                }
                connections.shutdown().await;
                return;
            }
            next = connections.join_next() => match next {
                Some(done) => log_join_error(done),
                None => return,
            },
        }
    }
}

/// Logs a task that panicked (a bug); cancellations are expected.
fn log_join_error(result: Result<(), JoinError>) {
    if let Err(join_error) = result {
        if join_error.is_panic() {
            error!(error = %join_error, "transport task panicked");
        }
    }
}
