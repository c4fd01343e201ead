//! [`Domain`]: the signing context every TAZCOM signature is made in.

use std::fmt;

/// A signing context: the bytes every signature made in it covers first
/// (domain separation), so that a signature made for one kind of message
/// can never pass as a signature of another kind, however the rest of the
/// bytes line up. [`Identity::sign`](crate::Identity::sign) and
/// [`verify`](crate::verify) take one; there is no way to sign raw bytes
/// with this crate.
///
/// TAZCOM's domains (`docs/wire.md`): `TAZCOM-HELLO-v1\0`,
/// `TAZCOM-ACK-v1\0`, `TAZCOM-PING-v1\0`, `TAZCOM-BYE-v1\0` and
/// `tazcom/session/1 binding`. A new message type gets a new domain that
/// is not a prefix of an existing one.
///
/// ```
/// use tazcom_identity::{verify, Domain, Identity};
///
/// const GREETING: Domain = Domain::new(b"example/greeting/1\0");
/// const RECEIPT: Domain = Domain::new(b"example/receipt/1\0");
/// let me = Identity::generate();
/// let sig = me.sign(&GREETING, b"hello");
/// assert!(verify(&me.peer_id(), &GREETING, b"hello", &sig).is_ok());
/// // The same bytes in another domain do not verify.
/// assert!(verify(&me.peer_id(), &RECEIPT, b"hello", &sig).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Domain(&'static [u8]);

impl Domain {
    /// A domain with this prefix.
    ///
    /// # Panics
    ///
    /// When `prefix` is empty (at compile time in a `const`): an empty
    /// prefix separates nothing.
    pub const fn new(prefix: &'static [u8]) -> Domain {
        assert!(!prefix.is_empty(), "a signing domain must not be empty");
        Domain(prefix)
    }

    /// The prefix bytes.
    pub const fn as_bytes(&self) -> &'static [u8] {
        self.0
    }

    /// `prefix ‖ msg`: the bytes a signature in this domain covers.
    pub(crate) fn message(&self, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() + msg.len());
        out.extend_from_slice(self.0);
        out.extend_from_slice(msg);
        out
    }
}

/// Prints the prefix, lossily decoded.
impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domain({:?})", String::from_utf8_lossy(self.0))
    }
}
