//! Server side of the signed requests: the checks a signed HELLO
//! (`docs/wire.md` §3.6), PING or BYE (§3.7) must pass before it is
//! answered with a signed ACK over its nonce.

use std::sync::{Arc, Mutex, PoisonError};

use tazcom_identity::{Identity, KeyCache, PeerId};

use crate::config::TransportConfig;
use crate::limits::GlobalRate;
use crate::replay::{ReplayCache, Seen};
use crate::signed::{SignedAck, SignedMessage};
use crate::stats::RejectReason;

/// The server's identity and replay cache (one cache for all signed
/// requests: a (sender, nonce) pair is accepted once, whatever the type).
#[derive(Debug)]
pub(crate) struct Authenticator {
    identity: Arc<Identity>,
    own_id: PeerId,
    window_ms: u64,
    replay: Mutex<ReplayCache>,
    /// Decoded keys of recent senders (a greeting's verification cost).
    keys: KeyCache,
    /// Verifications per second, all sources (`verify_rate_per_sec`).
    verifications: GlobalRate,
    /// Requests signed before this (unix ms) are refused: the replay cache
    /// is in memory, so one accepted by a previous run of this server
    /// could otherwise be accepted again after a restart.
    not_before_ms: u64,
}

/// How far before the server's start a request may be signed and still be
/// accepted: the clock difference between two LAN hosts (NTP keeps it in
/// milliseconds). Replaying across a restart is possible only for a
/// request signed in this last second before it, instead of the whole
/// 30 s window (`docs/security.md`, "Gaps").
const STARTUP_SKEW_MS: u64 = 1000;

/// Decoded sender keys kept (per server; bounded, see [`KeyCache`]).
const KEY_CACHE_CAPACITY: usize = 1024;

/// A signed request that passed every check.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// The signed ACK line to send back (newline included).
    pub(crate) reply: String,
}

impl Authenticator {
    pub(crate) fn new(identity: Arc<Identity>, config: &TransportConfig) -> Authenticator {
        Authenticator::started_at(identity, config, crate::signed::unix_ms_now())
    }

    /// As [`new`](Self::new), for a server started at `start_ms` (unix ms).
    pub(crate) fn started_at(
        identity: Arc<Identity>,
        config: &TransportConfig,
        start_ms: u64,
    ) -> Authenticator {
        Authenticator {
            not_before_ms: start_ms.saturating_sub(STARTUP_SKEW_MS),
            own_id: identity.peer_id(),
            identity,
            window_ms: u64::try_from(config.timestamp_window.as_millis()).unwrap_or(u64::MAX),
            replay: Mutex::new(ReplayCache::new(config.replay_cache_capacity)),
            keys: KeyCache::new(KEY_CACHE_CAPACITY),
            verifications: GlobalRate::new(config.verify_rate_per_sec, std::time::Instant::now()),
        }
    }

    pub(crate) fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    /// Runs the checks in order, cheapest first: addressee, timestamp,
    /// signature, replay. The nonce is recorded only once the signature
    /// holds, so forged requests cannot fill the cache. A message without
    /// a timestamp (an ACK) is never fresh.
    pub(crate) fn check(
        &self,
        request: &impl SignedMessage,
        now_ms: u64,
    ) -> Result<Admitted, (RejectReason, String)> {
        let parts = request.parts();
        let (from, to, nonce) = (parts.from, parts.to, parts.nonce);
        if to != self.own_id {
            let detail = format!("addressed to {to}, this node is {}", self.own_id);
            return Err((RejectReason::WrongAddressee, detail));
        }
        let ts_ms = parts.ts_ms.unwrap_or(0);
        let skew_ms = now_ms.abs_diff(ts_ms);
        if ts_ms < self.not_before_ms {
            let detail = format!(
                "ts {ts_ms} is before this server started ({} ms)",
                self.not_before_ms + STARTUP_SKEW_MS
            );
            return Err((RejectReason::StaleTimestamp, detail));
        }
        if parts.ts_ms.is_none() || skew_ms > self.window_ms {
            let detail = format!(
                "ts {ts_ms} is {skew_ms} ms from this node's clock ({now_ms}); the window is ±{} ms",
                self.window_ms
            );
            return Err((RejectReason::StaleTimestamp, detail));
        }
        if !self.verifications.allow(std::time::Instant::now()) {
            let detail = "verifications of all sources over verify_rate_per_sec".to_owned();
            return Err((RejectReason::VerifyRateLimited, detail));
        }
        if let Err(error) = request.verify_signature_with(&self.keys) {
            return Err((RejectReason::BadSignature, error.to_string()));
        }
        let expires_ms = ts_ms.saturating_add(self.window_ms);
        let seen = self
            .replay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(from, nonce, expires_ms, now_ms);
        match seen {
            Seen::Replayed => {
                let detail = format!("nonce {nonce} from {from} was already accepted");
                return Err((RejectReason::ReplayedNonce, detail));
            }
            Seen::Full => {
                let detail = "replay cache full of live entries (never evicted)".to_owned();
                return Err((RejectReason::ReplayCacheFull, detail));
            }
            Seen::Fresh => {}
        }
        let ack = SignedAck::sign(&self.identity, from, nonce);
        let mut reply = crate::signed::encode(&ack);
        reply.push('\n');
        Ok(Admitted { reply })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::{SignedBye, SignedPing};
    use crate::signed::{Nonce, SignedHello};
    use std::time::Duration;

    const NOW: u64 = 1_700_000_000_000;

    fn server() -> (Authenticator, Identity) {
        let id = Identity::from_seed([1; 32]);
        let config = TransportConfig::default().with_timestamp_window(Duration::from_secs(30));
        // Started a minute before the requests of these tests.
        let auth = Authenticator::started_at(Arc::new(id.clone()), &config, NOW - 60_000);
        (auth, id)
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
        let crate::wire::ParsedLine::Message(crate::wire::Message::SignedAck(ack)) =
            crate::wire::ParsedLine::parse(admitted.reply.trim_end()).unwrap()
        else {
            panic!("not a signed ACK: {}", admitted.reply);
        };
        assert_eq!(
            (ack.from, ack.to, ack.nonce),
            (server_id.peer_id(), client.peer_id(), hello.nonce)
        );
        assert!(ack.verify_signature().is_ok());
    }

    /// Issue 13, CPU: forced verifications have a global bound, whatever
    /// the number of sources (each client here is a different sender).
    #[test]
    fn verifications_beyond_the_global_rate_are_refused_unchecked() {
        let server_id = Identity::from_seed([1; 32]);
        let config = TransportConfig::default().with_verify_rate_per_sec(3);
        let auth = Authenticator::started_at(Arc::new(server_id.clone()), &config, NOW - 60_000);
        let to = server_id.peer_id();
        let outcomes: Vec<_> = (10u8..15)
            .map(|seed| {
                let client = Identity::from_seed([seed; 32]);
                reason(auth.check(
                    &SignedHello::sign(&client, to, Nonce::random(), NOW, 1),
                    NOW,
                ))
            })
            .collect();
        let limited = Some(RejectReason::VerifyRateLimited);
        assert_eq!(outcomes, [None, None, None, limited, limited]);
        // A request that fails a cheaper check takes no token.
        let other = Identity::from_seed([3; 32]);
        let wrong_to = SignedHello::sign(&other, other.peer_id(), Nonce::random(), NOW, 1);
        assert_eq!(
            reason(auth.check(&wrong_to, NOW)),
            Some(RejectReason::WrongAddressee)
        );
    }

    /// Issue 13, replay across a restart: the replay cache starts empty, so
    /// a request signed before the server started (beyond 1 s of clock
    /// difference) is refused as stale, however fresh its timestamp is for
    /// the window.
    #[test]
    fn a_request_signed_before_the_server_started_is_refused() {
        let server_id = Identity::from_seed([1; 32]);
        let config = TransportConfig::default();
        let restarted = Authenticator::started_at(Arc::new(server_id.clone()), &config, NOW);
        let client = Identity::from_seed([2; 32]);
        let to = server_id.peer_id();
        let captured = SignedHello::sign(&client, to, Nonce::random(), NOW - 5_000, 1);
        assert_eq!(
            reason(restarted.check(&captured, NOW + 1)),
            Some(RejectReason::StaleTimestamp)
        );
        let skewed = SignedHello::sign(&client, to, Nonce::random(), NOW - 900, 1);
        assert_eq!(
            reason(restarted.check(&skewed, NOW + 1)),
            None,
            "within 1 s"
        );
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

    #[test]
    fn pings_and_byes_pass_the_same_checks() {
        let (auth, server_id) = server();
        let client = Identity::from_seed([2; 32]);
        let other = Identity::from_seed([3; 32]).peer_id();
        let to = server_id.peer_id();
        let ping = |to, ts| SignedPing::sign(&client, to, Nonce::random(), ts, 1);
        let bye = |to, ts| SignedBye::sign(&client, to, Nonce::random(), ts);

        assert_eq!(
            reason(auth.check(&ping(other, NOW), NOW)),
            Some(RejectReason::WrongAddressee)
        );
        assert_eq!(
            reason(auth.check(&bye(other, NOW), NOW)),
            Some(RejectReason::WrongAddressee)
        );
        assert_eq!(
            reason(auth.check(&ping(to, NOW - 30_001), NOW)),
            Some(RejectReason::StaleTimestamp)
        );
        assert_eq!(
            reason(auth.check(&bye(to, NOW + 30_001), NOW)),
            Some(RejectReason::StaleTimestamp)
        );
        let forged_ping = SignedPing {
            port: 2,
            ..ping(to, NOW)
        };
        assert_eq!(
            reason(auth.check(&forged_ping, NOW)),
            Some(RejectReason::BadSignature)
        );
        let forged_bye = SignedBye {
            ts_ms: NOW + 1,
            ..bye(to, NOW)
        };
        assert_eq!(
            reason(auth.check(&forged_bye, NOW)),
            Some(RejectReason::BadSignature)
        );
        let (once_ping, once_bye) = (ping(to, NOW), bye(to, NOW));
        assert_eq!(reason(auth.check(&once_ping, NOW)), None);
        assert_eq!(reason(auth.check(&once_bye, NOW)), None);
        assert_eq!(
            reason(auth.check(&once_ping, NOW)),
            Some(RejectReason::ReplayedNonce)
        );
        assert_eq!(
            reason(auth.check(&once_bye, NOW)),
            Some(RejectReason::ReplayedNonce)
        );
    }

    #[test]
    fn a_ping_or_bye_is_acked_with_its_nonce_and_shares_the_replay_cache() {
        let (auth, server_id) = server();
        let client = Identity::from_seed([2; 32]);
        let nonce = Nonce::random();
        let ping = SignedPing::sign(&client, server_id.peer_id(), nonce, NOW, 1);
        let admitted = auth.check(&ping, NOW).unwrap();
        let expected = SignedAck::sign(&server_id, client.peer_id(), nonce);
        assert_eq!(
            crate::wire::ParsedLine::parse(admitted.reply.trim_end()),
            Ok(crate::wire::ParsedLine::Message(
                crate::wire::Message::SignedAck(expected)
            ))
        );
        // One (sender, nonce) pair is accepted once, whatever the type.
        let bye = SignedBye::sign(&client, server_id.peer_id(), nonce, NOW);
        assert_eq!(
            reason(auth.check(&bye, NOW)),
            Some(RejectReason::ReplayedNonce)
        );
    }
}
