//! Messages carried on the TCP wire, one JSON object per line (`docs/wire.md`).
//!
//! Encoding is compact JSON with the `type` key first, followed by `\n`.
//! Parsing is tolerant in one direction only: a well-formed JSON object
//! whose `type` this crate does not know parses to [`ParsedLine::Unknown`]
//! (the server ACKs it), so newer peers can add message types without
//! breaking older ones.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tazcom_identity::PeerId;

use crate::error::{EncodeError, ParseError};

/// The wire line limit in bytes, newline included (`docs/wire.md`, "Framing";
/// the Python prototype's `MESSAGE_SIZE_LIMIT`).
pub const MAX_LINE_BYTES: usize = 1024;

/// The reply a server sends for every accepted line: `ACK` followed by `\n`
/// (`docs/wire.md`, "ACK").
pub const ACK_LINE: &[u8; 4] = b"ACK\n";

/// The reply line without its newline, as returned by
/// [`FrameReader::read_frame`](crate::FrameReader::read_frame).
pub const ACK: &[u8; 3] = b"ACK";

/// Length in bytes of an encoded HELLO line, newline included:
/// `{"type":"HELLO","from":"` (24) + 64 hex + `"}` (2) + `\n` (1).
pub const HELLO_LINE_BYTES: usize = 91;

/// A message this crate understands.
///
/// On the wire it is a JSON object whose `type` field is the variant name in
/// upper snake case (`Hello` → `"HELLO"`), followed by the variant's fields.
/// Fields a peer does not know are ignored when parsing, so a later version
/// may add fields to a message.
///
/// The enum is `#[non_exhaustive]`: new message types (such as a signed
/// HELLO) are added as new variants, so match with a wildcard arm.
///
/// ```
/// use tazcom_identity::PeerId;
/// use tazcom_transport::Message;
///
/// let hello = Message::hello(PeerId::from_bytes([0xab; 32]));
/// let line = hello.encode_line()?;
/// assert_eq!(line, format!("{{\"type\":\"HELLO\",\"from\":\"{}\"}}\n", "ab".repeat(32)));
/// # Ok::<(), tazcom_transport::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Message {
    /// `{"type":"HELLO","from":"<64 lowercase hex>"}`: the sender greets the
    /// receiver and names its own peer id. Unauthenticated: `from` is a claim.
    Hello {
        /// The sender's peer id (64 lowercase hex characters on the wire).
        from: PeerId,
    },
}

impl Message {
    /// Every `type` string this crate parses into a [`Message`] variant.
    pub const KNOWN_TYPES: &'static [&'static str] = &["HELLO"];

    /// A HELLO from `from`.
    pub fn hello(from: PeerId) -> Message {
        Message::Hello { from }
    }

    /// The `type` string of this message on the wire, e.g. `"HELLO"`.
    pub fn wire_type(&self) -> &'static str {
        match self {
            Message::Hello { .. } => "HELLO",
        }
    }

    /// Encodes the message as one wire line: compact JSON, `type` first,
    /// then `\n`, at most [`MAX_LINE_BYTES`] bytes.
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] when the line would exceed 1024 bytes
    /// (a HELLO is always [`HELLO_LINE_BYTES`]); [`EncodeError::Json`] if
    /// serialization fails (not possible for the current variants).
    pub fn encode_line(&self) -> Result<String, EncodeError> {
        self.encode_line_within(MAX_LINE_BYTES)
    }

    /// Like [`Message::encode_line`] with a custom limit in bytes, newline
    /// included (for peers that agreed on another `max_line_bytes`).
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] when the line exceeds `limit`;
    /// [`EncodeError::Json`] if serialization fails.
    pub fn encode_line_within(&self, limit: usize) -> Result<String, EncodeError> {
        // serde_json writes the internal tag first, then fields in declaration order.
        let mut line = serde_json::to_string(self)?;
        line.push('\n');
        if line.len() > limit {
            return Err(EncodeError::TooLarge {
                len: line.len(),
                limit,
            });
        }
        Ok(line)
    }
}

/// A JSON object with a string `type` this crate does not know.
///
/// Kept whole so that a caller can inspect it; the server ACKs and counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownMessage {
    /// The `type` string as received.
    pub message_type: String,
    /// All fields of the object, `type` included.
    pub fields: Map<String, Value>,
}

/// The result of parsing one well-formed line.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedLine {
    /// A message of a known type with valid fields.
    Message(Message),
    /// A JSON object whose `type` is not in [`Message::KNOWN_TYPES`]
    /// (forward compatibility: accept, do not act on it).
    Unknown(UnknownMessage),
}

impl ParsedLine {
    /// Parses one line given as raw bytes (without its newline).
    ///
    /// # Errors
    ///
    /// [`ParseError::BadUtf8`], then as [`ParsedLine::parse`].
    pub fn parse_bytes(line: &[u8]) -> Result<ParsedLine, ParseError> {
        let text = std::str::from_utf8(line).map_err(|e| ParseError::BadUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        ParsedLine::parse(text)
    }

    /// Parses one line (without its newline; surrounding JSON whitespace,
    /// including a trailing `\r`, is allowed).
    ///
    /// The `type` match is case-sensitive: `"hello"` is an unknown type.
    ///
    /// # Errors
    ///
    /// - [`ParseError::NotJson`]: not a single JSON value.
    /// - [`ParseError::NotObject`]: a JSON value other than an object.
    /// - [`ParseError::MissingType`]: no `type` field, or not a string.
    /// - [`ParseError::InvalidMessage`]: a known `type` with bad fields, e.g.
    ///   a HELLO whose `from` is not 64 lowercase hex characters.
    pub fn parse(line: &str) -> Result<ParsedLine, ParseError> {
        let value: Value = serde_json::from_str(line).map_err(|e| ParseError::NotJson {
            reason: e.to_string(),
        })?;
        let fields = match value {
            Value::Object(fields) => fields,
            other => {
                return Err(ParseError::NotObject {
                    found: json_kind(&other),
                })
            }
        };
        let message_type = match fields.get("type") {
            Some(Value::String(t)) => t.clone(),
            _ => return Err(ParseError::MissingType),
        };
        if !Message::KNOWN_TYPES.contains(&message_type.as_str()) {
            return Ok(ParsedLine::Unknown(UnknownMessage {
                message_type,
                fields,
            }));
        }
        serde_json::from_value(Value::Object(fields))
            .map(ParsedLine::Message)
            .map_err(|e| ParseError::InvalidMessage {
                message_type,
                reason: e.to_string(),
            })
    }
}

/// The name of a JSON value's kind, for [`ParseError::NotObject`].
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peer(byte: u8) -> PeerId {
        PeerId::from_bytes([byte; 32])
    }

    #[test]
    fn hello_encodes_to_the_prototype_bytes() {
        let line = Message::hello(peer(0x0f)).encode_line().unwrap();
        let expected = format!("{{\"type\":\"HELLO\",\"from\":\"{}\"}}\n", "0f".repeat(32));
        assert_eq!(line, expected);
        assert_eq!(line.len(), HELLO_LINE_BYTES);
    }

    #[test]
    fn known_types_match_serde_tags() {
        let samples = [Message::hello(peer(1))];
        for message in samples {
            let value = serde_json::to_value(&message).unwrap();
            assert_eq!(value["type"], message.wire_type());
            assert!(Message::KNOWN_TYPES.contains(&message.wire_type()));
        }
    }

    #[test]
    fn parses_hello_with_whitespace_extra_fields_and_cr() {
        let line = format!(
            "{{ \"type\" : \"HELLO\", \"from\": \"{}\", \"v\": 2 }}\r",
            "ab".repeat(32)
        );
        let parsed = ParsedLine::parse(&line).unwrap();
        assert_eq!(parsed, ParsedLine::Message(Message::hello(peer(0xab))));
    }

    #[test]
    fn unknown_type_is_kept_whole() {
        let parsed = ParsedLine::parse(r#"{"type":"PING","n":1}"#).unwrap();
        let ParsedLine::Unknown(unknown) = parsed else {
            panic!("expected Unknown, got {parsed:?}");
        };
        assert_eq!(unknown.message_type, "PING");
        assert_eq!(unknown.fields["n"], 1);
    }

    #[test]
    fn type_match_is_case_sensitive() {
        let line = format!(r#"{{"type":"hello","from":"{}"}}"#, "ab".repeat(32));
        assert!(matches!(
            ParsedLine::parse(&line),
            Ok(ParsedLine::Unknown(u)) if u.message_type == "hello"
        ));
    }

    #[test]
    fn typed_parse_errors() {
        assert_eq!(
            ParsedLine::parse_bytes(b"{\"type\":\"\xff\"}"),
            Err(ParseError::BadUtf8 { valid_up_to: 9 })
        );
        assert!(matches!(
            ParsedLine::parse("not json"),
            Err(ParseError::NotJson { .. })
        ));
        assert!(matches!(
            ParsedLine::parse(""),
            Err(ParseError::NotJson { .. })
        ));
        assert_eq!(
            ParsedLine::parse("[1,2]"),
            Err(ParseError::NotObject { found: "array" })
        );
        assert_eq!(ParsedLine::parse("{}"), Err(ParseError::MissingType));
        assert_eq!(
            ParsedLine::parse(r#"{"type":7}"#),
            Err(ParseError::MissingType)
        );
        let short = format!(r#"{{"type":"HELLO","from":"{}"}}"#, "a".repeat(63));
        assert!(matches!(
            ParsedLine::parse(&short),
            Err(ParseError::InvalidMessage { message_type, .. }) if message_type == "HELLO"
        ));
        assert!(matches!(
            ParsedLine::parse(r#"{"type":"HELLO"}"#),
            Err(ParseError::InvalidMessage { .. })
        ));
    }

    #[test]
    fn encode_respects_a_custom_limit() {
        let hello = Message::hello(peer(2));
        assert!(hello.encode_line_within(HELLO_LINE_BYTES).is_ok());
        assert!(matches!(
            hello.encode_line_within(HELLO_LINE_BYTES - 1),
            Err(EncodeError::TooLarge { len: HELLO_LINE_BYTES, limit }) if limit == HELLO_LINE_BYTES - 1
        ));
    }

    proptest! {
        #[test]
        fn hello_round_trips(bytes in any::<[u8; 32]>()) {
            let message = Message::hello(PeerId::from_bytes(bytes));
            let line = message.encode_line().unwrap();
            prop_assert!(line.len() <= MAX_LINE_BYTES);
            prop_assert!(line.ends_with('\n'));
            prop_assert_eq!(line.matches('\n').count(), 1);
            let body = line.strip_suffix('\n').unwrap();
            prop_assert_eq!(ParsedLine::parse(body).unwrap(), ParsedLine::Message(message));
        }
    }
}
