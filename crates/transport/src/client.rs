//! One-shot client exchanges: connect, send one line, require `ACK`, close
//! (the Python prototype's `send_hello`, `docs/wire.md`). The public helpers
//! are for tests and benches (feature `test-support`); [`Greeter`](crate::Greeter)
//! shares [`exchange`].

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

#[cfg(feature = "test-support")]
use tazcom_identity::PeerId;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tracing::debug;

use crate::codec::FrameReader;
use crate::config::TransportConfig;
use crate::error::{FrameError, TimeoutPhase, TransportError};
#[cfg(feature = "test-support")]
use crate::message::Message;
#[cfg(any(test, feature = "test-support"))]
use crate::message::ACK;

/// Longest part of a bad reply kept in [`TransportError::BadAck`], in bytes.
const BAD_ACK_LOG_BYTES: usize = 64;

/// Sends the legacy HELLO `{"type":"HELLO","from":"<from>"}\n` to `addr` and
/// waits for `ACK` (what the Python prototype does). Nothing is proven either
/// way; [`Greeter::greet`](crate::Greeter::greet) authenticates both
/// sides. For tests and benches (feature `test-support`).
///
/// Returns the round-trip time, measured from just before the TCP connect
/// starts until the complete `ACK\n` line has been read: it includes the TCP
/// handshake, the write, the peer's processing and the reply, but not the
/// close that follows. Connect, write and reply wait are each bounded by
/// their [`TransportConfig`] timeout.
///
/// # Errors
///
/// As [`send_message`].
#[cfg(feature = "test-support")]
pub async fn send_hello(
    addr: SocketAddr,
    from: &PeerId,
    config: &TransportConfig,
) -> Result<Duration, TransportError> {
    send_message(addr, &Message::hello(*from), config).await
}

/// Sends one [`Message`] to `addr` and waits for `ACK`; returns the round
/// trip time as measured by [`send_hello`].
///
/// # Errors
///
/// - [`TransportError::Config`]: `config` is out of range (nothing is sent).
/// - [`TransportError::Encode`]: the line exceeds `max_line_bytes`.
/// - [`TransportError::ConnectionRefused`]: nothing listens on `addr`.
/// - [`TransportError::Timeout`]: connect, write or reply took too long
///   (`phase` says which).
/// - [`TransportError::BadAck`]: the reply line is not exactly `ACK` (this
///   includes the signed ACK a server with an identity sends to a
///   [`Message::SignedHello`]: use [`Greeter::greet`](crate::Greeter::greet)
///   for those).
/// - [`TransportError::FrameTooLarge`]: the reply exceeds `max_line_bytes`.
/// - [`TransportError::EofBeforeReply`]: the peer closed or reset the
///   connection before a complete reply line (it rejected the line).
/// - [`TransportError::Io`]: any other socket error.
#[cfg(feature = "test-support")]
pub async fn send_message(
    addr: SocketAddr,
    message: &Message,
    config: &TransportConfig,
) -> Result<Duration, TransportError> {
    config.validate().map_err(TransportError::Config)?;
    let line = message
        .encode_line_within(config.max_line_bytes)
        .map_err(|source| TransportError::Encode { addr, source })?;
    exchange(addr, line.as_bytes(), config, |line| {
        require_ack(addr, line)
    })
    .await
    .map(|(rtt, ())| rtt)
}

/// Sends one raw line (without its newline; this function appends `\n`) to
/// `addr` and waits for `ACK`; returns the round-trip time as measured by
/// [`send_hello`]. For message types this crate does not model.
///
/// # Errors
///
/// [`TransportError::MalformedFrame`] when `line` contains `\n`;
/// [`TransportError::FrameTooLarge`] when `line` plus its newline exceeds
/// `max_line_bytes`; otherwise as [`send_message`].
#[cfg(feature = "test-support")]
pub async fn send_line(
    addr: SocketAddr,
    line: &str,
    config: &TransportConfig,
) -> Result<Duration, TransportError> {
    config.validate().map_err(TransportError::Config)?;
    if line.contains('\n') {
        return Err(TransportError::MalformedFrame {
            addr,
            reason: "the line to send contains a newline; send one JSON object per line, \
                     without raw newlines"
                .to_owned(),
        });
    }
    let limit = config.max_line_bytes;
    if line.len() + 1 > limit {
        return Err(TransportError::FrameTooLarge { addr, limit });
    }
    let mut framed = String::with_capacity(line.len() + 1);
    framed.push_str(line);
    framed.push('\n');
    exchange(addr, framed.as_bytes(), config, |line| {
        require_ack(addr, line)
    })
    .await
    .map(|(rtt, ())| rtt)
}

/// Connect, write `framed`, read one reply line, judge it with `on_reply`,
/// half-close. The round-trip time stops when the reply line has been read,
/// before `on_reply` runs.
pub(crate) async fn exchange<T>(
    addr: SocketAddr,
    framed: &[u8],
    config: &TransportConfig,
    on_reply: impl FnOnce(&[u8]) -> Result<T, TransportError>,
) -> Result<(Duration, T), TransportError> {
    let started = Instant::now();
    let mut stream = connect(addr, config).await?;
    let (read_half, mut write_half) = stream.split();
    timeout(config.write_timeout, write_half.write_all(framed))
        .await
        .map_err(|_| timed_out(TimeoutPhase::Write, addr, config.write_timeout))?
        .map_err(|source| TransportError::Io { addr, source })?;
    let mut reader = FrameReader::new(read_half, config.max_line_bytes);
    let reply = timeout(config.ack_timeout, reader.read_frame())
        .await
        .map_err(|_| timed_out(TimeoutPhase::Read, addr, config.ack_timeout))?;
    let line = reply_line(addr, reply)?;
    let rtt = started.elapsed();
    let judged = on_reply(line)?;
    debug!(%addr, rtt_us = rtt.as_micros(), "ACK received");
    // Send FIN so the peer sees a clean end of stream, not a reset.
    if let Err(error) = write_half.shutdown().await {
        debug!(%addr, %error, "closing after ACK failed");
    }
    Ok((rtt, judged))
}

/// Connects within `connect_timeout`.
async fn connect(addr: SocketAddr, config: &TransportConfig) -> Result<TcpStream, TransportError> {
    let stream = timeout(config.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out(TimeoutPhase::Connect, addr, config.connect_timeout))?
        .map_err(|source| match source.kind() {
            io::ErrorKind::ConnectionRefused => TransportError::ConnectionRefused { addr },
            _ => TransportError::Io { addr, source },
        })?;
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%addr, %error, "cannot set TCP_NODELAY");
    }
    Ok(stream)
}

/// Accepts exactly `ACK`.
#[cfg(any(test, feature = "test-support"))]
fn require_ack(addr: SocketAddr, line: &[u8]) -> Result<(), TransportError> {
    if line == ACK {
        Ok(())
    } else {
        Err(bad_ack(addr, line))
    }
}

/// [`TransportError::BadAck`] quoting (the start of) `line`.
pub(crate) fn bad_ack(addr: SocketAddr, line: &[u8]) -> TransportError {
    TransportError::BadAck {
        addr,
        received: truncate_for_log(line),
    }
}

/// The reply line; maps every failure to read one to its error.
fn reply_line(
    addr: SocketAddr,
    reply: Result<Option<&[u8]>, FrameError>,
) -> Result<&[u8], TransportError> {
    match reply {
        Ok(Some(line)) => Ok(line),
        Ok(None) | Err(FrameError::EofMidLine { .. }) => {
            Err(TransportError::EofBeforeReply { addr })
        }
        Err(FrameError::TooLarge { limit }) => Err(TransportError::FrameTooLarge { addr, limit }),
        Err(error @ FrameError::BadUtf8 { .. }) => Err(TransportError::MalformedFrame {
            addr,
            reason: error.to_string(),
        }),
        Err(FrameError::Io(source)) => match source.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                Err(TransportError::EofBeforeReply { addr })
            }
            _ => Err(TransportError::Io { addr, source }),
        },
    }
}

fn timed_out(phase: TimeoutPhase, addr: SocketAddr, after: Duration) -> TransportError {
    TransportError::Timeout { phase, addr, after }
}

/// At most [`BAD_ACK_LOG_BYTES`] of `line`, lossily decoded.
fn truncate_for_log(line: &[u8]) -> String {
    let kept = line.get(..BAD_ACK_LOG_BYTES).unwrap_or(line);
    let mut text = String::from_utf8_lossy(kept).into_owned();
    if kept.len() < line.len() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ack_text_is_truncated() {
        let long = vec![b'x'; 200];
        let text = truncate_for_log(&long);
        assert_eq!(text, format!("{}…", "x".repeat(64)));
        assert_eq!(truncate_for_log(b"NOPE"), "NOPE");
        assert_eq!(truncate_for_log(b"\xffK"), "\u{fffd}K");
    }

    #[test]
    fn reply_classification() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert!(require_ack(addr, b"ACK").is_ok());
        assert!(matches!(
            require_ack(addr, b"ACK\r"),
            Err(TransportError::BadAck { .. })
        ));
        assert!(matches!(
            reply_line(addr, Ok(None)),
            Err(TransportError::EofBeforeReply { .. })
        ));
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert!(matches!(
            reply_line(addr, Err(FrameError::Io(reset))),
            Err(TransportError::EofBeforeReply { .. })
        ));
    }
}
