//! The message layer's records (`docs/wire.md` §3.9): what one session
//! frame's plaintext says. Pure encode and decode, no I/O.
//!
//! Every plaintext starts with a kind byte; integers are big endian.
//!
//! | kind | name | fields after the kind byte |
//! |---|---|---|
//! | 1 | `MSG` | id u64, flags u8, protocol length u8, protocol, total u32, chunk |
//! | 2 | `MORE` | id u64, chunk |
//! | 3 | `RECEIPT` | id u64, status u8 |
//! | 4 | `RESPONSE` | id u64, status u8, total u32, chunk |
//! | 5 | `PING` | token u64 |
//! | 6 | `PONG` | token u64 |
//! | 7 | `CLOSE` | reason u8 |

use super::MAX_PLAINTEXT;

/// Kind byte of `MSG`.
pub const KIND_MSG: u8 = 1;
/// Kind byte of `MORE`.
pub const KIND_MORE: u8 = 2;
/// Kind byte of `RECEIPT`.
pub const KIND_RECEIPT: u8 = 3;
/// Kind byte of `RESPONSE`.
pub const KIND_RESPONSE: u8 = 4;
/// Kind byte of `PING`.
pub const KIND_PING: u8 = 5;
/// Kind byte of `PONG`.
pub const KIND_PONG: u8 = 6;
/// Kind byte of `CLOSE`.
pub const KIND_CLOSE: u8 = 7;

/// `MSG` flag bit 0: the sender waits for a `RESPONSE` (a request).
pub const FLAG_REQUEST: u8 = 0x01;

/// Longest protocol name: 255 bytes (its length is one byte).
pub const MAX_PROTOCOL_LEN: usize = 255;

/// Header bytes of `MSG` before the protocol name (kind, id, flags, length).
const MSG_FIXED: usize = 1 + 8 + 1 + 1;
/// Header bytes of `MORE` (kind, id).
pub(crate) const MORE_HEADER: usize = 1 + 8;
/// Header bytes of `RESPONSE` (kind, id, status, total).
pub(crate) const RESPONSE_HEADER: usize = 1 + 8 + 1 + 4;

/// Room for the first chunk of a `MSG` naming `protocol` in one frame.
pub(crate) fn msg_chunk_room(protocol: &str) -> usize {
    MAX_PLAINTEXT - MSG_FIXED - protocol.len() - 4
}

/// A `RECEIPT`'s status: what the receiver did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptStatus {
    /// 0: queued for the receiving application.
    Delivered,
    /// 1: no one serves the message's protocol at the receiver.
    NoProtocol,
    /// 2: the message's total is above the receiver's message limit; its
    /// chunks were skipped.
    TooLarge,
    /// 3: the protocol's queue at the receiver is full (its consumer is
    /// behind and is told so).
    Busy,
}

impl ReceiptStatus {
    /// The status byte.
    pub fn to_byte(self) -> u8 {
        match self {
            ReceiptStatus::Delivered => 0,
            ReceiptStatus::NoProtocol => 1,
            ReceiptStatus::TooLarge => 2,
            ReceiptStatus::Busy => 3,
        }
    }

    fn from_byte(byte: u8) -> Option<ReceiptStatus> {
        Some(match byte {
            0 => ReceiptStatus::Delivered,
            1 => ReceiptStatus::NoProtocol,
            2 => ReceiptStatus::TooLarge,
            3 => ReceiptStatus::Busy,
            _ => return None,
        })
    }
}

/// A `RESPONSE`'s status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseStatus {
    /// 0: the body is the answer.
    Ok,
    /// 1: the application dropped the request without answering (the body
    /// is empty).
    Dropped,
}

impl ResponseStatus {
    /// The status byte.
    pub fn to_byte(self) -> u8 {
        match self {
            ResponseStatus::Ok => 0,
            ResponseStatus::Dropped => 1,
        }
    }

    fn from_byte(byte: u8) -> Option<ResponseStatus> {
        Some(match byte {
            0 => ResponseStatus::Ok,
            1 => ResponseStatus::Dropped,
            _ => return None,
        })
    }
}

/// A `CLOSE`'s reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// 0: idle, or the node is shutting down.
    Normal,
    /// 1: the other session of a simultaneous open is kept.
    Duplicate,
    /// 2: the peer broke the protocol (the closing side says which in its logs).
    Violation,
    /// Any other byte (ignored: a close is a close).
    Other(u8),
}

impl CloseReason {
    /// The reason byte.
    pub fn to_byte(self) -> u8 {
        match self {
            CloseReason::Normal => 0,
            CloseReason::Duplicate => 1,
            CloseReason::Violation => 2,
            CloseReason::Other(b) => b,
        }
    }

    fn from_byte(byte: u8) -> CloseReason {
        match byte {
            0 => CloseReason::Normal,
            1 => CloseReason::Duplicate,
            2 => CloseReason::Violation,
            b => CloseReason::Other(b),
        }
    }
}

/// One decoded frame plaintext, borrowing its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// The first (or only) chunk of a message.
    Msg {
        /// The sender's message id (unique per session and direction).
        id: u64,
        /// Whether it is a request (`FLAG_REQUEST`).
        request: bool,
        /// The protocol name: 1 to 255 bytes of printable ASCII.
        protocol: &'a str,
        /// The whole message's length in bytes.
        total: u32,
        /// The first chunk (at most `total` bytes).
        chunk: &'a [u8],
    },
    /// A further chunk of the message or response in progress.
    More {
        /// Its id.
        id: u64,
        /// The chunk.
        chunk: &'a [u8],
    },
    /// What the receiver did with message `id`.
    Receipt {
        /// The message id.
        id: u64,
        /// What was done.
        status: ReceiptStatus,
    },
    /// The first (or only) chunk of the answer to request `id`.
    Response {
        /// The request's id (the requester's numbering).
        id: u64,
        /// Answered or dropped.
        status: ResponseStatus,
        /// The whole answer's length in bytes.
        total: u32,
        /// The first chunk.
        chunk: &'a [u8],
    },
    /// A keep-alive; answered with a `PONG` carrying the same token.
    Ping {
        /// Echoed in the `PONG`.
        token: u64,
    },
    /// The answer to a `PING`.
    Pong {
        /// The `PING`'s token.
        token: u64,
    },
    /// The sender sends no new message on this session.
    Close {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a frame plaintext is not a valid record: the session is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Empty plaintext (no kind byte).
    #[error("empty record")]
    Empty,
    /// An unknown kind byte.
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    /// Shorter than its kind's fixed fields.
    #[error("record kind {0} is truncated")]
    Truncated(u8),
    /// A fixed-size record with bytes after its fields.
    #[error("record kind {0} has trailing bytes")]
    Trailing(u8),
    /// A protocol name that is empty or not printable ASCII.
    #[error("invalid protocol name")]
    BadProtocol,
    /// A first chunk longer than the total it announces.
    #[error("chunk longer than the announced total")]
    ChunkTooLong,
    /// An unknown `RECEIPT` or `RESPONSE` status byte.
    #[error("unknown status {0}")]
    BadStatus(u8),
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Whether `name` is a valid protocol name: 1 to 255 bytes, each printable
/// ASCII (0x21 to 0x7e, no space).
pub fn valid_protocol(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PROTOCOL_LEN
        && name.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl<'a> Record<'a> {
    /// Decodes one frame plaintext.
    ///
    /// # Errors
    ///
    /// [`RecordError`], one variant per check.
    pub fn decode(bytes: &'a [u8]) -> Result<Record<'a>, RecordError> {
        let &kind = bytes.first().ok_or(RecordError::Empty)?;
        let short = RecordError::Truncated(kind);
        let fixed = |len: usize| -> Result<(), RecordError> {
            match bytes.len().cmp(&len) {
                std::cmp::Ordering::Less => Err(short),
                std::cmp::Ordering::Greater => Err(RecordError::Trailing(kind)),
                std::cmp::Ordering::Equal => Ok(()),
            }
        };
        match kind {
            KIND_MSG => {
                let id = u64_at(bytes, 1).ok_or(short)?;
                let flags = *bytes.get(9).ok_or(short)?;
                let plen = usize::from(*bytes.get(10).ok_or(short)?);
                let name = bytes.get(11..11 + plen).ok_or(short)?;
                let protocol = std::str::from_utf8(name).map_err(|_| RecordError::BadProtocol)?;
                if !valid_protocol(protocol) {
                    return Err(RecordError::BadProtocol);
                }
                let total = u32_at(bytes, 11 + plen).ok_or(short)?;
                let chunk = &bytes[15 + plen..];
                if chunk.len() as u64 > u64::from(total) {
                    return Err(RecordError::ChunkTooLong);
                }
                Ok(Record::Msg {
                    id,
                    request: flags & FLAG_REQUEST != 0,
                    protocol,
                    total,
                    chunk,
                })
            }
            KIND_MORE => Ok(Record::More {
                id: u64_at(bytes, 1).ok_or(short)?,
                chunk: &bytes[MORE_HEADER..],
            }),
            KIND_RECEIPT => {
                fixed(10)?;
                let status =
                    ReceiptStatus::from_byte(bytes[9]).ok_or(RecordError::BadStatus(bytes[9]))?;
                Ok(Record::Receipt {
                    id: u64_at(bytes, 1).ok_or(short)?,
                    status,
                })
            }
            KIND_RESPONSE => {
                let id = u64_at(bytes, 1).ok_or(short)?;
                let byte = *bytes.get(9).ok_or(short)?;
                let status = ResponseStatus::from_byte(byte).ok_or(RecordError::BadStatus(byte))?;
                let total = u32_at(bytes, 10).ok_or(short)?;
                let chunk = &bytes[RESPONSE_HEADER..];
                if chunk.len() as u64 > u64::from(total) {
                    return Err(RecordError::ChunkTooLong);
                }
                Ok(Record::Response {
                    id,
                    status,
                    total,
                    chunk,
                })
            }
            KIND_PING | KIND_PONG => {
                fixed(9)?;
                let token = u64_at(bytes, 1).ok_or(short)?;
                Ok(if kind == KIND_PING {
                    Record::Ping { token }
                } else {
                    Record::Pong { token }
                })
            }
            KIND_CLOSE => {
                fixed(2)?;
                Ok(Record::Close {
                    reason: CloseReason::from_byte(bytes[1]),
                })
            }
            other => Err(RecordError::UnknownKind(other)),
        }
    }

    /// Appends the record's bytes to `out` (the caller keeps the whole
    /// within [`MAX_PLAINTEXT`]).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match *self {
            Record::Msg {
                id,
                request,
                protocol,
                total,
                chunk,
            } => {
                out.push(KIND_MSG);
                out.extend_from_slice(&id.to_be_bytes());
                out.push(if request { FLAG_REQUEST } else { 0 });
                out.push(protocol.len() as u8);
                out.extend_from_slice(protocol.as_bytes());
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(chunk);
            }
            Record::More { id, chunk } => {
                out.push(KIND_MORE);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(chunk);
            }
            Record::Receipt { id, status } => {
                out.push(KIND_RECEIPT);
                out.extend_from_slice(&id.to_be_bytes());
                out.push(status.to_byte());
            }
            Record::Response {
                id,
                status,
                total,
                chunk,
            } => {
                out.push(KIND_RESPONSE);
                out.extend_from_slice(&id.to_be_bytes());
                out.push(status.to_byte());
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(chunk);
            }
            Record::Ping { token } | Record::Pong { token } => {
                out.push(if matches!(self, Record::Ping { .. }) {
                    KIND_PING
                } else {
                    KIND_PONG
                });
                out.extend_from_slice(&token.to_be_bytes());
            }
            Record::Close { reason } => {
                out.push(KIND_CLOSE);
                out.push(reason.to_byte());
            }
        }
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_table() {
        let records = [
            Record::Msg {
                id: 7,
                request: true,
                protocol: "/tazcom/msg/1",
                total: 5,
                chunk: b"hello",
            },
            Record::Msg {
                id: u64::MAX,
                request: false,
                protocol: "x",
                total: 1 << 20,
                chunk: b"",
            },
            Record::More {
                id: 1,
                chunk: b"abc",
            },
            Record::Receipt {
                id: 2,
                status: ReceiptStatus::Busy,
            },
            Record::Response {
                id: 3,
                status: ResponseStatus::Dropped,
                total: 0,
                chunk: b"",
            },
            Record::Ping { token: 9 },
            Record::Pong { token: 9 },
            Record::Close {
                reason: CloseReason::Duplicate,
            },
        ];
        for record in records {
            assert_eq!(Record::decode(&record.encode()), Ok(record), "{record:?}");
        }
    }

    /// The exact bytes of `docs/wire.md` §3.9's example.
    #[test]
    fn msg_bytes_match_the_spec() {
        let bytes = Record::Msg {
            id: 1,
            request: false,
            protocol: "/tazcom/msg/1",
            total: 2,
            chunk: b"hi",
        }
        .encode();
        let mut want = vec![1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 13];
        want.extend_from_slice(b"/tazcom/msg/1");
        want.extend_from_slice(&[0, 0, 0, 2, b'h', b'i']);
        assert_eq!(bytes, want);
        assert_eq!(
            Record::Receipt {
                id: 1,
                status: ReceiptStatus::Delivered
            }
            .encode(),
            [3, 0, 0, 0, 0, 0, 0, 0, 1, 0]
        );
    }

    #[test]
    fn decode_rejections_table() {
        let cases: &[(&str, &[u8], RecordError)] = &[
            ("empty", &[], RecordError::Empty),
            ("unknown kind", &[0], RecordError::UnknownKind(0)),
            ("unknown kind 8", &[8, 1], RecordError::UnknownKind(8)),
            ("msg without id", &[1, 0, 0], RecordError::Truncated(1)),
            (
                "msg with empty protocol",
                &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
                RecordError::BadProtocol,
            ),
            (
                "msg protocol with a space",
                &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b' ', 0, 0, 0, 0],
                RecordError::BadProtocol,
            ),
            (
                "msg cut in its total",
                &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b'p', 0, 0],
                RecordError::Truncated(1),
            ),
            (
                "msg chunk above total",
                &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b'p', 0, 0, 0, 1, 1, 2],
                RecordError::ChunkTooLong,
            ),
            ("more without id", &[2, 0], RecordError::Truncated(2)),
            (
                "receipt trailing",
                &[3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0],
                RecordError::Trailing(3),
            ),
            (
                "receipt bad status",
                &[3, 0, 0, 0, 0, 0, 0, 0, 1, 9],
                RecordError::BadStatus(9),
            ),
            (
                "response bad status",
                &[4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0],
                RecordError::BadStatus(2),
            ),
            (
                "response chunk above total",
                &[4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 7],
                RecordError::ChunkTooLong,
            ),
            ("ping short", &[5, 0, 0], RecordError::Truncated(5)),
            (
                "pong trailing",
                &[6, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                RecordError::Trailing(6),
            ),
            ("close short", &[7], RecordError::Truncated(7)),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(Record::decode(bytes), Err(*want), "{name}");
        }
    }

    #[test]
    fn first_chunk_room_fills_a_frame() {
        let protocol = "/tazcom/msg/1";
        let chunk = vec![0u8; msg_chunk_room(protocol)];
        let record = Record::Msg {
            id: 0,
            request: false,
            protocol,
            total: chunk.len() as u32,
            chunk: &chunk,
        };
        assert_eq!(record.encode().len(), MAX_PLAINTEXT);
    }
}
