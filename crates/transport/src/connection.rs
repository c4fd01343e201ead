//! One accepted connection: read lines, answer each with `ACK` in order, or
//! close without `ACK` on the first bad line (`docs/transport.md`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::codec::FrameReader;
use crate::config::TransportConfig;
use crate::error::FrameError;
use crate::event::InboundEvent;
use crate::message::{Message, ParsedLine, ACK_LINE};
use crate::stats::{Counters, Reject};

/// What every connection task shares with the server.
#[derive(Debug)]
pub(crate) struct ConnectionContext {
    pub(crate) config: TransportConfig,
    pub(crate) counters: Arc<Counters>,
    pub(crate) events: mpsc::Sender<InboundEvent>,
    pub(crate) shutdown: CancellationToken,
}

/// The outcome of waiting for one line.
enum Step {
    Line(ParsedLine),
    Reject(Reject, String),
    Io(io::Error),
    /// Clean EOF between lines.
    Closed,
    /// Shutdown requested while between lines.
    Shutdown,
}

/// Serves `stream` until the peer closes, a line is rejected, or shutdown.
pub(crate) async fn serve_connection(
    mut stream: TcpStream,
    remote: SocketAddr,
    ctx: Arc<ConnectionContext>,
) {
    // ACKs are tiny; do not let Nagle hold them back behind a delayed ACK.
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%remote, %error, "cannot set TCP_NODELAY");
    }
    let (read_half, mut write_half) = stream.split();
    let mut reader = FrameReader::new(read_half, ctx.config.max_line_bytes());
    loop {
        match next_step(&mut reader, &ctx).await {
            Step::Line(parsed) => {
                handle_line(parsed, remote, &ctx).await;
                if !write_ack(&mut write_half, remote, &ctx).await {
                    return;
                }
            }
            Step::Reject(reason, detail) => {
                reject(reason, &detail, remote, &ctx);
                return;
            }
            Step::Io(error) => {
                Counters::bump(&ctx.counters.io_errors);
                debug!(%remote, %error, "read failed; closing connection");
                return;
            }
            Step::Closed => {
                debug!(%remote, "peer closed the connection");
                return;
            }
            Step::Shutdown => {
                debug!(%remote, "closing idle connection for shutdown");
                return;
            }
        }
    }
}

/// Waits for the next line within `read_timeout`. On shutdown, a connection
/// between lines ends at once; one in the middle of a line may finish it.
async fn next_step<R: AsyncRead + Unpin>(
    reader: &mut FrameReader<R>,
    ctx: &ConnectionContext,
) -> Step {
    // Config validation caps the timeout at 24 h, so this cannot overflow.
    let deadline = Instant::now() + ctx.config.read_timeout();
    let mut draining = false;
    loop {
        tokio::select! {
            biased;
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
            return Step::Reject(Reject::ReadTimeout, detail);
        }
    };
    match read {
        Ok(Some(line)) => match ParsedLine::parse(line) {
            Ok(parsed) => Step::Line(parsed),
            Err(error) => Step::Reject(Reject::from_parse(&error), error.to_string()),
        },
        Ok(None) => Step::Closed,
        Err(FrameError::Io(error)) => Step::Io(error),
        Err(error @ FrameError::TooLarge { .. }) => {
            Step::Reject(Reject::TooLarge, error.to_string())
        }
        Err(error @ FrameError::EofMidLine { .. }) => {
            Step::Reject(Reject::EofMidLine, error.to_string())
        }
        Err(error @ FrameError::BadUtf8 { .. }) => Step::Reject(Reject::BadUtf8, error.to_string()),
    }
}

/// Counts the line and reports it to the node (awaiting channel capacity).
async fn handle_line(parsed: ParsedLine, remote: SocketAddr, ctx: &ConnectionContext) {
    match parsed {
        ParsedLine::Message(Message::Hello { from }) => {
            Counters::bump(&ctx.counters.hellos);
            debug!(%remote, peer = %from, "HELLO received");
            let event = InboundEvent::Hello { from, remote };
            if ctx.events.send(event).await.is_err() {
                Counters::bump(&ctx.counters.events_undelivered);
                debug!(%remote, "event receiver dropped; HELLO not delivered");
            }
        }
        ParsedLine::Unknown(unknown) => {
            Counters::bump(&ctx.counters.unknown_types);
            debug!(%remote, message_type = ?unknown.message_type, "unknown message type; ACKed, ignored");
        }
    }
}

/// Writes `ACK\n` within `write_timeout`; `false` if the connection is unusable.
async fn write_ack<W: AsyncWrite + Unpin>(
    writer: &mut W,
    remote: SocketAddr,
    ctx: &ConnectionContext,
) -> bool {
    let error = match timeout(ctx.config.write_timeout(), writer.write_all(ACK_LINE)).await {
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

/// Counts and logs a rejection; the caller then drops the connection unanswered.
fn reject(reason: Reject, detail: &str, remote: SocketAddr, ctx: &ConnectionContext) {
    ctx.counters.reject(reason);
    if reason.is_protocol_violation() {
        warn!(%remote, %reason, detail, "rejected line; closing connection without ACK");
    } else {
        debug!(%remote, %reason, detail, "closing connection without ACK");
    }
}
