//! The frame layer of an established session (`docs/wire.md` §3.8): each
//! frame is a 2-byte big-endian length and one Noise transport message.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use tazcom_identity::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{MAX_FRAME, MAX_PLAINTEXT, TAG_LEN};

/// Why a [`Session`] frame could not be sent or received.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The plaintext is longer than [`MAX_PLAINTEXT`]; nothing was sent and
    /// the session stays open.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The plaintext length.
        len: usize,
        /// [`MAX_PLAINTEXT`].
        max: usize,
    },
    /// A received frame failed decryption (altered, replayed, reordered or
    /// not from the peer); the session is closed.
    #[error("frame failed decryption; session closed")]
    Decrypt(#[source] snow::Error),
    /// A received frame has length 0; the session is closed.
    #[error("empty frame; session closed")]
    EmptyFrame,
    /// The peer closed the connection between frames.
    #[error("peer closed the session")]
    PeerClosed,
    /// Reading or writing failed (including a close in the middle of a
    /// frame); the session is closed.
    #[error("session I/O failed; session closed")]
    Io(#[source] io::Error),
    /// The session was closed by an earlier error.
    #[error("session is closed")]
    Closed,
}

/// An established session: the peer's proven id, its address, and the
/// encrypted frame layer over the TCP connection.
///
/// [`recv`](Self::recv) is cancel-safe (a frame is decrypted only once all
/// of it has arrived; partial input stays buffered); [`send`](Self::send) is
/// not (cancelled mid-write, the peer sees a truncated frame).
pub struct Session {
    peer: PeerId,
    remote_addr: SocketAddr,
    transport: snow::TransportState,
    stream: TcpStream,
    inbound: Vec<u8>,
    scratch: Vec<u8>,
    closed: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("remote_addr", &self.remote_addr)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(super) fn new(
        peer: PeerId,
        remote_addr: SocketAddr,
        transport: snow::TransportState,
        stream: TcpStream,
    ) -> Session {
        Session {
            peer,
            remote_addr,
            transport,
            stream,
            inbound: Vec::new(),
            scratch: vec![0u8; MAX_FRAME],
            closed: false,
        }
    }

    /// The peer's id, proven by the handshake.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The peer's address (this side's socket peer address), bound by the
    /// handshake.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// Whether an earlier error closed the session.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Encrypts `plaintext` (at most [`MAX_PLAINTEXT`] bytes, may be empty)
    /// into one frame and writes it.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] (nothing sent, session still open);
    /// [`SessionError::Io`] (session closed); [`SessionError::Closed`].
    pub async fn send(&mut self, plaintext: &[u8]) -> Result<(), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(SessionError::TooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT,
            });
        }
        let mut frame = vec![0u8; 2 + plaintext.len() + TAG_LEN];
        let len = match self.transport.write_message(plaintext, &mut frame[2..]) {
            Ok(len) => len,
            Err(e) => {
                self.closed = true;
                return Err(SessionError::Io(io::Error::other(e)));
            }
        };
        frame[..2].copy_from_slice(&(len as u16).to_be_bytes());
        frame.truncate(2 + len);
        if let Err(e) = self.stream.write_all(&frame).await {
            self.closed = true;
            return Err(SessionError::Io(e));
        }
        Ok(())
    }

    /// Reads and decrypts the next whole frame.
    ///
    /// # Errors
    ///
    /// [`SessionError::PeerClosed`] at a clean end of stream;
    /// [`SessionError::Decrypt`], [`SessionError::EmptyFrame`],
    /// [`SessionError::Io`] close the session; [`SessionError::Closed`]
    /// afterwards.
    pub async fn recv(&mut self) -> Result<Vec<u8>, SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        let result = self.recv_inner().await;
        if result.is_err() {
            self.closed = true;
        }
        result
    }

    async fn recv_inner(&mut self) -> Result<Vec<u8>, SessionError> {
        loop {
            if let Some(body) = split_frame(&self.inbound)? {
                let consumed = 2 + body.len();
                let n = self
                    .transport
                    .read_message(body, &mut self.scratch)
                    .map_err(SessionError::Decrypt)?;
                self.inbound.drain(..consumed);
                return Ok(self.scratch[..n].to_vec());
            }
            self.inbound
                .reserve(MAX_FRAME + 2 - self.inbound.len().min(MAX_FRAME));
            let n = self
                .stream
                .read_buf(&mut self.inbound)
                .await
                .map_err(SessionError::Io)?;
            if n == 0 {
                return Err(if self.inbound.is_empty() {
                    SessionError::PeerClosed
                } else {
                    SessionError::Io(io::ErrorKind::UnexpectedEof.into())
                });
            }
        }
    }

    /// The TCP stream, for tests that must put raw bytes on the wire
    /// (feature `test-support`; not a stable API).
    #[cfg(feature = "test-support")]
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

/// Finds the first whole frame (`docs/wire.md` §3.8.2) at the start of
/// `buf`, the bytes received so far: `Ok(Some(body))` when the 2-byte
/// big-endian length and all `length` bytes of the body are there (the frame
/// takes `2 + body.len()` bytes of `buf`; the caller removes them),
/// `Ok(None)` when more bytes are needed, [`SessionError::EmptyFrame`] for a
/// length of 0. Pure, no I/O: [`Session::recv`] decrypts what it returns.
pub(super) fn split_frame(buf: &[u8]) -> Result<Option<&[u8]>, SessionError> {
    let Some((header, rest)) = buf.split_first_chunk::<2>() else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes(*header));
    if len == 0 {
        return Err(SessionError::EmptyFrame);
    }
    Ok(rest.get(..len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_frame_table() {
        // (name, buffer, the frame body found)
        type Case<'a> = (&'a str, &'a [u8], Option<&'a [u8]>);
        let cases: &[Case<'_>] = &[
            ("empty buffer", &[], None),
            ("half a length", &[0], None),
            ("length only", &[0, 3], None),
            ("body cut short", &[0, 3, 1, 2], None),
            ("exact frame", &[0, 3, 1, 2, 3], Some(&[1, 2, 3])),
            ("next frame follows", &[0, 1, 9, 0, 2, 7], Some(&[9])),
            ("next frame is empty", &[0, 1, 9, 0, 0], Some(&[9])),
            ("big endian", &[1, 0, 5], None),
        ];
        for (name, buf, want) in cases {
            assert_eq!(split_frame(buf).unwrap(), *want, "{name}");
        }
    }

    #[test]
    fn split_frame_refuses_length_zero() {
        for buf in [&[0u8, 0][..], &[0, 0, 1, 2, 3]] {
            assert!(matches!(split_frame(buf), Err(SessionError::EmptyFrame)));
        }
    }

    #[test]
    fn split_frame_longest_frame() {
        let mut buf = vec![0xff, 0xff];
        buf.resize(2 + MAX_FRAME, 0xab);
        assert!(split_frame(&buf[..buf.len() - 1]).unwrap().is_none());
        buf.extend_from_slice(&[0, 1, 2]);
        let body = split_frame(&buf).unwrap().unwrap();
        assert_eq!(body.len(), MAX_FRAME);
        assert!(body.iter().all(|&b| b == 0xab));
    }
}
