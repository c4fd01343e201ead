//! The frame layer of an established session (`docs/wire.md` §3.8.6): each
//! frame is a 2-byte big-endian length and one Noise transport message.
//!
//! A [`Session`] can be split into a [`SessionReader`] and a
//! [`SessionWriter`] so that reading and writing run in two tasks: each
//! half keeps its own Noise nonce (a counter per direction, as Noise
//! specifies) over one shared, immutable cipher state.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use snow::StatelessTransportState;
use tazcom_identity::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::{SessionSlot, MAX_PLAINTEXT, TAG_LEN};

/// Read buffer of an idle session: small, so that hundreds of open
/// sessions cost little (`docs/performance.md`, memory per session).
const IDLE_READ_BUFFER: usize = 2048;
/// A large frame in progress reserves room for this many such frames.
const BULK_READ_FRAMES: usize = 4;
/// Above this capacity an empty buffer is given back to the allocator.
const KEEP_BUFFER: usize = 16 * 1024;

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
    reader: SessionReader,
    writer: SessionWriter,
    initiator: bool,
    peer_listen_port: u16,
    slot: Option<SessionSlot>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.reader.peer)
            .field("remote_addr", &self.reader.remote_addr)
            .field("initiator", &self.initiator)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(super) fn new(
        peer: PeerId,
        remote_addr: SocketAddr,
        transport: StatelessTransportState,
        stream: TcpStream,
        initiator: bool,
    ) -> Session {
        let transport = Arc::new(transport);
        let (read_half, write_half) = stream.into_split();
        Session {
            reader: SessionReader {
                peer,
                remote_addr,
                transport: Arc::clone(&transport),
                nonce: 0,
                stream: read_half,
                inbound: Vec::new(),
                start: 0,
                plaintext: Vec::new(),
                closed: false,
            },
            writer: SessionWriter {
                transport,
                nonce: 0,
                stream: write_half,
                out: Vec::new(),
                written: 0,
                closed: false,
            },
            initiator,
            peer_listen_port: 0,
            slot: None,
        }
    }

    pub(super) fn set_peer_listen_port(&mut self, port: u16) {
        self.peer_listen_port = port;
    }

    /// The peer's id, proven by the handshake.
    pub fn peer(&self) -> PeerId {
        self.reader.peer
    }

    /// The peer's address (this side's socket peer address), bound by the
    /// handshake.
    pub fn remote_addr(&self) -> SocketAddr {
        self.reader.remote_addr
    }

    /// Whether this side dialled (Noise initiator).
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    /// The peer's listen address as the handshake proved it: the address
    /// dialled when this side is the initiator; when the peer dialled, its
    /// bound source IP with the listen port it signed (`None` if it signed
    /// 0). `docs/wire.md` §3.8.4.
    pub fn peer_listen_addr(&self) -> Option<SocketAddr> {
        if self.initiator {
            return Some(self.reader.remote_addr);
        }
        (self.peer_listen_port != 0)
            .then(|| SocketAddr::new(self.reader.remote_addr.ip(), self.peer_listen_port))
    }

    /// Whether an earlier error closed the session.
    pub fn is_closed(&self) -> bool {
        self.reader.closed || self.writer.closed
    }

    /// Makes the session hold `slot` (a place under the session cap) until
    /// it is dropped, or handed on by [`into_parts`](Self::into_parts).
    pub fn hold_slot(&mut self, slot: SessionSlot) {
        self.slot = Some(slot);
    }

    /// Encrypts `plaintext` (at most [`MAX_PLAINTEXT`] bytes, may be empty)
    /// into one frame and writes it.
    ///
    /// # Errors
    ///
    /// As [`SessionWriter::send`].
    pub async fn send(&mut self, plaintext: &[u8]) -> Result<(), SessionError> {
        // An error on either half closes the whole session.
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        self.writer.send(plaintext).await
    }

    /// Reads and decrypts the next whole frame.
    ///
    /// # Errors
    ///
    /// As [`SessionReader::recv`].
    pub async fn recv(&mut self) -> Result<Vec<u8>, SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        self.reader.recv().await
    }

    /// The two halves, to read and write from two tasks, and the session
    /// slot it held (if any).
    pub fn into_parts(self) -> (SessionReader, SessionWriter, Option<SessionSlot>) {
        (self.reader, self.writer, self.slot)
    }

    /// The TCP stream's write half, for tests that must put raw bytes on
    /// the wire (feature `test-support`; not a stable API).
    #[cfg(feature = "test-support")]
    pub fn raw_writer(&mut self) -> &mut OwnedWriteHalf {
        &mut self.writer.stream
    }
}

/// The receiving half of a [`Session`].
pub struct SessionReader {
    peer: PeerId,
    remote_addr: SocketAddr,
    transport: Arc<StatelessTransportState>,
    nonce: u64,
    stream: OwnedReadHalf,
    /// Bytes received; those before `start` are consumed.
    inbound: Vec<u8>,
    start: usize,
    /// The last frame's plaintext (reused).
    plaintext: Vec<u8>,
    closed: bool,
}

impl fmt::Debug for SessionReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionReader")
            .field("peer", &self.peer)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl SessionReader {
    /// The peer's id, proven by the handshake.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// Reads and decrypts the next whole frame. Cancel-safe.
    ///
    /// # Errors
    ///
    /// [`SessionError::PeerClosed`] at a clean end of stream;
    /// [`SessionError::Decrypt`], [`SessionError::EmptyFrame`],
    /// [`SessionError::Io`] close the session; [`SessionError::Closed`]
    /// afterwards.
    pub async fn recv(&mut self) -> Result<Vec<u8>, SessionError> {
        self.recv_ref().await.map(<[u8]>::to_vec)
    }

    /// As [`recv`](Self::recv), the plaintext borrowed from a buffer the
    /// reader reuses (no allocation per frame). Cancel-safe.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub async fn recv_ref(&mut self) -> Result<&[u8], SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        match self.recv_inner().await {
            Ok(n) => Ok(&self.plaintext[..n]),
            Err(e) => {
                self.closed = true;
                Err(e)
            }
        }
    }

    /// Decrypts the next frame into `plaintext`; its length.
    async fn recv_inner(&mut self) -> Result<usize, SessionError> {
        loop {
            if let Some(body) = split_frame(&self.inbound[self.start..])? {
                let consumed = 2 + body.len();
                // The body holds at least the 16-byte tag when it is valid;
                // a shorter one fails decryption below.
                let len = body.len().saturating_sub(TAG_LEN);
                if self.plaintext.len() < len {
                    self.plaintext.resize(len, 0);
                }
                let n = self
                    .transport
                    .read_message(self.nonce, body, &mut self.plaintext[..len])
                    .map_err(SessionError::Decrypt)?;
                self.nonce += 1;
                self.consume(consumed);
                return Ok(n);
            }
            let n = self.read_more().await?;
            if n == 0 {
                return Err(if self.start == self.inbound.len() {
                    SessionError::PeerClosed
                } else {
                    SessionError::Io(io::ErrorKind::UnexpectedEof.into())
                });
            }
        }
    }

    /// Reads what the socket has. When the buffer is empty and grown and
    /// nothing is waiting on the socket (the peer paused), the buffer is
    /// given back before waiting: a bulk transfer keeps it, an idle
    /// session does not (`docs/performance.md`, memory per session).
    async fn read_more(&mut self) -> Result<usize, SessionError> {
        self.make_room();
        loop {
            if self.start < self.inbound.len() || self.inbound.capacity() <= KEEP_BUFFER {
                return self
                    .stream
                    .read_buf(&mut self.inbound)
                    .await
                    .map_err(SessionError::Io);
            }
            match self.stream.try_read_buf(&mut self.inbound) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.inbound = Vec::with_capacity(IDLE_READ_BUFFER);
                    self.start = 0;
                    if self.plaintext.capacity() > KEEP_BUFFER {
                        self.plaintext = Vec::new();
                    }
                }
                Err(e) => return Err(SessionError::Io(e)),
            }
        }
    }

    /// Drops `n` consumed bytes.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.inbound.len() {
            self.inbound.clear();
            self.start = 0;
        }
    }

    /// Moves unconsumed bytes to the front and reserves room for the frame
    /// in progress (its full length when the header is in, else a small
    /// read).
    fn make_room(&mut self) {
        if self.start > 0 {
            self.inbound.drain(..self.start);
            self.start = 0;
        }
        let spare = match self.inbound.first_chunk::<2>() {
            // A frame in progress: room for it and a few more, so a bulk
            // transfer reads several frames per system call.
            Some(header) => (2 + usize::from(u16::from_be_bytes(*header))) * BULK_READ_FRAMES,
            None => IDLE_READ_BUFFER,
        };
        self.inbound.reserve(spare.max(IDLE_READ_BUFFER));
    }
}

/// The sending half of a [`Session`]: frames are encrypted into an output
/// buffer ([`queue`](Self::queue), no I/O) and written by
/// [`flush`](Self::flush), so that a burst of small frames costs one write.
pub struct SessionWriter {
    transport: Arc<StatelessTransportState>,
    nonce: u64,
    stream: OwnedWriteHalf,
    out: Vec<u8>,
    /// Bytes at the front of `out` already written (by a flush that was
    /// cancelled part way: the next one goes on from there).
    written: usize,
    closed: bool,
}

impl fmt::Debug for SessionWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionWriter")
            .field("buffered", &self.buffered())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl SessionWriter {
    /// Encrypts `plaintext` (at most [`MAX_PLAINTEXT`] bytes, may be empty)
    /// as the next frame into the output buffer; nothing is written yet.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] (nothing queued, session still open);
    /// [`SessionError::Closed`].
    pub fn queue(&mut self, plaintext: &[u8]) -> Result<(), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(SessionError::TooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT,
            });
        }
        let at = self.out.len();
        let body = plaintext.len() + TAG_LEN;
        self.out.resize(at + 2 + body, 0);
        match self
            .transport
            .write_message(self.nonce, plaintext, &mut self.out[at + 2..])
        {
            Ok(len) => {
                debug_assert_eq!(len, body);
                self.nonce += 1;
                self.out[at..at + 2].copy_from_slice(&(body as u16).to_be_bytes());
                Ok(())
            }
            Err(e) => {
                self.out.truncate(at);
                self.closed = true;
                Err(SessionError::Io(io::Error::other(e)))
            }
        }
    }

    /// Bytes queued and not yet written.
    pub fn buffered(&self) -> usize {
        self.out.len() - self.written
    }

    /// Writes every queued frame. Cancel-safe: cancelled part way, the
    /// next call writes the rest (nothing twice).
    ///
    /// # Errors
    ///
    /// [`SessionError::Io`] (session closed); [`SessionError::Closed`].
    pub async fn flush(&mut self) -> Result<(), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]).await {
                Ok(0) => {
                    self.closed = true;
                    return Err(SessionError::Io(io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => self.written += n,
                Err(e) => {
                    self.closed = true;
                    return Err(SessionError::Io(e));
                }
            }
        }
        self.written = 0;
        self.out.clear();
        Ok(())
    }

    /// Gives a grown, empty output buffer back to the allocator (call it
    /// when going idle: freeing it after every flush of a bulk transfer
    /// would reallocate it for the next one).
    pub fn trim(&mut self) {
        if self.out.is_empty() && self.out.capacity() > KEEP_BUFFER {
            self.out = Vec::new();
        }
    }

    /// [`queue`](Self::queue) then [`flush`](Self::flush).
    ///
    /// # Errors
    ///
    /// As both.
    pub async fn send(&mut self, plaintext: &[u8]) -> Result<(), SessionError> {
        self.queue(plaintext)?;
        self.flush().await
    }

    /// Closes the write direction (TCP FIN) after flushing; the peer's
    /// reader then sees [`SessionError::PeerClosed`].
    ///
    /// # Errors
    ///
    /// [`SessionError::Io`].
    pub async fn shutdown(&mut self) -> Result<(), SessionError> {
        self.flush().await?;
        self.closed = true;
        self.stream.shutdown().await.map_err(SessionError::Io)
    }
}

/// Finds the first whole frame (`docs/wire.md` §3.8.2) at the start of
/// `buf`, the bytes received so far: `Ok(Some(body))` when the 2-byte
/// big-endian length and all `length` bytes of the body are there (the frame
/// takes `2 + body.len()` bytes of `buf`; the caller removes them),
/// `Ok(None)` when more bytes are needed, [`SessionError::EmptyFrame`] for a
/// length of 0. Pure, no I/O: [`SessionReader::recv`] decrypts what it returns.
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
    use crate::session::MAX_FRAME;

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
