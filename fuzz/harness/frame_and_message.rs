//! Harness of the `frame_and_message` fuzz target, shared with the corpus
//! regression test `crates/transport/tests/fuzz_corpus.rs` (docs/fuzzing.md).
//!
//! Input: the first byte sets the read chunk size (1–256 bytes per read, to
//! exercise partial reads and buffer compaction), the rest is the byte stream.
//! The stream goes through a [`FrameReader`] with the default 1024-byte limit
//! and every complete line through [`ParsedLine::parse_bytes`] and
//! [`ParsedLine::parse`]. Panics (the fuzzer's finding) when a framing or
//! parsing invariant breaks.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use tazcom_transport::config::DEFAULT_MAX_LINE_BYTES;
use tazcom_transport::error::FrameError;
use tazcom_transport::wire::{FrameReader, ParsedLine};
use tokio::io::{AsyncRead, ReadBuf};

/// Runs one input; see the module docs.
pub(crate) fn run(data: &[u8]) {
    let (chunk, stream) = match data.split_first() {
        Some((first, rest)) => (usize::from(*first) + 1, rest),
        None => (1, data),
    };
    let limit = DEFAULT_MAX_LINE_BYTES;
    let mut reader = FrameReader::new(
        Chunked {
            rest: stream,
            chunk,
        },
        limit,
    );
    // Bytes of `stream` returned so far as lines, newlines included.
    let mut consumed = 0;
    loop {
        let pending = &stream[consumed..];
        match ready(reader.read_frame()) {
            Ok(Some(line)) => {
                assert!(line.len() < limit, "line of {} bytes", line.len());
                assert_eq!(pending.get(..line.len()), Some(line), "bytes lost");
                assert_eq!(pending.get(line.len()), Some(&b'\n'), "not a line");
                consumed += line.len() + 1;
                check_parse(line);
            }
            Ok(None) => {
                assert!(pending.is_empty(), "EOF with {} bytes left", pending.len());
                return;
            }
            Err(FrameError::TooLarge { limit: reported }) => {
                assert_eq!(reported, limit);
                let head = pending.get(..limit).expect("TooLarge before `limit` bytes");
                assert!(!head.contains(&b'\n'), "TooLarge on a short line");
                return;
            }
            Err(FrameError::EofMidLine { buffered }) => {
                assert_eq!(buffered, pending.len());
                assert!(!pending.contains(&b'\n'), "EofMidLine before a newline");
                return;
            }
            Err(other) => panic!("unexpected error from an in-memory stream: {other}"),
        }
    }
}

/// Both parse functions agree, and a parsed message re-encodes to a line
/// that parses back to the same message.
fn check_parse(line: &[u8]) {
    let parsed = ParsedLine::parse_bytes(line);
    if let Ok(text) = std::str::from_utf8(line) {
        assert_eq!(
            parsed,
            ParsedLine::parse(text),
            "parse and parse_bytes differ"
        );
    }
    if let Ok(ParsedLine::Message(message)) = parsed {
        if let Ok(encoded) = message.encode_line() {
            let again = ParsedLine::parse(encoded.trim_end_matches('\n'));
            assert_eq!(again, Ok(ParsedLine::Message(message)), "round trip");
        }
    }
}

/// Polls `future` once: the in-memory stream never makes it wait.
fn ready<F: Future>(future: F) -> F::Output {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a read from an in-memory stream is pending"),
    }
}

/// An in-memory stream that hands out at most `chunk` bytes per read.
struct Chunked<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.chunk.min(self.rest.len()).min(buf.remaining());
        let (now, later) = self.rest.split_at(n);
        buf.put_slice(now);
        self.rest = later;
        Poll::Ready(Ok(()))
    }
}
