//! The upgrade line (`docs/wire.md` §3.8.1): the initiator's `SESSION`
//! request, the responder's `SESSION_OK`, and how the initiator classifies
//! the reply.

use std::io;

use serde_json::{Map, Value};
use tazcom_identity::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{HandshakeError, MAX_REPLY_LINE, SESSION_OK_LINE, SESSION_TYPE, UPGRADE_VERSION};

/// The upgrade request line, `{"type":"SESSION","v":1,"from":…,"to":…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The initiator's peer id (what it must prove in the handshake).
    pub from: PeerId,
    /// The peer id the initiator expects at the responder.
    pub to: PeerId,
}

/// Why an upgrade line is refused ([`UpgradeRequest::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Not a JSON object with a string `type` (trailing `\r\n` / `\n` and
    /// JSON whitespace are allowed).
    #[error("upgrade line is not a JSON object with a string type")]
    NotJson,
    /// The `type` is not `SESSION`.
    #[error("upgrade line has type {found:?}, not SESSION")]
    WrongType {
        /// The `type` found.
        found: String,
    },
    /// `v` is missing or not 1.
    #[error("unsupported session version")]
    UnsupportedVersion,
    /// `from` or `to` is missing or not a canonical peer id.
    #[error("upgrade field `{field}` is not a valid peer id")]
    BadPeerId {
        /// `from` or `to`.
        field: &'static str,
    },
}

impl UpgradeRequest {
    /// The exact line an initiator sends, newline included (compact JSON,
    /// fields in this order: `type`, `v`, `from`, `to`; always 171 bytes).
    pub fn encode(&self) -> String {
        format!(
            "{{\"type\":\"SESSION\",\"v\":1,\"from\":\"{}\",\"to\":\"{}\"}}\n",
            self.from, self.to
        )
    }

    /// Parses and validates a received upgrade line (with or without its
    /// `\n`). Any key order and JSON whitespace; unknown fields ignored.
    /// `from` and `to` must be 64 lowercase hex characters and valid Ed25519
    /// keys.
    ///
    /// # Errors
    ///
    /// [`UpgradeError`], one variant per check.
    pub fn parse(line: &str) -> Result<UpgradeRequest, UpgradeError> {
        let value: Value = serde_json::from_str(line).map_err(|_| UpgradeError::NotJson)?;
        let Value::Object(fields) = value else {
            return Err(UpgradeError::NotJson);
        };
        UpgradeRequest::from_fields(&fields)
    }

    /// As [`parse`](Self::parse), from the fields of a line already parsed
    /// as a JSON object (the server's line reader does that).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub fn from_fields(fields: &Map<String, Value>) -> Result<UpgradeRequest, UpgradeError> {
        let Some(Value::String(kind)) = fields.get("type") else {
            return Err(UpgradeError::NotJson);
        };
        if kind != SESSION_TYPE {
            return Err(UpgradeError::WrongType {
                found: kind.chars().take(64).collect(),
            });
        }
        if fields.get("v").and_then(Value::as_u64) != Some(UPGRADE_VERSION) {
            return Err(UpgradeError::UnsupportedVersion);
        }
        let peer = |field: &'static str| -> Result<PeerId, UpgradeError> {
            let id: PeerId = fields
                .get(field)
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .ok_or(UpgradeError::BadPeerId { field })?;
            id.validate()
                .map_err(|_| UpgradeError::BadPeerId { field })?;
            Ok(id)
        };
        Ok(UpgradeRequest {
            from: peer("from")?,
            to: peer("to")?,
        })
    }
}

/// How the initiator reads the reply line to `SESSION`.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Ok,
    Ack,
}

/// Classifies a reply line (without its `\n`): `ACK` exactly, or a JSON
/// object with `type` `SESSION_OK` and `v` 1 (any key order, whitespace).
fn classify_reply(line: &[u8]) -> Result<Reply, HandshakeError> {
    let bad = || HandshakeError::BadReply {
        received: String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned(),
    };
    if line == b"ACK" {
        return Ok(Reply::Ack);
    }
    let value: Value = serde_json::from_slice(line).map_err(|_| bad())?;
    if value.get("type").and_then(Value::as_str) == Some("SESSION_OK")
        && value.get("v").and_then(Value::as_u64) == Some(UPGRADE_VERSION)
    {
        Ok(Reply::Ok)
    } else {
        Err(bad())
    }
}

/// The initiator's side of the upgrade: sends the `SESSION` line from
/// `from` to `to` and reads the reply; `Ok` only for `SESSION_OK`.
pub(super) async fn request(
    stream: &mut TcpStream,
    from: PeerId,
    to: PeerId,
) -> Result<(), HandshakeError> {
    let request = UpgradeRequest { from, to };
    stream
        .write_all(request.encode().as_bytes())
        .await
        .map_err(HandshakeError::Io)?;
    let line = read_reply_line(stream).await?;
    match classify_reply(&line)? {
        Reply::Ok => Ok(()),
        Reply::Ack => Err(HandshakeError::Unsupported),
    }
}

/// The responder's side, once it has accepted the `SESSION` line: writes
/// `SESSION_OK`.
pub(super) async fn accept(stream: &mut TcpStream) -> Result<(), HandshakeError> {
    stream
        .write_all(SESSION_OK_LINE.as_bytes())
        .await
        .map_err(HandshakeError::Io)
}

/// Reads the reply line (without `\n`, a trailing `\r` removed), at most
/// [`MAX_REPLY_LINE`] bytes. Bytes after the newline are a protocol
/// violation (the responder sends nothing more before message 1).
async fn read_reply_line(stream: &mut TcpStream) -> Result<Vec<u8>, HandshakeError> {
    let mut line = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    loop {
        let n = stream.read(&mut chunk).await.map_err(HandshakeError::Io)?;
        if n == 0 {
            return Err(HandshakeError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        line.extend_from_slice(&chunk[..n]);
        if let Some(end) = line.iter().position(|&b| b == b'\n') {
            if end + 1 != line.len() {
                return Err(HandshakeError::BadReply {
                    received: String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned(),
                });
            }
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        if line.len() >= MAX_REPLY_LINE {
            return Err(HandshakeError::BadReply {
                received: String::from_utf8_lossy(&line[..64]).into_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tazcom_identity::Identity;

    #[test]
    fn upgrade_line_table() {
        let (a, b) = (
            Identity::from_seed([1; 32]).peer_id(),
            Identity::from_seed([2; 32]).peer_id(),
        );
        let req = UpgradeRequest { from: a, to: b };
        let line = req.encode();
        assert_eq!(line.len(), 171);
        assert_eq!(UpgradeRequest::parse(&line), Ok(req));
        let reordered = format!(
            "{{ \"to\":\"{b}\", \"from\":\"{a}\",\"v\":1,\"x\":[],\"type\":\"SESSION\"}}\r\n"
        );
        assert_eq!(UpgradeRequest::parse(&reordered), Ok(req));
        let cases = [
            ("[1]".to_string(), UpgradeError::NotJson),
            ("{\"v\":1}".to_string(), UpgradeError::NotJson),
            (
                format!("{{\"type\":\"HELLO\",\"from\":\"{a}\"}}"),
                UpgradeError::WrongType {
                    found: "HELLO".into(),
                },
            ),
            (
                format!("{{\"type\":\"SESSION\",\"v\":2,\"from\":\"{a}\",\"to\":\"{b}\"}}"),
                UpgradeError::UnsupportedVersion,
            ),
            (
                format!("{{\"type\":\"SESSION\",\"from\":\"{a}\",\"to\":\"{b}\"}}"),
                UpgradeError::UnsupportedVersion,
            ),
            (
                format!(
                    "{{\"type\":\"SESSION\",\"v\":1,\"from\":\"{}\",\"to\":\"{b}\"}}",
                    a.to_string().to_uppercase()
                ),
                UpgradeError::BadPeerId { field: "from" },
            ),
            (
                format!("{{\"type\":\"SESSION\",\"v\":1,\"from\":\"{a}\"}}"),
                UpgradeError::BadPeerId { field: "to" },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(UpgradeRequest::parse(&line), Err(want), "{line}");
        }
    }

    #[test]
    fn reply_table() {
        assert_eq!(classify_reply(b"ACK").unwrap(), Reply::Ack);
        assert_eq!(
            classify_reply(SESSION_OK_LINE.trim_end().as_bytes()).unwrap(),
            Reply::Ok
        );
        assert_eq!(
            classify_reply(b"{ \"v\":1, \"type\":\"SESSION_OK\" }").unwrap(),
            Reply::Ok
        );
        for bad in [
            &b"ack"[..],
            b"{\"type\":\"SESSION_OK\",\"v\":2}",
            b"{\"type\":\"ACK\"}",
            b"\xff",
        ] {
            assert!(matches!(
                classify_reply(bad),
                Err(HandshakeError::BadReply { .. })
            ));
        }
    }
}
