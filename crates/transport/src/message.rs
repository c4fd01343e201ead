//! Messages carried on the TCP wire, one JSON object per line (`docs/wire.md`).
//!
//! Encoding is compact JSON with the `type` key first, followed by `\n`.
//! Parsing is tolerant in one direction only: a well-formed JSON object
//! whose `type` this crate does not know parses to [`ParsedLine::Unknown`]
//! (the server ACKs it), so newer peers can add message types without
//! breaking older ones.

use serde_json::{Map, Value};
use tazcom_identity::PeerId;

use crate::error::{EncodeError, ParseError};
use crate::liveness::{SignedBye, SignedPing};
use crate::signed::sealed::Sealed;
use crate::signed::{encode, from_fields, peer_field, FieldError, SignedAck, SignedHello};

/// The wire line limit in bytes, newline included (`docs/wire.md`, "Framing";
/// the Python prototype's `MESSAGE_SIZE_LIMIT`).
pub const MAX_LINE_BYTES: usize = 1024;

/// The reply a server sends for every accepted line except a verified
/// signed HELLO, PING or BYE: `ACK` followed by `\n` (`docs/wire.md`, "ACK").
pub const ACK_LINE: &[u8; 4] = b"ACK\n";

/// The reply line without its newline, as returned by
/// [`FrameReader::read_frame`](crate::wire::FrameReader::read_frame).
pub const ACK: &[u8; 3] = b"ACK";

/// Length in bytes of an encoded legacy HELLO line, newline included:
/// `{"type":"HELLO","from":"` (24) + 64 hex + `"}` (2) + `\n` (1).
pub const HELLO_LINE_BYTES: usize = 91;

/// A message this crate understands (`docs/wire.md` §3.3, §3.6, §3.7).
///
/// On the wire it is a JSON object whose `type` field names the message
/// (`"HELLO"`, `"ACK"`, `"PING"`, `"BYE"`), followed by its fields. Fields a peer does not know
/// are ignored when parsing, so a later version may add fields to a message.
/// A HELLO with none of the signed fields is a [`Message::Hello`]; with all
/// of them, a [`Message::SignedHello`]; with some, a
/// [`ParseError::TruncatedFields`]. An ACK, PING or BYE needs all of its
/// fields; one that lacks some is a [`ParseError::TruncatedFields`] too.
///
/// The enum is `#[non_exhaustive]`: new message types are added as new
/// variants, so match with a wildcard arm.
///
/// ```
/// use tazcom_identity::PeerId;
/// use tazcom_transport::wire::Message;
///
/// let hello = Message::hello(PeerId::from_bytes([0xab; 32]));
/// let line = hello.encode_line()?;
/// assert_eq!(line, format!("{{\"type\":\"HELLO\",\"from\":\"{}\"}}\n", "ab".repeat(32)));
/// # Ok::<(), tazcom_transport::error::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// `{"type":"HELLO","from":"<64 lowercase hex>"}`: the legacy (prototype)
    /// HELLO. The sender names its own peer id; nothing proves it, so `from`
    /// is a claim.
    Hello {
        /// The sender's peer id (64 lowercase hex characters on the wire).
        from: PeerId,
    },
    /// A HELLO signed by its sender, addressed to one receiver
    /// (`type` `"HELLO"` with `to`, `nonce`, `ts`, `port`, `sig`).
    SignedHello(SignedHello),
    /// The signed reply to a [`Message::SignedHello`] (`type` `"ACK"`).
    /// Sent by servers only; a server that receives one ACKs and ignores it.
    SignedAck(SignedAck),
    /// A signed liveness check (`type` `"PING"`, `docs/wire.md` §3.7),
    /// answered with a signed ACK over its nonce.
    SignedPing(SignedPing),
    /// A signed departure notice (`type` `"BYE"`, `docs/wire.md` §3.7),
    /// answered with a signed ACK over its nonce.
    SignedBye(SignedBye),
}

impl Message {
    /// Every `type` string this crate parses into a [`Message`] variant.
    pub const KNOWN_TYPES: &'static [&'static str] = &["HELLO", "ACK", "PING", "BYE"];

    /// A legacy HELLO from `from`.
    pub fn hello(from: PeerId) -> Message {
        Message::Hello { from }
    }

    /// The `type` string of this message on the wire, e.g. `"HELLO"`.
    pub fn wire_type(&self) -> &'static str {
        match self {
            Message::Hello { .. } | Message::SignedHello(_) => "HELLO",
            Message::SignedAck(_) => "ACK",
            Message::SignedPing(_) => "PING",
            Message::SignedBye(_) => "BYE",
        }
    }

    /// Encodes the message as one wire line: compact JSON, `type` first,
    /// then the fields in the order of `docs/wire.md`, then `\n`; at most
    /// [`MAX_LINE_BYTES`] bytes.
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] when the line would exceed 1024 bytes (not
    /// possible for the current variants: a legacy HELLO is always
    /// [`HELLO_LINE_BYTES`], a signed HELLO at most 382 bytes, a signed ACK
    /// 341 bytes, a signed PING at most 381, a signed BYE at most 367).
    pub fn encode_line(&self) -> Result<String, EncodeError> {
        self.encode_line_within(MAX_LINE_BYTES)
    }

    /// Like [`Message::encode_line`] with a custom limit in bytes, newline
    /// included (for peers that agreed on another `max_line_bytes`).
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] when the line exceeds `limit`.
    pub fn encode_line_within(&self, limit: usize) -> Result<String, EncodeError> {
        // Every field is a peer id, hex or an integer: no JSON escaping needed.
        let mut line = match self {
            Message::Hello { from } => format!("{{\"type\":\"HELLO\",\"from\":\"{from}\"}}"),
            Message::SignedHello(hello) => encode(hello),
            Message::SignedAck(ack) => encode(ack),
            Message::SignedPing(ping) => encode(ping),
            Message::SignedBye(bye) => encode(bye),
        };
        line.push('\n');
        if line.len() > limit {
            return Err(EncodeError::TooLarge {
                len: line.len(),
                limit,
            });
        }
        Ok(line)
    }

    /// Builds a known message from the fields of a JSON object.
    fn from_fields(message_type: &str, fields: &Map<String, Value>) -> Result<Message, FieldError> {
        match message_type {
            "ACK" => return from_fields(fields).map(Message::SignedAck),
            "PING" => return from_fields(fields).map(Message::SignedPing),
            "BYE" => return from_fields(fields).map(Message::SignedBye),
            _ => {}
        }
        let from = match fields.get("from") {
            None => return Err(FieldError::Invalid("missing field `from`".to_owned())),
            Some(_) => peer_field(fields, "from")?,
        };
        // A HELLO with none of the signed fields beyond `from` is a legacy
        // HELLO; with some but not all, it is truncated.
        if SignedHello::FIELDS
            .iter()
            .all(|f| *f == "from" || !fields.contains_key(*f))
        {
            return Ok(Message::Hello { from });
        }
        from_fields(fields).map(Message::SignedHello)
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
    ///   a HELLO whose `from` is not 64 lowercase hex characters, or a `sig`
    ///   that is not 128 lowercase hex characters.
    /// - [`ParseError::TruncatedFields`]: a HELLO with some but not all of
    ///   the signed fields, or an ACK, PING or BYE object missing any of its
    ///   fields (`{"type":"PING"}` is malformed, not unknown).
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
        match Message::from_fields(&message_type, &fields) {
            Ok(message) => Ok(ParsedLine::Message(message)),
            Err(FieldError::Invalid(reason)) => Err(ParseError::InvalidMessage {
                message_type,
                reason,
            }),
            Err(FieldError::Truncated(missing)) => Err(ParseError::TruncatedFields {
                message_type,
                missing,
            }),
        }
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
    use crate::liveness::{MAX_SIGNED_BYE_LINE_BYTES, MAX_SIGNED_PING_LINE_BYTES};
    use crate::signed::{Nonce, MAX_SIGNED_HELLO_LINE_BYTES, SIGNED_ACK_LINE_BYTES};
    use proptest::prelude::*;
    use tazcom_identity::{Identity, Signature};

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
    fn known_types_match_wire_types() {
        let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
        let nonce = Nonce::from_bytes([3; 16]);
        let samples = [
            Message::hello(peer(1)),
            Message::SignedHello(SignedHello::sign(&a, b.peer_id(), nonce, 5, 6)),
            Message::SignedAck(SignedAck::sign(&b, a.peer_id(), nonce)),
            Message::SignedPing(SignedPing::sign(&a, b.peer_id(), nonce, 5, 6)),
            Message::SignedBye(SignedBye::sign(&a, b.peer_id(), nonce, 5)),
        ];
        for known in Message::KNOWN_TYPES {
            assert!(samples.iter().any(|m| m.wire_type() == *known), "{known}");
        }
        for message in samples {
            let line = message.encode_line().unwrap();
            let value: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(value["type"], message.wire_type());
            assert!(Message::KNOWN_TYPES.contains(&message.wire_type()));
        }
    }

    #[test]
    fn signed_lines_have_the_documented_shape_and_length() {
        let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
        let nonce = Nonce::from_bytes([0xcd; 16]);
        let hello = SignedHello::sign(&a, b.peer_id(), nonce, 1_700_000_000_000, 4242);
        let line = Message::SignedHello(hello).encode_line().unwrap();
        let expected = format!(
            "{{\"type\":\"HELLO\",\"from\":\"{}\",\"to\":\"{}\",\"nonce\":\"{}\",\"ts\":1700000000000,\"port\":4242,\"sig\":\"{}\"}}\n",
            a.peer_id(),
            b.peer_id(),
            "cd".repeat(16),
            hex::encode(hello.sig.to_bytes())
        );
        assert_eq!(line, expected);
        assert_eq!(line.len(), 374);
        let longest = SignedHello {
            ts_ms: u64::MAX,
            port: u16::MAX,
            ..hello
        };
        let line = Message::SignedHello(longest).encode_line().unwrap();
        assert_eq!(line.len(), MAX_SIGNED_HELLO_LINE_BYTES);
        let ack = Message::SignedAck(SignedAck::sign(&b, a.peer_id(), nonce));
        assert_eq!(ack.encode_line().unwrap().len(), SIGNED_ACK_LINE_BYTES);
    }

    #[test]
    fn some_but_not_all_signed_fields_are_truncated() {
        let from = "ab".repeat(32);
        let line = format!(r#"{{"type":"HELLO","from":"{from}","to":"{from}","ts":1}}"#);
        assert_eq!(
            ParsedLine::parse(&line),
            Err(ParseError::TruncatedFields {
                message_type: "HELLO".to_owned(),
                missing: vec!["nonce", "port", "sig"],
            })
        );
        let ack = format!(r#"{{"type":"ACK","from":"{from}","to":"{from}"}}"#);
        assert_eq!(
            ParsedLine::parse(&ack),
            Err(ParseError::TruncatedFields {
                message_type: "ACK".to_owned(),
                missing: vec!["nonce", "sig"],
            })
        );
    }

    #[test]
    fn ping_and_bye_lines_have_the_documented_shape_and_length() {
        let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
        let nonce = Nonce::from_bytes([0xcd; 16]);
        let ping = SignedPing::sign(&a, b.peer_id(), nonce, 1_700_000_000_000, 4242);
        let line = Message::SignedPing(ping).encode_line().unwrap();
        let expected = format!(
            "{{\"type\":\"PING\",\"from\":\"{}\",\"to\":\"{}\",\"nonce\":\"{}\",\"ts\":1700000000000,\"port\":4242,\"sig\":\"{}\"}}\n",
            a.peer_id(),
            b.peer_id(),
            "cd".repeat(16),
            hex::encode(ping.sig.to_bytes())
        );
        assert_eq!(line, expected);
        assert_eq!(line.len(), 373);
        let longest = SignedPing {
            ts_ms: u64::MAX,
            port: u16::MAX,
            ..ping
        };
        let line = Message::SignedPing(longest).encode_line().unwrap();
        assert_eq!(line.len(), MAX_SIGNED_PING_LINE_BYTES);

        let bye = SignedBye::sign(&a, b.peer_id(), nonce, 1_700_000_000_000);
        let line = Message::SignedBye(bye).encode_line().unwrap();
        let expected = format!(
            "{{\"type\":\"BYE\",\"from\":\"{}\",\"to\":\"{}\",\"nonce\":\"{}\",\"ts\":1700000000000,\"sig\":\"{}\"}}\n",
            a.peer_id(),
            b.peer_id(),
            "cd".repeat(16),
            hex::encode(bye.sig.to_bytes())
        );
        assert_eq!(line, expected);
        assert_eq!(line.len(), 360);
        let longest = SignedBye {
            ts_ms: u64::MAX,
            ..bye
        };
        let line = Message::SignedBye(longest).encode_line().unwrap();
        assert_eq!(line.len(), MAX_SIGNED_BYE_LINE_BYTES);
    }

    #[test]
    fn ping_and_bye_with_missing_fields_are_truncated_not_unknown() {
        let from = "ab".repeat(32);
        let cases = [
            (
                r#"{"type":"PING"}"#.to_owned(),
                "PING",
                vec!["from", "to", "nonce", "ts", "port", "sig"],
            ),
            (
                r#"{"type":"BYE"}"#.to_owned(),
                "BYE",
                vec!["from", "to", "nonce", "ts", "sig"],
            ),
            (
                format!(r#"{{"type":"PING","from":"{from}","to":"{from}","ts":1,"sig":"00"}}"#),
                "PING",
                vec!["nonce", "port"],
            ),
            (
                format!(r#"{{"type":"BYE","to":"{from}","nonce":"00","ts":1,"sig":"00"}}"#),
                "BYE",
                vec!["from"],
            ),
        ];
        for (line, message_type, missing) in cases {
            assert_eq!(
                ParsedLine::parse(&line),
                Err(ParseError::TruncatedFields {
                    message_type: message_type.to_owned(),
                    missing,
                }),
                "{line}"
            );
        }
    }

    #[test]
    fn malformed_ping_and_bye_fields_are_invalid() {
        let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
        let nonce = Nonce::from_bytes([7; 16]);
        let ping = SignedPing::sign(&a, b.peer_id(), nonce, 9, 10);
        let bye = SignedBye::sign(&a, b.peer_id(), nonce, 9);
        for (good, sig, message_type) in [
            (Message::SignedPing(ping), ping.sig, "PING"),
            (Message::SignedBye(bye), bye.sig, "BYE"),
        ] {
            let good = good.encode_line().unwrap();
            let sig = hex::encode(sig.to_bytes());
            let mut bad_lines = vec![
                good.replace(&sig, &sig[..127]),
                good.replace(&sig, &sig.to_uppercase()),
                good.replace(&"07".repeat(16), &"07".repeat(15)),
                good.replace("\"ts\":9", "\"ts\":-9"),
                good.replace("\"ts\":9", "\"ts\":9.5"),
                good.replace(&a.peer_id().to_string(), "x"),
                good.replace(&b.peer_id().to_string(), &"ab".repeat(31)),
            ];
            if message_type == "PING" {
                bad_lines.push(good.replace("\"port\":10", "\"port\":65536"));
                bad_lines.push(good.replace("\"port\":10", "\"port\":\"10\""));
            }
            for line in bad_lines {
                assert!(
                    matches!(
                        ParsedLine::parse(line.trim_end()),
                        Err(ParseError::InvalidMessage { message_type: ref t, .. }) if t == message_type
                    ),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn malformed_signed_fields_are_invalid() {
        let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
        let hello = SignedHello::sign(&a, b.peer_id(), Nonce::from_bytes([7; 16]), 9, 10);
        let good = Message::SignedHello(hello).encode_line().unwrap();
        let sig = hex::encode(hello.sig.to_bytes());
        let bad_lines = [
            good.replace(&sig, &sig[..127]),
            good.replace(&sig, &sig.to_uppercase()),
            good.replace(&"07".repeat(16), &"07".repeat(15)),
            good.replace("\"port\":10", "\"port\":65536"),
            good.replace("\"port\":10", "\"port\":\"10\""),
            good.replace("\"ts\":9", "\"ts\":-9"),
            good.replace(&b.peer_id().to_string(), "x"),
        ];
        for line in bad_lines {
            assert!(
                matches!(
                    ParsedLine::parse(line.trim_end()),
                    Err(ParseError::InvalidMessage { ref message_type, .. }) if message_type == "HELLO"
                ),
                "{line}"
            );
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
        let parsed = ParsedLine::parse(r#"{"type":"STATUS","n":1}"#).unwrap();
        let ParsedLine::Unknown(unknown) = parsed else {
            panic!("expected Unknown, got {parsed:?}");
        };
        assert_eq!(unknown.message_type, "STATUS");
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

        #[test]
        fn signed_hello_round_trips(
            from in any::<[u8; 32]>(),
            to in any::<[u8; 32]>(),
            nonce in any::<[u8; 16]>(),
            ts_ms in any::<u64>(),
            port in any::<u16>(),
            sig in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let sig: [u8; 64] = sig.try_into().unwrap();
            let message = Message::SignedHello(SignedHello {
                from: PeerId::from_bytes(from),
                to: PeerId::from_bytes(to),
                nonce: Nonce::from_bytes(nonce),
                ts_ms,
                port,
                sig: Signature::from_bytes(sig),
            });
            let line = message.encode_line().unwrap();
            prop_assert!(line.len() <= MAX_SIGNED_HELLO_LINE_BYTES);
            prop_assert_eq!(line.matches('\n').count(), 1);
            let body = line.strip_suffix('\n').unwrap();
            prop_assert_eq!(ParsedLine::parse(body).unwrap(), ParsedLine::Message(message));
        }

        #[test]
        fn signed_ack_round_trips(
            from in any::<[u8; 32]>(),
            to in any::<[u8; 32]>(),
            nonce in any::<[u8; 16]>(),
            sig in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let sig: [u8; 64] = sig.try_into().unwrap();
            let message = Message::SignedAck(SignedAck {
                from: PeerId::from_bytes(from),
                to: PeerId::from_bytes(to),
                nonce: Nonce::from_bytes(nonce),
                sig: Signature::from_bytes(sig),
            });
            let line = message.encode_line().unwrap();
            prop_assert_eq!(line.len(), SIGNED_ACK_LINE_BYTES);
            prop_assert_eq!(line.matches('\n').count(), 1);
            let body = line.strip_suffix('\n').unwrap();
            prop_assert_eq!(ParsedLine::parse(body).unwrap(), ParsedLine::Message(message));
        }

        #[test]
        fn signed_ping_round_trips(
            from in any::<[u8; 32]>(),
            to in any::<[u8; 32]>(),
            nonce in any::<[u8; 16]>(),
            ts_ms in any::<u64>(),
            port in any::<u16>(),
            sig in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let sig: [u8; 64] = sig.try_into().unwrap();
            let message = Message::SignedPing(SignedPing {
                from: PeerId::from_bytes(from),
                to: PeerId::from_bytes(to),
                nonce: Nonce::from_bytes(nonce),
                ts_ms,
                port,
                sig: Signature::from_bytes(sig),
            });
            let line = message.encode_line().unwrap();
            prop_assert!(line.len() <= MAX_SIGNED_PING_LINE_BYTES);
            prop_assert_eq!(line.matches('\n').count(), 1);
            let body = line.strip_suffix('\n').unwrap();
            prop_assert_eq!(ParsedLine::parse(body).unwrap(), ParsedLine::Message(message));
        }

        #[test]
        fn signed_bye_round_trips(
            from in any::<[u8; 32]>(),
            to in any::<[u8; 32]>(),
            nonce in any::<[u8; 16]>(),
            ts_ms in any::<u64>(),
            sig in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let sig: [u8; 64] = sig.try_into().unwrap();
            let message = Message::SignedBye(SignedBye {
                from: PeerId::from_bytes(from),
                to: PeerId::from_bytes(to),
                nonce: Nonce::from_bytes(nonce),
                ts_ms,
                sig: Signature::from_bytes(sig),
            });
            let line = message.encode_line().unwrap();
            prop_assert!(line.len() <= MAX_SIGNED_BYE_LINE_BYTES);
            prop_assert_eq!(line.matches('\n').count(), 1);
            let body = line.strip_suffix('\n').unwrap();
            prop_assert_eq!(ParsedLine::parse(body).unwrap(), ParsedLine::Message(message));
        }
    }
}
