//! The line protocol (`docs/wire.md`): its message types, their exact line
//! encoding, the signed messages and their signing domains, the framing
//! reader and the wire constants. Most users only need
//! [`Greeter`](crate::Greeter) and [`Listener`](crate::Listener); this
//! module is for code that speaks the protocol line by line (tests, fuzzing,
//! tools).
//!
//! - [`Message`] / [`ParsedLine`] / [`UnknownMessage`]: the JSON messages and
//!   their exact line encoding; [`ACK`], [`ACK_LINE`], the line limits.
//! - [`SignedHello`], [`SignedAck`], [`Nonce`]: the signed greeting
//!   (`docs/wire.md` §3.6), its signing domains and signed lengths.
//! - [`SignedPing`], [`SignedBye`]: the signed liveness check and departure
//!   notice (`docs/wire.md` §3.7).
//! - [`SignedMessage`]: what the four signed messages share: the bytes
//!   their signature covers and its verification.
//! - [`FrameReader`]: bounded `\n` framing of a byte stream into lines
//!   (`docs/wire.md`, "Framing"); its errors are
//!   [`FrameError`](crate::error::FrameError).

pub use crate::codec::FrameReader;
pub use crate::liveness::{
    SignedBye, SignedPing, BYE_DOMAIN, BYE_SIGNED_LEN, MAX_SIGNED_BYE_LINE_BYTES,
    MAX_SIGNED_PING_LINE_BYTES, PING_DOMAIN, PING_SIGNED_LEN,
};
pub use crate::message::{
    Message, ParsedLine, UnknownMessage, ACK, ACK_LINE, HELLO_LINE_BYTES, MAX_LINE_BYTES,
};
pub use crate::signed::{
    Nonce, SignedAck, SignedHello, SignedMessage, ACK_DOMAIN, ACK_SIGNED_LEN, HELLO_DOMAIN,
    HELLO_SIGNED_LEN, MAX_SIGNED_HELLO_LINE_BYTES, NONCE_LEN, SIGNED_ACK_LINE_BYTES,
};
