//! One accepted connection: read lines, answer each with `ACK` (or a signed
//! ACK to a verified signed HELLO, PING or BYE) in order, or close without a
//! reply on the first bad line (`docs/transport.md`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tazcom_identity::{Identity, PeerId};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::authenticate::Authenticator;
use crate::codec::FrameReader;
use crate::config::TransportConfig;
use crate::error::FrameError;
use crate::event::InboundEvent;
use crate::limits::GlobalRate;
use crate::limits::HelloRateLimiter;
use crate::liveness::{SignedBye, SignedPing};
use crate::message::{Message, ParsedLine, ACK_LINE};
use crate::session::{
    self, HandshakeError, NoiseKeys, Session, SessionSlots, UpgradeRequest, SESSION_TYPE,
};
use crate::signed::{unix_ms_now, SignedHello, SignedMessage};
use crate::stats::{Counters, RejectReason};

/// What every connection task shares with the server.
#[derive(Debug)]
pub(crate) struct ConnectionContext {
    pub(crate) config: TransportConfig,
    pub(crate) counters: Arc<Counters>,
    pub(crate) events: mpsc::Sender<InboundEvent>,
    pub(crate) shutdown: CancellationToken,
    /// The server's identity: without one, signed requests are not checked
    /// and get a plain `ACK` (HELLOs reported unverified, PINGs and BYEs not
    /// reported).
    pub(crate) auth: Option<Authenticator>,
    /// Per-source rate of HELLOs, PINGs and BYEs (one bucket for all
    /// three), checked before any signature work.
    pub(crate) rate_limiter: HelloRateLimiter,
    /// Set when the server accepts session upgrades (`docs/wire.md` §3.8).
    pub(crate) sessions: Option<SessionServing>,
}

/// What the server needs to answer `SESSION` upgrades.
#[derive(Debug)]
pub(crate) struct SessionServing {
    pub(crate) identity: Arc<Identity>,
    pub(crate) keys: NoiseKeys,
    pub(crate) slots: SessionSlots,
    /// Inbound handshakes in progress (`max_handshakes`).
    pub(crate) handshakes: Arc<Semaphore>,
    /// All sources together (`handshake_rate_per_sec`).
    pub(crate) rate: GlobalRate,
    /// Where established sessions go.
    pub(crate) sink: mpsc::Sender<Session>,
}

/// What to answer an accepted line with.
enum Reply {
    /// `ACK\n`.
    Plain,
    /// A signed ACK line, newline included.
    Signed(String),
}

/// The outcome of waiting for one line.
enum Step {
    Line(ParsedLine),
    Reject(RejectReason, String),
    Io(io::Error),
    /// Clean EOF between lines.
    Closed,
    /// Shutdown requested while between lines.
    Shutdown,
    /// The server evicted the connection to make room for another source.
    Evicted,
}

/// Serves `stream` until the peer closes, a line is rejected, or shutdown.
pub(crate) async fn serve_connection(
    mut stream: TcpStream,
    remote: SocketAddr,
    ctx: Arc<ConnectionContext>,
    evicted: CancellationToken,
) {
    // ACKs are tiny; do not let Nagle hold them back behind a delayed ACK.
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%remote, %error, "cannot set TCP_NODELAY");
    }
    let upgrade = serve_lines(&mut stream, remote, &ctx, &evicted).await;
    if let Some(request) = upgrade {
        serve_upgrade(stream, remote, request, &ctx).await;
    }
}

/// Serves lines until the connection ends (`None`) or its first line asks
/// for a session upgrade the server accepts to run (`Some`).
async fn serve_lines(
    stream: &mut TcpStream,
    remote: SocketAddr,
    ctx: &Arc<ConnectionContext>,
    evicted: &CancellationToken,
) -> Option<UpgradeRequest> {
    let (read_half, mut write_half) = stream.split();
    let mut reader = FrameReader::new(read_half, ctx.config.max_line_bytes);
    let mut first = true;
    loop {
        let step = next_step(&mut reader, ctx, evicted).await;
        if let Step::Line(ParsedLine::Unknown(unknown)) = &step {
            if unknown.message_type == SESSION_TYPE && ctx.sessions.is_some() {
                return match upgrade_request(&unknown.fields, first, reader.buffered_len()) {
                    Ok(request) => Some(request),
                    Err(detail) => {
                        reject(RejectReason::BadUpgrade, &detail, remote, ctx);
                        None
                    }
                };
            }
        }
        first = false;
        match step {
            Step::Line(parsed) => match handle_line(parsed, remote, ctx).await {
                Ok(reply) => {
                    if !write_reply(&mut write_half, &reply, remote, ctx).await {
                        return None;
                    }
                }
                Err((reason, detail)) => {
                    reject(reason, &detail, remote, ctx);
                    return None;
                }
            },
            Step::Reject(reason, detail) => {
                reject(reason, &detail, remote, ctx);
                return None;
            }
            Step::Io(error) => {
                Counters::bump(&ctx.counters.io_errors);
                debug!(%remote, %error, "read failed; closing connection");
                return None;
            }
            Step::Closed => {
                debug!(%remote, "peer closed the connection");
                return None;
            }
            Step::Shutdown => {
                debug!(%remote, "closing idle connection for shutdown");
                return None;
            }
            Step::Evicted => {
                debug!(%remote, "evicted: its source holds the most slots and another host needs one");
                return None;
            }
        }
    }
}

/// The upgrade request of a `SESSION` line, if it may be acted on: the
/// connection's first line, valid, with nothing after it (the initiator
/// waits for `SESSION_OK`, `docs/wire.md` §3.8.1). `Err` is the detail.
fn upgrade_request(
    fields: &serde_json::Map<String, serde_json::Value>,
    first: bool,
    buffered: usize,
) -> Result<UpgradeRequest, String> {
    if !first {
        return Err("SESSION is not the connection's first line".to_owned());
    }
    if buffered > 0 {
        return Err(format!("{buffered} bytes after the SESSION line"));
    }
    UpgradeRequest::from_fields(fields).map_err(|e| e.to_string())
}

/// Runs an upgrade the first line asked for: the checks, cheapest first,
/// then the handshake; the established session goes to the node.
async fn serve_upgrade(
    stream: TcpStream,
    remote: SocketAddr,
    request: UpgradeRequest,
    ctx: &ConnectionContext,
) {
    let Some(serving) = &ctx.sessions else {
        return;
    };
    let me = serving.identity.peer_id();
    if request.to != me {
        let detail = format!("upgrade addressed to {}", request.to);
        return reject(RejectReason::UpgradeWrongPeer, &detail, remote, ctx);
    }
    if !within_rate(remote, ctx) {
        return reject(
            RejectReason::RateLimited,
            "SESSION rate of this source exceeded",
            remote,
            ctx,
        );
    }
    if !serving.rate.allow(Instant::now().into_std()) {
        let detail = "handshake rate of all sources exceeded";
        return reject(RejectReason::HandshakeRateLimited, detail, remote, ctx);
    }
    let Ok(_handshake) = Arc::clone(&serving.handshakes).try_acquire_owned() else {
        let detail = "max_handshakes in progress";
        return reject(RejectReason::SessionLimit, detail, remote, ctx);
    };
    let Some(slot) = serving.slots.try_acquire_from(remote.ip()) else {
        let detail = "max_sessions open, or max_sessions_per_source from this source";
        return reject(RejectReason::SessionLimit, detail, remote, ctx);
    };
    let timeout = ctx.config.handshake_timeout;
    // The accepted socket's local port is the listening port.
    let listen_port = stream.local_addr().map_or(0, |a| a.port());
    match session::respond(
        stream,
        &serving.identity,
        &serving.keys,
        request.from,
        listen_port,
        timeout,
    )
    .await
    {
        Ok(mut session) => {
            session.hold_slot(slot);
            Counters::bump(&ctx.counters.sessions_accepted);
            debug!(%remote, peer = %request.from, "session accepted");
            if serving.sink.send(session).await.is_err() {
                Counters::bump(&ctx.counters.events_undelivered);
            }
        }
        Err(error @ HandshakeError::AddressMismatch { .. }) => reject(
            RejectReason::AddressMismatch,
            &error.to_string(),
            remote,
            ctx,
        ),
        Err(error) => reject(
            RejectReason::HandshakeFailed,
            &error.to_string(),
            remote,
            ctx,
        ),
    }
}

/// Waits for the next line within `read_timeout`. On shutdown, a connection
/// between lines ends at once; one in the middle of a line may finish it.
/// An evicted connection ends at once, line or not.
async fn next_step<R: AsyncRead + Unpin>(
    reader: &mut FrameReader<R>,
    ctx: &ConnectionContext,
    evicted: &CancellationToken,
) -> Step {
    // Config validation caps the timeout at 24 h, so this cannot overflow.
    let deadline = Instant::now() + ctx.config.read_timeout;
    let mut draining = false;
    loop {
        tokio::select! {
            biased;
            () = evicted.cancelled() => return Step::Evicted,
            step = read_step(reader, deadline) => return step,
            () = ctx.shutdown.cancelled(), if !draining => {
                if reader.buffered_len() == 0 {
                    return Step::Shutdown;
                }
                draining = true;
            }
        }
    }
}

/// Reads and parses one line before `deadline` (cancel-safe: see [`FrameReader`]).
async fn read_step<R: AsyncRead + Unpin>(reader: &mut FrameReader<R>, deadline: Instant) -> Step {
    let read = match timeout_at(deadline, reader.read_line()).await {
        Ok(read) => read,
        Err(_elapsed) => {
            let detail = format!("{} bytes of an unfinished line", reader.buffered_len());
            return Step::Reject(RejectReason::ReadTimeout, detail);
        }
    };
    match read {
        Ok(Some(line)) => match ParsedLine::parse(line) {
            Ok(parsed) => Step::Line(parsed),
            Err(error) => Step::Reject(RejectReason::from_parse(&error), error.to_string()),
        },
        Ok(None) => Step::Closed,
        Err(FrameError::Io(error)) => Step::Io(error),
        Err(error @ FrameError::TooLarge { .. }) => {
            Step::Reject(RejectReason::TooLarge, error.to_string())
        }
        Err(error @ FrameError::EofMidLine { .. }) => {
            Step::Reject(RejectReason::EofMidLine, error.to_string())
        }
        Err(error @ FrameError::BadUtf8 { .. }) => {
            Step::Reject(RejectReason::BadUtf8, error.to_string())
        }
    }
}

/// Checks and counts the line, reports a HELLO, PING or BYE to the node
/// (awaiting channel capacity), and says what to answer; `Err` rejects the
/// line.
async fn handle_line(
    parsed: ParsedLine,
    remote: SocketAddr,
    ctx: &ConnectionContext,
) -> Result<Reply, (RejectReason, String)> {
    // Every line takes a token from its source's bucket, requests and
    // lines the server does not act on alike (issue 13: unknown-type lines
    // used to hold connections open for free).
    if !within_rate(remote, ctx) {
        let kind = match &parsed {
            ParsedLine::Message(message) => message.wire_type().to_owned(),
            ParsedLine::Unknown(unknown) => unknown.message_type.chars().take(32).collect(),
        };
        return Err((
            RejectReason::RateLimited,
            format!("line rate of this source exceeded ({kind})"),
        ));
    }
    match parsed {
        ParsedLine::Message(Message::Hello { from }) => {
            debug!(%remote, peer = %from, "legacy HELLO received");
            deliver_hello(from, remote, None, ctx).await;
            Ok(Reply::Plain)
        }
        ParsedLine::Message(Message::SignedHello(hello)) => signed_hello(&hello, remote, ctx).await,
        ParsedLine::Message(Message::SignedPing(ping)) => signed_ping(&ping, remote, ctx).await,
        ParsedLine::Message(Message::SignedBye(bye)) => signed_bye(&bye, remote, ctx).await,
        ParsedLine::Message(other) => {
            Counters::bump(&ctx.counters.unknown_types);
            debug!(%remote, message_type = other.wire_type(), "not a request; ACKed, ignored");
            Ok(Reply::Plain)
        }
        ParsedLine::Unknown(unknown) => {
            Counters::bump(&ctx.counters.unknown_types);
            debug!(%remote, message_type = ?unknown.message_type, "unknown message type; ACKed, ignored");
            Ok(Reply::Plain)
        }
    }
}

/// A signed HELLO: checked and answered with a signed ACK when the server
/// has an identity, otherwise taken as an unverified HELLO.
async fn signed_hello(
    hello: &SignedHello,
    remote: SocketAddr,
    ctx: &ConnectionContext,
) -> Result<Reply, (RejectReason, String)> {
    let Some(reply) = authenticate(hello, ctx)? else {
        debug!(%remote, peer = %hello.from, "signed HELLO received; no identity to check it with");
        deliver_hello(hello.from, remote, None, ctx).await;
        return Ok(Reply::Plain);
    };
    Counters::bump(&ctx.counters.hellos_verified);
    debug!(%remote, peer = %hello.from, "signed HELLO verified");
    deliver_hello(hello.from, remote, Some(hello), ctx).await;
    Ok(reply)
}

/// A signed PING: checked, reported and answered with a signed ACK when the
/// server has an identity; otherwise ACKed and ignored (`unknown_types`).
async fn signed_ping(
    ping: &SignedPing,
    remote: SocketAddr,
    ctx: &ConnectionContext,
) -> Result<Reply, (RejectReason, String)> {
    let Some(reply) = authenticate(ping, ctx)? else {
        return Ok(unchecked(ping, remote, ctx));
    };
    Counters::bump(&ctx.counters.pings_verified);
    debug!(%remote, peer = %ping.from, "signed PING verified");
    let event = InboundEvent::Ping {
        from: ping.from,
        remote,
        listen_port: ping.listen_port(),
        sent_ms: ping.ts_ms,
    };
    deliver(event, remote, ctx).await;
    Ok(reply)
}

/// A signed BYE: as [`signed_ping`].
async fn signed_bye(
    bye: &SignedBye,
    remote: SocketAddr,
    ctx: &ConnectionContext,
) -> Result<Reply, (RejectReason, String)> {
    let Some(reply) = authenticate(bye, ctx)? else {
        return Ok(unchecked(bye, remote, ctx));
    };
    Counters::bump(&ctx.counters.byes_verified);
    debug!(%remote, peer = %bye.from, "signed BYE verified");
    let event = InboundEvent::Bye {
        from: bye.from,
        remote,
        sent_ms: bye.ts_ms,
    };
    deliver(event, remote, ctx).await;
    Ok(reply)
}

/// Runs the checks of `docs/wire.md` §3.6 on a signed request: the signed
/// ACK to send when they pass, `None` when the server has no identity to
/// check with, `Err` (with the type and the sender in the detail) when one
/// fails.
fn authenticate<R: SignedMessage>(
    request: &R,
    ctx: &ConnectionContext,
) -> Result<Option<Reply>, (RejectReason, String)> {
    let Some(auth) = &ctx.auth else {
        return Ok(None);
    };
    let admitted = auth
        .check(request, unix_ms_now())
        .map_err(|(reason, detail)| {
            let from = request.parts().from;
            (
                reason,
                format!("signed {} from {from}: {detail}", R::WIRE_TYPE),
            )
        })?;
    Ok(Some(Reply::Signed(admitted.reply)))
}

/// A PING or BYE a server without identity cannot check: counted as a line
/// it does not act on, answered `ACK` (as the prototype answers any line).
fn unchecked<R: SignedMessage>(request: &R, remote: SocketAddr, ctx: &ConnectionContext) -> Reply {
    Counters::bump(&ctx.counters.unknown_types);
    debug!(
        %remote,
        peer = %request.parts().from,
        message_type = R::WIRE_TYPE,
        "signed request received; no identity to check it with; ACKed, ignored"
    );
    Reply::Plain
}

/// Takes a token from the source's request bucket (HELLO, PING, BYE);
/// counts forced evictions.
fn within_rate(remote: SocketAddr, ctx: &ConnectionContext) -> bool {
    let admission = ctx
        .rate_limiter
        .allow(remote.ip(), Instant::now().into_std());
    if admission.evicted > 0 {
        let evicted = u64::try_from(admission.evicted).unwrap_or(u64::MAX);
        ctx.counters
            .rate_limit_evictions
            .fetch_add(evicted, std::sync::atomic::Ordering::Relaxed);
    }
    admission.allowed
}

/// Counts a HELLO and sends it to the node; `verified` is the signed HELLO
/// that passed every check (its port and timestamp go to the node), `None`
/// for one that proves nothing.
async fn deliver_hello(
    from: PeerId,
    remote: SocketAddr,
    verified: Option<&SignedHello>,
    ctx: &ConnectionContext,
) {
    Counters::bump(&ctx.counters.hellos);
    let event = InboundEvent::Hello {
        from,
        remote,
        verified: verified.is_some(),
        listen_port: verified.and_then(SignedHello::listen_port),
        sent_ms: verified.map(|h| h.ts_ms),
    };
    deliver(event, remote, ctx).await;
}

/// Sends an accepted request's event to the node, awaiting channel capacity
/// (back-pressure); counts it when the receiver is gone.
async fn deliver(event: InboundEvent, remote: SocketAddr, ctx: &ConnectionContext) {
    if ctx.events.send(event).await.is_err() {
        Counters::bump(&ctx.counters.events_undelivered);
        debug!(%remote, "event receiver dropped; request not delivered");
    }
}

/// Writes the reply within `write_timeout`; `false` if the connection is unusable.
async fn write_reply<W: AsyncWrite + Unpin>(
    writer: &mut W,
    reply: &Reply,
    remote: SocketAddr,
    ctx: &ConnectionContext,
) -> bool {
    let bytes = match reply {
        Reply::Plain => &ACK_LINE[..],
        Reply::Signed(line) => line.as_bytes(),
    };
    let error = match timeout(ctx.config.write_timeout, writer.write_all(bytes)).await {
        Ok(Ok(())) => {
            Counters::bump(&ctx.counters.lines_acked);
            return true;
        }
        Ok(Err(error)) => error.to_string(),
        Err(_elapsed) => "write timed out".to_owned(),
    };
    Counters::bump(&ctx.counters.io_errors);
    debug!(%remote, %error, "cannot write ACK; closing connection");
    false
}

/// Counts, logs and reports a rejection; the caller then drops the
/// connection unanswered.
pub(crate) fn reject(
    reason: RejectReason,
    detail: &str,
    remote: SocketAddr,
    ctx: &ConnectionContext,
) {
    ctx.counters.reject(reason);
    if reason.is_protocol_violation() {
        warn!(%remote, %reason, detail, "rejected line; closing connection without ACK");
    } else {
        debug!(%remote, %reason, detail, "closing connection without ACK");
    }
    report_rejection(reason, remote, ctx);
}

/// Offers the rejection to the node without waiting: under a flood the
/// channel fills up and further reports are dropped (and counted).
fn report_rejection(reason: RejectReason, remote: SocketAddr, ctx: &ConnectionContext) {
    match ctx
        .events
        .try_send(InboundEvent::Rejected { remote, reason })
    {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            Counters::bump(&ctx.counters.rejection_events_dropped);
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            Counters::bump(&ctx.counters.events_undelivered);
        }
    }
}
