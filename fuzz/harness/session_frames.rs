//! Harness of the `session_frames` fuzz target, shared with the corpus
//! regression test `crates/transport/tests/fuzz_corpus.rs` (docs/fuzzing.md).
//!
//! Input: the first byte sets how many bytes arrive per read (1–256), the
//! rest is the byte stream after the handshake. The harness runs the receive
//! loop of `Session::recv` over it: append one read to the buffer, take
//! whole frames off its front with [`split_frame`], stop at the first error
//! (the session closes). Panics (the fuzzer's finding) when a frame is not
//! exactly the `length` bytes after its 2-byte big-endian length, when a
//! length of 0 is not refused, when a frame is returned after an error, or
//! when bytes are lost or invented.

use tazcom_transport::session::{split_frame, SessionError, MAX_FRAME};

/// Runs one input; see the module docs.
pub(crate) fn run(data: &[u8]) {
    let (chunk, stream) = match data.split_first() {
        Some((first, rest)) => (usize::from(*first) + 1, rest),
        None => (1, data),
    };
    let mut inbound: Vec<u8> = Vec::new();
    // Bytes of `stream` moved into `inbound`, and taken off it as frames.
    let (mut read, mut consumed) = (0, 0);
    loop {
        assert_eq!(
            inbound,
            stream[consumed..read],
            "buffer differs from the stream"
        );
        match split_frame(&inbound) {
            Ok(Some(body)) => {
                let len = body.len();
                assert!((1..=MAX_FRAME).contains(&len), "frame of {len} bytes");
                let header = u16::try_from(len).expect("checked above").to_be_bytes();
                assert_eq!(inbound[..2], header, "length field");
                assert_eq!(body, &inbound[2..2 + len], "not the next bytes");
                inbound.drain(..2 + len);
                consumed += 2 + len;
            }
            Ok(None) => {
                if let Some(header) = inbound.first_chunk::<2>() {
                    let len = usize::from(u16::from_be_bytes(*header));
                    assert!(len > 0, "length 0 not refused");
                    assert!(inbound.len() < 2 + len, "whole frame not returned");
                }
                if read == stream.len() {
                    // End of stream: `recv` reports PeerClosed (nothing
                    // buffered) or an unexpected EOF (part of a frame).
                    return;
                }
                let next = (read + chunk).min(stream.len());
                inbound.extend_from_slice(&stream[read..next]);
                read = next;
            }
            Err(SessionError::EmptyFrame) => {
                assert_eq!(inbound.get(..2), Some(&[0u8, 0][..]), "EmptyFrame");
                // The session is closed: `recv` returns `Closed` from now on
                // and never looks at the buffer again.
                return;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
}
