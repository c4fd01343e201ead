//! Reassembly of chunked messages and responses (`docs/wire.md` §3.9.2):
//! pure, no I/O. A sender sends one message's (or response's) chunks back
//! to back, so at most one is in progress per direction; memory is bounded
//! by the bytes actually received and by the message limit.

use super::codec::{Record, ResponseStatus};

/// What a record completed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Assembled {
    /// A whole message for the application.
    Message {
        id: u64,
        request: bool,
        protocol: String,
        body: Vec<u8>,
    },
    /// A whole answer to one of our requests.
    Response {
        id: u64,
        status: ResponseStatus,
        body: Vec<u8>,
    },
    /// A message above the limit, all its chunks skipped: answer `TooLarge`.
    MessageTooLarge { id: u64 },
    /// A response above the limit, skipped: the request fails.
    ResponseTooLarge { id: u64 },
}

/// A chunked record that breaks the rules: the session is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// A `MSG` or `RESPONSE` began while another was in progress.
    #[error("a message began before the previous one was complete")]
    Interleaved,
    /// A `MORE` with nothing in progress, or another id.
    #[error("MORE does not continue the message in progress")]
    UnexpectedMore,
    /// A `MORE` chunk beyond the announced total.
    #[error("chunk runs past the announced total")]
    ChunkTooLong,
    /// A `MORE` with an empty chunk (it would make no progress).
    #[error("empty MORE chunk")]
    EmptyChunk,
}

#[derive(Debug)]
enum Partial {
    Message {
        id: u64,
        request: bool,
        protocol: String,
        total: usize,
        body: Vec<u8>,
    },
    Response {
        id: u64,
        status: ResponseStatus,
        total: usize,
        body: Vec<u8>,
    },
    /// Over the limit: count the chunks down, keep nothing.
    Skip {
        id: u64,
        remaining: usize,
        response: bool,
    },
}

impl Partial {
    fn id(&self) -> u64 {
        match self {
            Partial::Message { id, .. }
            | Partial::Response { id, .. }
            | Partial::Skip { id, .. } => *id,
        }
    }

    /// Bytes still expected.
    fn remaining(&self) -> usize {
        match self {
            Partial::Message { total, body, .. } | Partial::Response { total, body, .. } => {
                total - body.len()
            }
            Partial::Skip { remaining, .. } => *remaining,
        }
    }

    fn take(&mut self, chunk: &[u8]) {
        match self {
            Partial::Message { body, .. } | Partial::Response { body, .. } => {
                body.extend_from_slice(chunk)
            }
            Partial::Skip { remaining, .. } => *remaining -= chunk.len(),
        }
    }

    fn finish(self) -> Assembled {
        match self {
            Partial::Message {
                id,
                request,
                protocol,
                body,
                ..
            } => Assembled::Message {
                id,
                request,
                protocol,
                body,
            },
            Partial::Response {
                id, status, body, ..
            } => Assembled::Response { id, status, body },
            Partial::Skip {
                id, response: true, ..
            } => Assembled::ResponseTooLarge { id },
            Partial::Skip { id, .. } => Assembled::MessageTooLarge { id },
        }
    }
}

/// Room reserved for a body: its total when that is at most one frame more
/// than the first chunk (no reallocation for a message of two frames), else
/// the first chunk and one frame (memory grows with what arrives, not with
/// what a total announces).
fn first_room(total: u32, chunk: &[u8]) -> usize {
    (total as usize).min(chunk.len() + super::MAX_PLAINTEXT)
}

/// Reassembles the incoming `MSG`/`RESPONSE` + `MORE` records of one session.
#[derive(Debug)]
pub(crate) struct Reassembler {
    max: usize,
    current: Option<Partial>,
}

impl Reassembler {
    /// Messages and responses above `max` bytes are skipped.
    pub(crate) fn new(max: usize) -> Reassembler {
        Reassembler { max, current: None }
    }

    /// Takes one chunked record (`Msg`, `More`, `Response`); other records
    /// return `Ok(None)`. `Ok(Some)` when a message or response is complete.
    pub(crate) fn push(
        &mut self,
        record: &Record<'_>,
    ) -> Result<Option<Assembled>, ReassemblyError> {
        let (partial, chunk) = match *record {
            Record::Msg {
                id,
                request,
                protocol,
                total,
                chunk,
            } => (
                self.begin(id, total, false, || Partial::Message {
                    id,
                    request,
                    protocol: protocol.to_owned(),
                    total: total as usize,
                    body: Vec::with_capacity(first_room(total, chunk)),
                })?,
                chunk,
            ),
            Record::Response {
                id,
                status,
                total,
                chunk,
            } => (
                self.begin(id, total, true, || Partial::Response {
                    id,
                    status,
                    total: total as usize,
                    body: Vec::with_capacity(first_room(total, chunk)),
                })?,
                chunk,
            ),
            Record::More { id, chunk } => {
                let partial = self.current.take().ok_or(ReassemblyError::UnexpectedMore)?;
                if partial.id() != id {
                    return Err(ReassemblyError::UnexpectedMore);
                }
                if chunk.is_empty() {
                    return Err(ReassemblyError::EmptyChunk);
                }
                if chunk.len() > partial.remaining() {
                    return Err(ReassemblyError::ChunkTooLong);
                }
                (partial, chunk)
            }
            _ => return Ok(None),
        };
        let mut partial = partial;
        // `Record::decode` has checked a first chunk against its total.
        partial.take(chunk);
        if partial.remaining() == 0 {
            Ok(Some(partial.finish()))
        } else {
            self.current = Some(partial);
            Ok(None)
        }
    }

    fn begin(
        &mut self,
        id: u64,
        total: u32,
        response: bool,
        keep: impl FnOnce() -> Partial,
    ) -> Result<Partial, ReassemblyError> {
        if self.current.is_some() {
            return Err(ReassemblyError::Interleaved);
        }
        let total = total as usize;
        Ok(if total > self.max {
            Partial::Skip {
                id,
                remaining: total,
                response,
            }
        } else {
            keep()
        })
    }

    /// Whether a message or response is in progress.
    pub(crate) fn in_progress(&self) -> bool {
        self.current.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: u64, total: u32, chunk: &[u8]) -> Record<'_> {
        Record::Msg {
            id,
            request: false,
            protocol: "p",
            total,
            chunk,
        }
    }

    fn body(a: Option<Assembled>) -> Vec<u8> {
        match a {
            Some(Assembled::Message { body, .. }) => body,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn whole_message_in_one_record() {
        let mut r = Reassembler::new(10);
        assert_eq!(body(r.push(&msg(1, 2, b"hi")).unwrap()), b"hi");
        assert_eq!(body(r.push(&msg(2, 0, b"")).unwrap()), b"");
        assert!(!r.in_progress());
    }

    #[test]
    fn chunks_join_in_order() {
        let mut r = Reassembler::new(10);
        assert_eq!(r.push(&msg(1, 5, b"he")).unwrap(), None);
        assert_eq!(r.push(&Record::More { id: 1, chunk: b"l" }).unwrap(), None);
        let done = r
            .push(&Record::More {
                id: 1,
                chunk: b"lo",
            })
            .unwrap();
        assert_eq!(body(done), b"hello");
    }

    #[test]
    fn over_the_limit_is_skipped_then_refused() {
        let mut r = Reassembler::new(3);
        assert_eq!(r.push(&msg(4, 5, b"ab")).unwrap(), None);
        let done = r
            .push(&Record::More {
                id: 4,
                chunk: b"cde",
            })
            .unwrap();
        assert_eq!(done, Some(Assembled::MessageTooLarge { id: 4 }));
        let response = Record::Response {
            id: 9,
            status: ResponseStatus::Ok,
            total: 4,
            chunk: b"abcd",
        };
        assert_eq!(
            r.push(&response).unwrap(),
            Some(Assembled::ResponseTooLarge { id: 9 })
        );
    }

    #[test]
    fn violations_table() {
        type Steps<'a> = &'a [Record<'a>];
        let cases: &[(&str, Steps<'_>, ReassemblyError)] = &[
            (
                "more with nothing in progress",
                &[Record::More { id: 1, chunk: b"x" }],
                ReassemblyError::UnexpectedMore,
            ),
            (
                "more with another id",
                &[msg(1, 3, b"a"), Record::More { id: 2, chunk: b"b" }],
                ReassemblyError::UnexpectedMore,
            ),
            (
                "msg while one is in progress",
                &[msg(1, 3, b"a"), msg(2, 1, b"b")],
                ReassemblyError::Interleaved,
            ),
            (
                "more past the total",
                &[
                    msg(1, 3, b"a"),
                    Record::More {
                        id: 1,
                        chunk: b"bcd",
                    },
                ],
                ReassemblyError::ChunkTooLong,
            ),
            (
                "empty more",
                &[msg(1, 3, b"a"), Record::More { id: 1, chunk: b"" }],
                ReassemblyError::EmptyChunk,
            ),
        ];
        for (name, steps, want) in cases {
            let mut r = Reassembler::new(10);
            let (last, first) = steps.split_last().unwrap();
            for step in first {
                r.push(step).unwrap();
            }
            assert_eq!(r.push(last), Err(*want), "{name}");
        }
    }
}
