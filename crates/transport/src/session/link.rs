//! [`Link`]: the message layer over one established [`Session`]
//! (`docs/wire.md` §3.9), one task per session (an actor per remote peer):
//! messages chunked and reassembled, receipts, request/response,
//! keep-alive, and a graceful close.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tazcom_identity::PeerId;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, Instrument};

use super::codec::{
    msg_chunk_room, valid_protocol, CloseReason, ReceiptStatus, Record, ResponseStatus,
    MORE_HEADER, RESPONSE_HEADER,
};
use super::config::{SessionConfig, SessionCounters, MAX_IN_FLIGHT, MAX_PINGS_IN_FLIGHT};
use super::reassembly::{Assembled, Reassembler};
use super::router::{Incoming, Router};
use super::{HandshakeError, Session, SessionError, SessionReader, SessionWriter, MAX_PLAINTEXT};

/// Queued frames are written once this many bytes are buffered (or the
/// queue is empty): small frames share a write, a large message is not
/// held whole in memory.
const FLUSH_AT: usize = 256 * 1024;
/// How long a link that found a violation tries to write its `CLOSE`.
const VIOLATION_CLOSE_WAIT: Duration = Duration::from_millis(100);
/// Room in a link's outgoing queue: the messages in flight, the replies a
/// conforming peer can be owed (`docs/wire.md` §3.9.4), and a margin.
const OUT_QUEUE: usize = 2 * MAX_IN_FLIGHT + MAX_PINGS_IN_FLIGHT + 16;

/// Why a message or request did not get its receipt or answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No session to the peer could be opened: no known address, or every
    /// attempt failed (the last failure attached, when there was one).
    #[error("peer is not connected")]
    NotConnected(#[source] Option<HandshakeError>),
    /// The peer does not speak sessions (a prototype, or an older node: it
    /// answered the upgrade with `ACK`).
    #[error("peer does not support sessions")]
    Unsupported,
    /// The peer received the message and refused it.
    #[error("peer refused the message: {0}")]
    Refused(Refusal),
    /// The message is larger than the limit (`max_message_bytes`, or a
    /// length that does not fit the wire's u32).
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The message length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The protocol name is not 1–255 bytes of printable ASCII.
    #[error("invalid protocol name")]
    InvalidProtocol,
    /// No receipt (or response) within the timeout.
    #[error("no answer within {} ms", after.as_millis())]
    TimedOut {
        /// The timeout that was reached.
        after: Duration,
    },
    /// The session closed (or began closing) before the answer came.
    #[error("session closed")]
    SessionClosed,
}

impl SendError {
    /// A short snake-case name for logs and JSON: `not_connected`,
    /// `unsupported`, `refused_no_protocol`, `refused_busy`,
    /// `refused_too_large`, `refused_unanswered`, `too_large`,
    /// `invalid_protocol`, `timed_out`, `session_closed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SendError::NotConnected(_) => "not_connected",
            SendError::Unsupported => "unsupported",
            SendError::Refused(Refusal::NoProtocol) => "refused_no_protocol",
            SendError::Refused(Refusal::Busy) => "refused_busy",
            SendError::Refused(Refusal::TooLarge) => "refused_too_large",
            SendError::Refused(Refusal::Unanswered) => "refused_unanswered",
            SendError::TooLarge { .. } => "too_large",
            SendError::InvalidProtocol => "invalid_protocol",
            SendError::TimedOut { .. } => "timed_out",
            SendError::SessionClosed => "session_closed",
        }
    }
}

/// What a peer's refusal said (`RECEIPT` status, or a dropped request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// No one serves the protocol there.
    NoProtocol,
    /// The protocol's queue there is full (its consumer is behind).
    Busy,
    /// Above the peer's message limit.
    TooLarge,
    /// The peer's application dropped the request without answering.
    Unanswered,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NoProtocol => "no_protocol",
            Refusal::Busy => "busy",
            Refusal::TooLarge => "too_large",
            Refusal::Unanswered => "unanswered",
        })
    }
}

/// How a link ended ([`Link::closed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkEnd {
    /// Both sides sent `CLOSE` (idle, shutdown, or a duplicate session).
    Closed,
    /// The connection ended without `CLOSE` (the peer stopped or crashed).
    PeerGone,
    /// The close grace elapsed with messages still in flight.
    GraceElapsed,
    /// This side broke it off: a decryption failure or an I/O error (the
    /// reason, for logs).
    Broken(String),
    /// The peer broke the message layer's rules (`docs/wire.md` §3.9.7):
    /// this side sent `CLOSE` with reason 2 and dropped the connection (the
    /// reason, for logs).
    Violation(String),
    /// [`Link::abort`] was called.
    Aborted,
}

/// What the link task writes.
enum Out {
    Message {
        id: u64,
        request: bool,
        protocol: String,
        body: Vec<u8>,
    },
    Receipt {
        id: u64,
        status: ReceiptStatus,
    },
    Response {
        id: u64,
        status: ResponseStatus,
        body: Vec<u8>,
    },
    Ping(u64),
    Pong(u64),
    Close(CloseReason),
}

/// Someone waiting for a receipt or response.
enum Reply {
    Send(oneshot::Sender<Result<(), SendError>>),
    Request(oneshot::Sender<Result<Vec<u8>, SendError>>),
}

/// A [`Reply`] and the place in flight it holds until answered.
struct Waiter {
    reply: Reply,
    _place: OwnedSemaphorePermit,
}

#[derive(Default)]
struct Pending {
    waiters: HashMap<u64, Waiter>,
    pings: HashMap<u64, oneshot::Sender<()>>,
    /// No new message may start (closing began).
    retiring: bool,
    close_reason: Option<CloseReason>,
    close_queued: bool,
    close_sent: bool,
    close_received: bool,
}

struct Shared {
    peer: PeerId,
    remote_addr: SocketAddr,
    peer_listen: Option<SocketAddr>,
    initiator: bool,
    config: SessionConfig,
    out: mpsc::Sender<Out>,
    in_flight: Arc<Semaphore>,
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    /// Cancelled when the link ends.
    ended: CancellationToken,
    end: OnceLock<LinkEnd>,
    /// Cancelled when closing begins (starts the grace timer).
    retired: CancellationToken,
    aborted: AtomicBool,
    started: Instant,
    /// Last frame either way, in ms since `started`.
    last_activity_ms: AtomicU64,
    /// Last frame received, in ms since `started`.
    last_received_ms: AtomicU64,
    counters: Arc<SessionCounters>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_activity_ms.store(ms, Ordering::Relaxed);
    }

    fn received(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_received_ms.store(ms, Ordering::Relaxed);
        self.last_activity_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// Begins closing: no new message; `CLOSE` goes out once nothing of
    /// ours is in flight.
    fn retire(&self, reason: CloseReason) {
        let mut pending = lock(&self.pending);
        if !pending.retiring {
            pending.retiring = true;
            pending.close_reason = Some(reason);
            self.retired.cancel();
        }
        self.queue_close_if_done(&mut pending);
    }

    fn queue_close_if_done(&self, pending: &mut Pending) {
        if pending.retiring && !pending.close_queued && pending.waiters.is_empty() {
            let reason = pending.close_reason.unwrap_or(CloseReason::Normal);
            if self.out.try_send(Out::Close(reason)).is_ok() {
                pending.close_queued = true;
            }
        }
    }

    /// Queues a reply the reader owes; a full queue means the peer has more
    /// outstanding than the protocol allows.
    fn reply(&self, out: Out) -> Result<(), String> {
        self.out
            .try_send(out)
            .map_err(|_| "peer is owed more replies than it may have in flight".to_owned())
    }

    fn is_request(&self, id: u64) -> bool {
        matches!(
            lock(&self.pending).waiters.get(&id),
            Some(Waiter {
                reply: Reply::Request(_),
                ..
            })
        )
    }

    fn take_waiter(&self, id: u64) -> Option<Waiter> {
        let mut pending = lock(&self.pending);
        let waiter = pending.waiters.remove(&id);
        if waiter.is_some() {
            self.queue_close_if_done(&mut pending);
        } else {
            SessionCounters::inc(&self.counters.unmatched_replies);
        }
        waiter
    }

    fn receipt(&self, id: u64, status: ReceiptStatus) {
        if status == ReceiptStatus::Delivered && self.is_request(id) {
            // A delivered request is answered by its RESPONSE (§3.9.3); a
            // peer that also sends RECEIPT 0 changes nothing.
            return;
        }
        let refusal = match status {
            ReceiptStatus::Delivered => None,
            ReceiptStatus::NoProtocol => Some(Refusal::NoProtocol),
            ReceiptStatus::TooLarge => Some(Refusal::TooLarge),
            _ => Some(Refusal::Busy),
        };
        match self.take_waiter(id).map(|w| w.reply) {
            Some(Reply::Send(tx)) => {
                let _ = tx.send(refusal.map_or(Ok(()), |r| Err(SendError::Refused(r))));
            }
            Some(Reply::Request(tx)) => {
                let _ = tx.send(Err(SendError::Refused(refusal.unwrap_or(Refusal::Busy))));
            }
            None => {}
        }
    }

    fn response(&self, id: u64, answer: Result<Vec<u8>, SendError>) {
        match self.take_waiter(id).map(|w| w.reply) {
            Some(Reply::Request(tx)) => {
                let _ = tx.send(answer);
            }
            Some(Reply::Send(tx)) => {
                // A response to a plain message: count it, release the sender.
                SessionCounters::inc(&self.counters.unmatched_replies);
                let _ = tx.send(Ok(()));
            }
            None => {}
        }
    }

    /// Ends the link: every waiter fails with `SessionClosed`.
    fn finish(&self, end: LinkEnd) {
        let _ = self.end.set(end);
        let mut pending = lock(&self.pending);
        pending.retiring = true;
        for (_, waiter) in pending.waiters.drain() {
            match waiter.reply {
                Reply::Send(tx) => {
                    let _ = tx.send(Err(SendError::SessionClosed));
                }
                Reply::Request(tx) => {
                    let _ = tx.send(Err(SendError::SessionClosed));
                }
            }
        }
        pending.pings.clear();
        drop(pending);
        self.in_flight.close();
        self.ended.cancel();
        SessionCounters::inc(&self.counters.sessions_closed);
    }
}

/// The message layer over one session: a cheap handle (`Clone`) to the
/// task that owns the connection. [`send`](Self::send),
/// [`request`](Self::request) and [`ping`](Self::ping) may be called from
/// many tasks at once; messages go out in the order their calls queue them.
#[derive(Clone)]
pub struct Link {
    shared: Arc<Shared>,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("peer", &self.shared.peer)
            .field("remote_addr", &self.shared.remote_addr)
            .field("initiator", &self.shared.initiator)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Link {
    /// Starts the link task over `session`: received messages go to
    /// `router`'s inboxes, counts go to `counters`. The task ends (and
    /// drops the connection, and the session slot it held) when both sides
    /// have closed (once the peer's FIN arrives, at most `close_grace`
    /// after [`closed`](Self::closed) resolves), the peer goes away, or the
    /// peer breaks the protocol.
    ///
    /// `config` must be valid ([`SessionConfig::validate`]).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (it spawns the task).
    pub fn spawn(
        session: Session,
        router: Router,
        config: SessionConfig,
        counters: Arc<SessionCounters>,
    ) -> Link {
        let (out, out_rx) = mpsc::channel(OUT_QUEUE);
        let shared = Arc::new(Shared {
            peer: session.peer(),
            remote_addr: session.remote_addr(),
            peer_listen: session.peer_listen_addr(),
            initiator: session.is_initiator(),
            config,
            out,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.min(MAX_IN_FLIGHT))),
            pending: Mutex::new(Pending::default()),
            next_id: AtomicU64::new(1),
            ended: CancellationToken::new(),
            end: OnceLock::new(),
            retired: CancellationToken::new(),
            aborted: AtomicBool::new(false),
            started: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            last_received_ms: AtomicU64::new(0),
            counters,
        });
        SessionCounters::inc(&shared.counters.sessions_opened);
        let (reader, writer, slot) = session.into_parts();
        let span = tracing::debug_span!("session", peer = %shared.peer.short());
        let task = run(Arc::clone(&shared), reader, writer, out_rx, router);
        tokio::spawn(
            async move {
                task.await;
                drop(slot);
            }
            .instrument(span),
        );
        Link { shared }
    }

    /// The peer, proven by the handshake.
    pub fn peer(&self) -> PeerId {
        self.shared.peer
    }

    /// The peer's address, bound by the handshake.
    pub fn remote_addr(&self) -> SocketAddr {
        self.shared.remote_addr
    }

    /// The peer's listen address as the handshake proved it
    /// ([`Session::peer_listen_addr`]).
    pub fn peer_listen_addr(&self) -> Option<SocketAddr> {
        self.shared.peer_listen
    }

    /// Whether this side dialled.
    pub fn is_initiator(&self) -> bool {
        self.shared.initiator
    }

    /// Whether `other` is a handle to this same link.
    pub fn same_as(&self, other: &Link) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Time since the last frame from the peer (any kind: a message, a
    /// receipt, a keep-alive): an authenticated sign of life.
    pub fn since_received(&self) -> Duration {
        let last = Duration::from_millis(self.shared.last_received_ms.load(Ordering::Relaxed));
        self.shared.started.elapsed().saturating_sub(last)
    }

    /// Whether the link has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.ended.is_cancelled()
    }

    /// Whether closing began (no new message is accepted) or it ended.
    pub fn is_closing(&self) -> bool {
        lock(&self.shared.pending).retiring
    }

    /// Waits until the link has ended; says how.
    pub async fn closed(&self) -> LinkEnd {
        self.shared.ended.cancelled().await;
        self.shared.end.get().cloned().unwrap_or(LinkEnd::Aborted)
    }

    /// Sends `body` on `protocol` and waits for the receipt: `Ok` with the
    /// round trip once the peer's node has queued it for its application.
    ///
    /// # Errors
    ///
    /// [`SendError::InvalidProtocol`], [`SendError::TooLarge`] (nothing
    /// sent); [`SendError::Refused`]; [`SendError::TimedOut`] after
    /// `send_timeout`; [`SendError::SessionClosed`].
    pub async fn send(&self, protocol: &str, body: Vec<u8>) -> Result<Duration, SendError> {
        let started = Instant::now();
        let timeout = self.shared.config.send_timeout;
        let (tx, rx) = oneshot::channel();
        let id = self
            .start(protocol, &body, timeout, Reply::Send(tx))
            .await?;
        self.queue_message(id, false, protocol, body).await?;
        self.wait(id, rx, timeout).await?;
        Ok(started.elapsed())
    }

    /// Sends `body` as a request on `protocol` and waits for the answer.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send) (with `request_timeout`);
    /// [`SendError::Refused`] with [`Refusal::Unanswered`] when the peer's
    /// application dropped the request.
    pub async fn request(&self, protocol: &str, body: Vec<u8>) -> Result<Vec<u8>, SendError> {
        let timeout = self.shared.config.request_timeout;
        let (tx, rx) = oneshot::channel();
        let id = self
            .start(protocol, &body, timeout, Reply::Request(tx))
            .await?;
        self.queue_message(id, true, protocol, body).await?;
        self.wait(id, rx, timeout).await
    }

    /// Sends a keep-alive `PING` and waits for its `PONG`: the round trip.
    ///
    /// # Errors
    ///
    /// [`SendError::TimedOut`] after `timeout`; [`SendError::SessionClosed`].
    pub async fn ping(&self, timeout: Duration) -> Result<Duration, SendError> {
        let started = Instant::now();
        let token = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = lock(&self.shared.pending);
            if self.is_closed() || pending.pings.len() >= MAX_PINGS_IN_FLIGHT {
                return Err(SendError::SessionClosed);
            }
            pending.pings.insert(token, tx);
        }
        let sent = tokio::time::timeout(timeout, async {
            self.shared
                .out
                .send(Out::Ping(token))
                .await
                .map_err(|_| SendError::SessionClosed)?;
            rx.await.map_err(|_| SendError::SessionClosed)
        })
        .await;
        lock(&self.shared.pending).pings.remove(&token);
        match sent {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SendError::TimedOut { after: timeout }),
        }
    }

    /// Begins a graceful close: no new message; `CLOSE` goes out once the
    /// messages in flight are answered; the link ends when the peer's
    /// `CLOSE` arrives (or after `close_grace`).
    pub fn close(&self) {
        self.shared.retire(CloseReason::Normal);
    }

    /// As [`close`](Self::close), telling the peer this session lost a
    /// simultaneous open (`docs/wire.md` §3.9.6).
    pub fn close_duplicate(&self) {
        self.shared.retire(CloseReason::Duplicate);
    }

    /// Ends the link at once: waiters fail with `SessionClosed`, the
    /// connection is dropped without `CLOSE`.
    pub fn abort(&self) {
        self.shared.aborted.store(true, Ordering::Relaxed);
        self.shared.retired.cancel();
        self.shared.ended.cancel();
    }

    /// Checks the message, takes a place in flight (waiting up to
    /// `timeout`) and registers the waiter; returns the message id.
    async fn start(
        &self,
        protocol: &str,
        body: &[u8],
        timeout: Duration,
        reply: Reply,
    ) -> Result<u64, SendError> {
        if !valid_protocol(protocol) {
            return Err(SendError::InvalidProtocol);
        }
        let max = self.shared.config.max_message_bytes;
        if body.len() > max {
            return Err(SendError::TooLarge {
                len: body.len(),
                max,
            });
        }
        let permit =
            tokio::time::timeout(timeout, Arc::clone(&self.shared.in_flight).acquire_owned())
                .await
                .map_err(|_| SendError::TimedOut { after: timeout })?
                .map_err(|_| SendError::SessionClosed)?;
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let mut pending = lock(&self.shared.pending);
        if pending.retiring || self.is_closed() {
            return Err(SendError::SessionClosed);
        }
        pending.waiters.insert(
            id,
            Waiter {
                reply,
                _place: permit,
            },
        );
        Ok(id)
    }

    async fn queue_message(
        &self,
        id: u64,
        request: bool,
        protocol: &str,
        body: Vec<u8>,
    ) -> Result<(), SendError> {
        let out = Out::Message {
            id,
            request,
            protocol: protocol.to_owned(),
            body,
        };
        if self.shared.out.send(out).await.is_err() {
            self.shared.take_waiter(id);
            return Err(SendError::SessionClosed);
        }
        Ok(())
    }

    async fn wait<T>(
        &self,
        id: u64,
        rx: oneshot::Receiver<Result<T, SendError>>,
        timeout: Duration,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(SendError::SessionClosed),
            Err(_) => {
                self.shared.take_waiter(id);
                Err(SendError::TimedOut { after: timeout })
            }
        }
    }
}

/// The answer to one received request ([`Incoming::responder`]). Dropping
/// it unanswered sends a `RESPONSE` with status `Dropped`.
pub struct Responder {
    shared: Arc<Shared>,
    id: u64,
    done: bool,
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("peer", &self.shared.peer)
            .field("id", &self.id)
            .finish()
    }
}

impl Responder {
    /// Sends the answer.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`] (above `max_message_bytes`; the requester
    /// then gets `Unanswered`); [`SendError::SessionClosed`].
    pub async fn respond(mut self, body: Vec<u8>) -> Result<(), SendError> {
        let max = self.shared.config.max_message_bytes;
        if body.len() > max {
            return Err(SendError::TooLarge {
                len: body.len(),
                max,
            });
        }
        self.done = true;
        let out = Out::Response {
            id: self.id,
            status: ResponseStatus::Ok,
            body,
        };
        self.shared
            .out
            .send(out)
            .await
            .map_err(|_| SendError::SessionClosed)
    }

    /// Drops it without sending anything (the caller answered otherwise).
    pub(crate) fn forget(mut self) {
        self.done = true;
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.shared.out.try_send(Out::Response {
                id: self.id,
                status: ResponseStatus::Dropped,
                body: Vec::new(),
            });
        }
    }
}

/// The link task: reads and writes concurrently until the link ends.
async fn run(
    shared: Arc<Shared>,
    mut reader: SessionReader,
    mut writer: SessionWriter,
    out_rx: mpsc::Receiver<Out>,
    router: Router,
) {
    let end = tokio::select! {
        end = read_loop(&shared, &mut reader, &router) => end,
        end = write_loop(&shared, &mut writer, out_rx) => end,
        end = lifecycle(&shared) => end,
    };
    match &end {
        LinkEnd::Broken(reason) => debug!(peer = %shared.peer, %reason, "session broken off"),
        LinkEnd::Violation(reason) => {
            tracing::warn!(peer = %shared.peer, %reason, "peer broke the session protocol; closing")
        }
        other => debug!(peer = %shared.peer, end = ?other, "session ended"),
    }
    let closed = end == LinkEnd::Closed;
    let violation = matches!(end, LinkEnd::Violation(_));
    let grace = shared.config.close_grace;
    shared.finish(end);
    if violation {
        // Best effort, bounded: tell the peer why before dropping it.
        let close = Record::Close {
            reason: CloseReason::Violation,
        }
        .encode();
        if writer.queue(&close).is_ok() {
            let _ = tokio::time::timeout(VIOLATION_CLOSE_WAIT, writer.flush()).await;
        }
    }
    if closed {
        // A lingering close. The write loop may have stopped part way
        // through a flush (our last frames and CLOSE still buffered), and
        // dropping a socket with unread bytes (a PING the peer sent after
        // its CLOSE) makes the kernel reset the connection, discarding what
        // it has not sent yet. So: write the rest, send FIN, then read
        // until the peer's FIN, for at most `close_grace`.
        let _ = tokio::time::timeout(grace, async {
            if writer.shutdown().await.is_ok() {
                while reader.recv().await.is_ok() {}
            }
        })
        .await;
    }
}

/// Idle close, the close grace, and [`Link::abort`].
async fn lifecycle(shared: &Shared) -> LinkEnd {
    loop {
        let idle = shared.config.idle_timeout;
        tokio::select! {
            () = shared.retired.cancelled() => break,
            () = tokio::time::sleep(idle.saturating_sub(shared.idle_for())) => {
                if shared.idle_for() < idle {
                    continue;
                }
                if lock(&shared.pending).waiters.is_empty() {
                    debug!(peer = %shared.peer, idle_ms = idle.as_millis() as u64, "closing idle session");
                    shared.retire(CloseReason::Normal);
                } else {
                    // Waiting on an answer is not idle: look again a full
                    // period later (not at once, which would spin).
                    shared.touch();
                }
            }
        }
    }
    if shared.aborted.load(Ordering::Relaxed) {
        return LinkEnd::Aborted;
    }
    tokio::select! {
        () = tokio::time::sleep(shared.config.close_grace) => LinkEnd::GraceElapsed,
        () = shared.ended.cancelled() => LinkEnd::Aborted,
    }
}

async fn read_loop(shared: &Arc<Shared>, reader: &mut SessionReader, router: &Router) -> LinkEnd {
    let mut reassembler = Reassembler::new(shared.config.max_message_bytes);
    loop {
        let plaintext = match reader.recv_ref().await {
            Ok(plaintext) => plaintext,
            Err(SessionError::PeerClosed) => {
                let clean = lock(&shared.pending).close_received;
                return if clean {
                    LinkEnd::Closed
                } else {
                    LinkEnd::PeerGone
                };
            }
            Err(e @ SessionError::Decrypt(_)) => {
                SessionCounters::inc(&shared.counters.decrypt_failures);
                return LinkEnd::Broken(e.to_string());
            }
            Err(e) => return LinkEnd::Broken(e.to_string()),
        };
        shared.received();
        if let Err(reason) = handle_record(shared, plaintext, &mut reassembler, router) {
            SessionCounters::inc(&shared.counters.protocol_violations);
            return LinkEnd::Violation(reason);
        }
        let pending = lock(&shared.pending);
        if pending.close_sent && pending.close_received && !reassembler.in_progress() {
            return LinkEnd::Closed;
        }
    }
}

/// One received record; `Err` is a protocol violation (the reason).
fn handle_record(
    shared: &Arc<Shared>,
    plaintext: &[u8],
    reassembler: &mut Reassembler,
    router: &Router,
) -> Result<(), String> {
    let record = Record::decode(plaintext).map_err(|e| e.to_string())?;
    match record {
        Record::Msg { .. } if lock(&shared.pending).close_received => {
            Err("a new message after the peer's CLOSE".to_owned())
        }
        Record::Msg { .. } | Record::More { .. } | Record::Response { .. } => {
            match reassembler.push(&record) {
                Ok(Some(done)) => assembled(shared, done, router),
                Ok(None) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
        Record::Receipt { id, status } => {
            shared.receipt(id, status);
            Ok(())
        }
        Record::Ping { token } => {
            SessionCounters::inc(&shared.counters.keepalives_received);
            shared.reply(Out::Pong(token))
        }
        Record::Pong { token } => {
            match lock(&shared.pending).pings.remove(&token) {
                Some(tx) => {
                    let _ = tx.send(());
                }
                None => SessionCounters::inc(&shared.counters.unmatched_replies),
            }
            Ok(())
        }
        Record::Close { reason } => {
            debug!(peer = %shared.peer, ?reason, "peer closes the session");
            lock(&shared.pending).close_received = true;
            shared.retire(CloseReason::Normal);
            Ok(())
        }
    }
}

fn assembled(shared: &Arc<Shared>, done: Assembled, router: &Router) -> Result<(), String> {
    let counters = &shared.counters;
    match done {
        Assembled::Message {
            id,
            request,
            protocol,
            body,
        } => {
            let responder = request.then(|| Responder {
                shared: Arc::clone(shared),
                id,
                done: false,
            });
            let incoming = Incoming {
                peer: shared.peer,
                protocol,
                body,
                responder,
            };
            let status = router.deliver(incoming);
            let counter = match status {
                ReceiptStatus::Delivered => &counters.messages_delivered,
                ReceiptStatus::NoProtocol => &counters.refused_no_protocol,
                _ => &counters.refused_busy,
            };
            SessionCounters::inc(counter);
            if request && status == ReceiptStatus::Delivered {
                return Ok(());
            }
            shared.reply(Out::Receipt { id, status })
        }
        Assembled::MessageTooLarge { id } => {
            SessionCounters::inc(&counters.refused_too_large);
            shared.reply(Out::Receipt {
                id,
                status: ReceiptStatus::TooLarge,
            })
        }
        Assembled::Response { id, status, body } => {
            let answer = match status {
                ResponseStatus::Ok => Ok(body),
                _ => Err(SendError::Refused(Refusal::Unanswered)),
            };
            shared.response(id, answer);
            Ok(())
        }
        Assembled::ResponseTooLarge { id } => {
            let max = shared.config.max_message_bytes;
            shared.response(id, Err(SendError::TooLarge { len: max + 1, max }));
            Ok(())
        }
    }
}

async fn write_loop(
    shared: &Shared,
    writer: &mut SessionWriter,
    mut rx: mpsc::Receiver<Out>,
) -> LinkEnd {
    let mut plain = Vec::new();
    while let Some(out) = rx.recv().await {
        let mut next = Some(out);
        while let Some(out) = next.take() {
            if let Err(e) = write_out(shared, writer, &mut plain, out).await {
                return LinkEnd::Broken(e.to_string());
            }
            if writer.buffered() < FLUSH_AT {
                next = rx.try_recv().ok();
            }
        }
        if let Err(e) = writer.flush().await {
            return LinkEnd::Broken(e.to_string());
        }
        shared.touch();
        if rx.is_empty() {
            // Going idle: give grown buffers back (not between the flushes
            // of a bulk transfer, which would reallocate them each time).
            writer.trim();
            if plain.capacity() > 16 * 1024 {
                plain = Vec::new();
            }
        }
        let pending = lock(&shared.pending);
        if pending.close_sent && pending.close_received {
            return LinkEnd::Closed;
        }
    }
    LinkEnd::Aborted
}

/// Encodes one item into frames (flushing along the way for a large one).
async fn write_out(
    shared: &Shared,
    writer: &mut SessionWriter,
    plain: &mut Vec<u8>,
    out: Out,
) -> Result<(), SessionError> {
    let mut frame = |record: Record<'_>, writer: &mut SessionWriter| {
        plain.clear();
        record.encode_into(plain);
        writer.queue(plain)
    };
    match out {
        Out::Message {
            id,
            request,
            protocol,
            body,
        } => {
            let total = body.len() as u32;
            let first = body.len().min(msg_chunk_room(&protocol));
            let record = Record::Msg {
                id,
                request,
                protocol: &protocol,
                total,
                chunk: &body[..first],
            };
            frame(record, writer)?;
            write_more(id, &body[first..], writer, &mut frame).await?;
            SessionCounters::inc(&shared.counters.messages_sent);
        }
        Out::Response { id, status, body } => {
            let first = body.len().min(MAX_PLAINTEXT - RESPONSE_HEADER);
            let record = Record::Response {
                id,
                status,
                total: body.len() as u32,
                chunk: &body[..first],
            };
            frame(record, writer)?;
            write_more(id, &body[first..], writer, &mut frame).await?;
        }
        Out::Receipt { id, status } => frame(Record::Receipt { id, status }, writer)?,
        Out::Ping(token) => frame(Record::Ping { token }, writer)?,
        Out::Pong(token) => frame(Record::Pong { token }, writer)?,
        Out::Close(reason) => {
            frame(Record::Close { reason }, writer)?;
            lock(&shared.pending).close_sent = true;
        }
    }
    Ok(())
}

/// The `MORE` frames of a message's remaining bytes, flushed every
/// [`FLUSH_AT`] bytes.
async fn write_more(
    id: u64,
    mut rest: &[u8],
    writer: &mut SessionWriter,
    frame: &mut impl FnMut(Record<'_>, &mut SessionWriter) -> Result<(), SessionError>,
) -> Result<(), SessionError> {
    while !rest.is_empty() {
        let n = rest.len().min(MAX_PLAINTEXT - MORE_HEADER);
        frame(
            Record::More {
                id,
                chunk: &rest[..n],
            },
            writer,
        )?;
        rest = &rest[n..];
        if writer.buffered() >= FLUSH_AT {
            writer.flush().await?;
        }
    }
    Ok(())
}
