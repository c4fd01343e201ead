//! Bounded newline framing over any [`AsyncRead`] (`docs/wire.md`, "Framing").

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::FrameError;

/// First buffer allocation in bytes; the buffer grows up to the limit only
/// when a line needs it, so idle connections with a large limit stay small.
const INITIAL_BUFFER_BYTES: usize = 1024;

/// Cuts a byte stream into `\n`-terminated lines of at most `limit` bytes,
/// newline included.
///
/// The reader owns one buffer that never grows beyond `limit` bytes, so a
/// peer cannot make it allocate more per connection. Bytes after a line
/// (pipelined lines) stay buffered for the next call.
///
/// The read methods are cancel-safe: if a call is dropped before it
/// completes (e.g. in `tokio::select!` or a timeout), no received byte is
/// lost and the next call continues where it stopped. After
/// [`FrameError::TooLarge`], [`FrameError::EofMidLine`] or
/// [`FrameError::Io`] the stream is no longer usable; close it.
///
/// ```
/// use tazcom_transport::error::FrameError;
/// use tazcom_transport::wire::FrameReader;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), FrameError> {
/// let input: &[u8] = b"first\nsecond\n";
/// let mut reader = FrameReader::new(input, 1024);
/// assert_eq!(reader.read_line().await?, Some("first"));
/// assert_eq!(reader.read_line().await?, Some("second"));
/// assert_eq!(reader.read_line().await?, None); // clean EOF
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    /// End of received data in `buf`.
    end: usize,
    /// Length (newline included) of the line returned last, consumed on the next call.
    returned: usize,
    limit: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps `inner`; lines may be at most `limit` bytes including the `\n`
    /// (a `limit` of 0 is treated as 1, which admits only empty lines).
    ///
    /// No memory is allocated until the first read.
    pub fn new(inner: R, limit: usize) -> FrameReader<R> {
        FrameReader {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            returned: 0,
            limit: limit.max(1),
        }
    }

    /// The line limit in bytes, newline included.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes received but not yet returned as a line (a partial line, or
    /// pipelined lines). `0` means the reader is between lines.
    pub fn buffered_len(&self) -> usize {
        self.end - self.start - self.returned
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Reads the next line as bytes, without its `\n` (a `\r` before it is
    /// kept). Returns `Ok(None)` on a clean EOF: the stream ended between
    /// lines.
    ///
    /// # Errors
    ///
    /// - [`FrameError::TooLarge`]: `limit` bytes arrived without a newline;
    ///   nothing more is read.
    /// - [`FrameError::EofMidLine`]: the stream ended inside a line.
    /// - [`FrameError::Io`]: the read failed.
    pub async fn read_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        self.start += self.returned;
        self.returned = 0;
        let mut scanned = 0;
        loop {
            if let Some(offset) = self.find_newline(scanned) {
                let line_end = self.start + offset;
                self.returned = offset + 1;
                return Ok(self.buf.get(self.start..line_end));
            }
            let pending = self.end - self.start;
            if pending >= self.limit {
                return Err(FrameError::TooLarge { limit: self.limit });
            }
            scanned = pending;
            self.make_room();
            // `make_room` guarantees `end < buf.len()`, so this slice is non-empty.
            let n = self.inner.read(&mut self.buf[self.end..]).await?;
            if n == 0 {
                return match pending {
                    0 => Ok(None),
                    buffered => Err(FrameError::EofMidLine { buffered }),
                };
            }
            self.end += n;
        }
    }

    /// Reads the next line as UTF-8 text, without its `\n`. `Ok(None)` on a
    /// clean EOF.
    ///
    /// # Errors
    ///
    /// As [`FrameReader::read_frame`], plus [`FrameError::BadUtf8`] when the
    /// line is not UTF-8 (the line is consumed; the next call reads the next
    /// line).
    pub async fn read_line(&mut self) -> Result<Option<&str>, FrameError> {
        match self.read_frame().await? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|e| FrameError::BadUtf8 {
                    valid_up_to: e.valid_up_to(),
                }),
        }
    }

    /// Offset from `start` of the first `\n`, searching from `start + from`.
    fn find_newline(&self, from: usize) -> Option<usize> {
        let unsearched = self.buf.get(self.start + from..self.end)?;
        let at = unsearched.iter().position(|&b| b == b'\n')?;
        Some(from + at)
    }

    /// Ensures `buf[end..]` is non-empty, by compacting and then growing up
    /// to `limit`. Called only when `end - start < limit`.
    fn make_room(&mut self) {
        if self.end < self.buf.len() {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2)
                .max(INITIAL_BUFFER_BYTES)
                .min(self.limit);
            self.buf.resize(grown, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    /// Yields its input one byte per read, to exercise partial reads.
    struct Trickle<'a>(&'a [u8]);

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some((first, rest)) = self.0.split_first() {
                buf.put_slice(&[*first]);
                self.0 = rest;
            }
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn exact_limit_line_is_returned() {
        let mut input = vec![b'x'; 1023];
        input.push(b'\n');
        let mut reader = FrameReader::new(input.as_slice(), 1024);
        let line = reader.read_frame().await.unwrap().unwrap();
        assert_eq!(line.len(), 1023);
        assert!(reader.read_frame().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn one_byte_over_the_limit_is_too_large() {
        let mut input = vec![b'x'; 1024];
        input.push(b'\n');
        let mut reader = FrameReader::new(input.as_slice(), 1024);
        assert!(matches!(
            reader.read_frame().await,
            Err(FrameError::TooLarge { limit: 1024 })
        ));
        assert!(reader.buf.len() <= 1024, "buffered more than the limit");
    }

    #[tokio::test]
    async fn custom_limit_and_partial_reads() {
        let mut input = vec![b'a'; 99];
        input.push(b'\n');
        input.extend_from_slice(&[b'b'; 100]);
        input.push(b'\n');
        let mut reader = FrameReader::new(Trickle(&input), 100);
        assert_eq!(reader.read_frame().await.unwrap().unwrap(), &[b'a'; 99][..]);
        assert!(matches!(
            reader.read_frame().await,
            Err(FrameError::TooLarge { limit: 100 })
        ));
        assert!(reader.buf.len() <= 100);
    }

    #[tokio::test]
    async fn pipelined_lines_beyond_the_first_buffer_are_kept() {
        let mut input = Vec::new();
        for i in 0..200 {
            input.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let mut reader = FrameReader::new(input.as_slice(), 64);
        for i in 0..200 {
            assert_eq!(
                reader.read_line().await.unwrap(),
                Some(&*format!("line {i}"))
            );
        }
        assert_eq!(reader.read_line().await.unwrap(), None);
    }

    #[tokio::test]
    async fn eof_mid_line_and_clean_eof_are_distinguished() {
        let mut reader = FrameReader::new(&b"ok\npartial"[..], 1024);
        assert_eq!(reader.read_line().await.unwrap(), Some("ok"));
        assert_eq!(reader.buffered_len(), 7);
        assert!(matches!(
            reader.read_line().await,
            Err(FrameError::EofMidLine { buffered: 7 })
        ));
        let mut empty = FrameReader::new(&b""[..], 1024);
        assert!(empty.read_line().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn bad_utf8_consumes_only_that_line() {
        let mut reader = FrameReader::new(&b"a\xffb\nnext\n"[..], 1024);
        assert!(matches!(
            reader.read_line().await,
            Err(FrameError::BadUtf8 { valid_up_to: 1 })
        ));
        assert_eq!(reader.read_line().await.unwrap(), Some("next"));
    }

    #[tokio::test]
    async fn carriage_returns_are_kept() {
        let mut reader = FrameReader::new(&b"x\r\n"[..], 16);
        assert_eq!(reader.read_line().await.unwrap(), Some("x\r"));
    }

    #[tokio::test]
    async fn tiny_limits_admit_only_empty_lines() {
        let mut reader = FrameReader::new(&b"\nx\n"[..], 0);
        assert_eq!(reader.limit(), 1);
        assert_eq!(reader.read_line().await.unwrap(), Some(""));
        assert!(matches!(
            reader.read_line().await,
            Err(FrameError::TooLarge { limit: 1 })
        ));
    }

    #[tokio::test]
    async fn a_cancelled_read_loses_no_bytes() {
        use tokio::io::AsyncWriteExt;
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(rx, 64);
        tx.write_all(b"hel").await.unwrap();
        let short = std::time::Duration::from_millis(20);
        assert!(tokio::time::timeout(short, reader.read_line())
            .await
            .is_err());
        assert_eq!(reader.buffered_len(), 3);
        tx.write_all(b"lo\n").await.unwrap();
        assert_eq!(reader.read_line().await.unwrap(), Some("hello"));
    }
}
