//! Server side of the authenticated greeting: the checks a signed HELLO must
//! pass before it is answered with a signed ACK (`docs/wire.md` §3.6).

use std::sync::{Arc, Mutex, PoisonError};

use tazcom_identity::{Identity, KeyCache, PeerId};

use crate::config::TransportConfig;
use crate::replay::{ReplayCache, Seen};
use crate::signed::{SignedAck, SignedHello};
use crate::stats::RejectReason;

/// The server's identity and replay cache.
#[derive(Debug)]
pub(crate) struct Authenticator {
    identity: Arc<Identity>,
    own_id: PeerId,
    window_ms: u64,
    replay: Mutex<ReplayCache>,
    /// Decoded keys of recent senders (a greeting's verification cost).
    keys: KeyCache,
}

/// Decoded sender keys kept (per server; bounded, see [`KeyCache`]).
const KEY_CACHE_CAPACITY: usize = 1024;

/// A signed HELLO that passed every check.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// The signed ACK line to send back (newline included).
    pub(crate) reply: String,
    /// An older replay-cache entry was evicted to make room.
    pub(crate) evicted: bool,
}

impl Authenticator {
    pub(crate) fn new(identity: Arc<Identity>, config: &TransportConfig) -> Authenticator {
        Authenticator {
            own_id: identity.peer_id(),
            identity,
            window_ms: u64::try_from(config.timestamp_window().as_millis()).unwrap_or(u64::MAX),
            replay: Mutex::new(ReplayCache::new(config.replay_cache_capacity())),
            keys: KeyCache::new(KEY_CACHE_CAPACITY),
        }
    }

    pub(crate) fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    /// Runs the checks in order, cheapest first: addressee, timestamp,
    /// signature, replay. The nonce is recorded only once the signature
    /// holds, so forged HELLOs cannot fill the cache.
    pub(crate) fn check(
        &self,
        hello: &SignedHello,
        now_ms: u64,
    ) -> Result<Admitted, (RejectReason, String)> {
        if hello.to != self.own_id {
            let detail = format!("addressed to {}, this node is {}", hello.to, self.own_id);
            return Err((RejectReason::WrongAddressee, detail));
        }
        let skew_ms = now_ms.abs_diff(hello.ts_ms);
        if skew_ms > self.window_ms {
            let detail = format!(
                "ts {} is {skew_ms} ms from this node's clock ({now_ms}); the window is ±{} ms",
                hello.ts_ms, self.window_ms
            );
            return Err((RejectReason::StaleTimestamp, detail));
        }
        if let Err(error) = hello.verify_signature_with(&self.keys) {
            return Err((RejectReason::BadSignature, error.to_string()));
        }
        let expires_ms = hello.ts_ms.saturating_add(self.window_ms);
        let seen = self
            .replay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(hello.from, hello.nonce, expires_ms, now_ms);
        let evicted = match seen {
            Seen::Replayed => {
                let detail = format!(
                    "nonce {} from {} was already accepted",
                    hello.nonce, hello.from
                );
                return Err((RejectReason::ReplayedNonce, detail));
            }
            Seen::Fresh { evicted } => evicted,
        };
        let ack = SignedAck::sign(&self.identity, hello.from, hello.nonce);
        let mut reply = ack.encode();
        reply.push('\n');
        Ok(Admitted { reply, evicted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signed::Nonce;
    use std::time::Duration;

    const NOW: u64 = 1_700_000_000_000;

    fn server() -> (Authenticator, Identity) {
        let id = Identity::from_seed([1; 32]);
        let config = TransportConfig::builder()
            .timestamp_window(Duration::from_secs(30))
            .build()
            .unwrap();
        (Authenticator::new(Arc::new(id.clone()), &config), id)
    }

    fn reason(result: Result<Admitted, (RejectReason, String)>) -> Option<RejectReason> {
        result.err().map(|(r, _)| r)
    }

    #[test]
    fn a_valid_hello_gets_a_signed_ack_for_its_nonce() {
        let (auth, server_id) = server();
        let client = Identity::from_seed([2; 32]);
        let hello = SignedHello::sign(&client, server_id.peer_id(), Nonce::random(), NOW, 1);
        let admitted = auth.check(&hello, NOW).unwrap();
        let crate::ParsedLine::Message(crate::Message::SignedAck(ack)) =
            crate::ParsedLine::parse(admitted.reply.trim_end()).unwrap()
        else {
            panic!("not a signed ACK: {}", admitted.reply);
        };
        assert_eq!(
            (ack.from, ack.to, ack.nonce),
            (server_id.peer_id(), client.peer_id(), hello.nonce)
        );
        assert!(ack.verify_signature().is_ok());
    }

    #[test]
    fn each_failed_check_has_its_reason() {
        let (auth, server_id) = server();
        let client = Identity::from_seed([2; 32]);
        let other = Identity::from_seed([3; 32]);
        let to = server_id.peer_id();
        let hello = |ts| SignedHello::sign(&client, to, Nonce::random(), ts, 1);

        let wrong_to = SignedHello::sign(&client, other.peer_id(), Nonce::random(), NOW, 1);
        assert_eq!(
            reason(auth.check(&wrong_to, NOW)),
            Some(RejectReason::WrongAddressee)
        );
        assert_eq!(
            reason(auth.check(&hello(NOW - 30_001), NOW)),
            Some(RejectReason::StaleTimestamp)
        );
        assert_eq!(
            reason(auth.check(&hello(NOW + 30_001), NOW)),
            Some(RejectReason::StaleTimestamp)
        );
        assert_eq!(reason(auth.check(&hello(NOW - 30_000), NOW)), None);
        assert_eq!(reason(auth.check(&hello(NOW + 30_000), NOW)), None);

        let spoofed = SignedHello {
            from: other.peer_id(),
            ..hello(NOW)
        };
        assert_eq!(
            reason(auth.check(&spoofed, NOW)),
            Some(RejectReason::BadSignature)
        );

        let once = hello(NOW);
        assert_eq!(reason(auth.check(&once, NOW)), None);
        assert_eq!(
            reason(auth.check(&once, NOW + 1)),
            Some(RejectReason::ReplayedNonce)
        );
    }
}
