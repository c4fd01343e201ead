//! The node's network work, one task per request: greetings, liveness
//! PINGs and the BYEs at shutdown. Each task reports one outcome back to
//! the actor (as an [`Input`]); none touches the book or the registry.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tazcom_identity::PeerId;
use tazcom_transport::session::HandshakeError;
use tazcom_transport::{Greeter, TransportError};
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::book::{Check, Greet, GreetKind, GreetOutcome, Input, PingOutcome};
use crate::config::{GreetingPolicy, LivenessPolicy};
use crate::event::GreetFailure;
use crate::metrics::Counters;
use crate::runtime::sessions::Proof;
use crate::runtime::Sessions;

/// Rounds over a probe hint's addresses: the prober's listener is bound
/// before it probes, so a second round only covers a lost SYN or a busy peer.
const HINT_ROUNDS: u32 = 2;
/// Pause before a hint's second round.
const HINT_RETRY: Duration = Duration::from_millis(100);

/// Bound on all BYEs together (they go out in parallel); a peer that does
/// not answer in time still has the mDNS goodbye and its liveness check.
pub(crate) const BYE_BUDGET: Duration = Duration::from_millis(500);

/// What every task needs: who we are on the wire, the policies, counters.
#[derive(Clone)]
pub(crate) struct Net {
    pub greeter: Greeter,
    pub greeting: GreetingPolicy,
    pub liveness: LivenessPolicy,
    pub counters: Arc<Counters>,
    pub sessions: Arc<Sessions>,
}

/// Tries each address in turn, round after round per the greeting policy
/// (2 quick rounds for a probe hint); stops at the first ACK.
pub(crate) async fn greet(net: Net, g: Greet) -> Input {
    let (rounds, pause) = match g.kind {
        GreetKind::Peer => (net.greeting.attempts.max(1), net.greeting.backoff),
        GreetKind::Hint => (HINT_ROUNDS, HINT_RETRY),
    };
    let mut last = (g.addrs[0], GreetFailure::Io);
    for round in 0..rounds {
        if round > 0 {
            let wait = match g.kind {
                GreetKind::Peer => pause * round,
                GreetKind::Hint => pause,
            };
            tokio::time::sleep(wait).await;
        }
        for &addr in &g.addrs {
            Counters::inc(&net.counters.hellos_sent);
            match net.greeter.greet(addr, &g.peer).await {
                Ok(reply) => {
                    Counters::inc(&net.counters.hellos_acked);
                    let verified = reply.is_verified() && proven(&net, g.peer, addr).await;
                    if verified {
                        Counters::inc(&net.counters.hellos_verified);
                    }
                    tracing::debug!(peer = %g.peer, %addr, rtt_us = reply.rtt.as_micros() as u64, verified, "hello acked");
                    let outcome = GreetOutcome::Acked {
                        addr,
                        rtt: reply.rtt,
                        verified,
                    };
                    return greeted(g, outcome);
                }
                Err(e) => {
                    log_failure(g.peer, addr, round, &e);
                    last = (addr, GreetFailure::of(&e));
                }
            }
        }
    }
    if g.kind == GreetKind::Peer {
        Counters::inc(&net.counters.hellos_failed);
        tracing::warn!(peer = %g.peer, addr = %last.0, reason = ?last.1, "could not greet peer");
    }
    let (addr, reason) = last;
    greeted(g, GreetOutcome::Failed { addr, reason })
}

/// After a signed ACK from `addr`: whether a session handshake at `addr`
/// confirms it. A signed ACK only proves the key answered *through* `addr`
/// (a relay can pass it on); the session binds both addresses of the
/// connection. A peer without sessions (it answers the upgrade with `ACK`)
/// keeps the signed greeting's proof.
async fn proven(net: &Net, peer: PeerId, addr: SocketAddr) -> bool {
    match net.sessions.prove(peer, addr).await {
        Proof::Proven | Proof::Unsupported => true,
        Proof::Failed(HandshakeError::AddressMismatch { expected, got }) => {
            Counters::inc(&net.counters.address_mismatches);
            tracing::warn!(peer = %peer, %addr, %expected, %got, "a relay answers for the peer; address not verified");
            false
        }
        Proof::Failed(error) => {
            Counters::inc(&net.counters.proofs_failed);
            tracing::debug!(peer = %peer, %addr, %error, "no session at the greeted address; not verified");
            false
        }
    }
}

fn greeted(g: Greet, outcome: GreetOutcome) -> Input {
    Input::Greeted {
        peer: g.peer,
        token: g.token,
        outcome,
    }
}

/// Logs a failed attempt: a refused proof of identity at `warn` (someone
/// else answers at the peer's address), other failures at `debug`.
fn log_failure(peer: PeerId, addr: SocketAddr, round: u32, error: &TransportError) {
    match error {
        TransportError::AckRejected { .. } => {
            tracing::warn!(peer = %peer, %addr, error = ?error, round, "hello answered by the wrong key");
        }
        _ => tracing::debug!(peer = %peer, %addr, error = ?error, round, "hello failed"),
    }
}

/// Up to `attempts` rounds of PINGs over the addresses. A verified entry
/// must answer with a signed ACK (someone else may hold its old address);
/// an unverified one (a prototype) with any ACK.
pub(crate) async fn check(net: Net, c: Check) -> Input {
    let policy = net.liveness;
    let mut outcome = PingOutcome::Unanswered;
    'rounds: for round in 0..policy.attempts.max(1) {
        if round > 0 {
            tokio::time::sleep(policy.retry_after).await;
        }
        // Over the open session, if any: a keep-alive frame instead of a
        // new TCP connection (the session proved the key).
        if let Ok(Some(link)) = net.sessions.open_link(&c.peer) {
            // Any frame from the peer within the interval (its own
            // keep-alive, a message) already says it is alive.
            if round == 0 && link.since_received() < policy.interval {
                outcome = PingOutcome::Answered;
                break 'rounds;
            }
            Counters::inc(&net.counters.keepalives_sent);
            match link.ping(policy.timeout).await {
                Ok(_) => {
                    outcome = PingOutcome::Answered;
                    break 'rounds;
                }
                Err(e) => {
                    // A session that cannot carry a keep-alive is dead (its
                    // host may have vanished without a FIN): drop it, so
                    // sends dial afresh; the TCP PINGs below decide.
                    tracing::debug!(peer = %c.peer, error = %e, "keep-alive unanswered; session dropped");
                    link.abort();
                }
            }
        }
        for &addr in &c.addrs {
            Counters::inc(&net.counters.pings_sent);
            match timeout(policy.timeout, net.greeter.ping(addr, &c.peer)).await {
                Ok(Ok(reply)) if reply.is_verified() || !c.require_verified => {
                    outcome = PingOutcome::Answered;
                    break 'rounds;
                }
                Ok(Ok(_)) => {
                    tracing::debug!(peer = %c.peer, %addr, "PING answered without proving the key")
                }
                Ok(Err(e)) => tracing::debug!(peer = %c.peer, %addr, error = ?e, "PING failed"),
                Err(_) => {
                    tracing::debug!(peer = %c.peer, %addr, timeout_ms = policy.timeout.as_millis() as u64, "PING unanswered")
                }
            }
        }
    }
    Input::Pinged {
        peer: c.peer,
        started: c.started,
        outcome,
    }
}

/// Sends a BYE to each target (in parallel, each to its addresses in turn
/// until one answers with a signed ACK) and waits at most [`BYE_BUDGET`].
/// Returns how many peers acknowledged.
pub(crate) async fn say_bye(net: &Net, targets: BTreeMap<PeerId, Vec<SocketAddr>>) -> usize {
    let mut byes = JoinSet::new();
    for (peer, addrs) in targets {
        let net = net.clone();
        byes.spawn(async move { bye(&net, peer, &addrs).await });
    }
    let sent = byes.len();
    let mut acked = 0;
    let all = async {
        while let Some(result) = byes.join_next().await {
            acked += usize::from(matches!(result, Ok(true)));
        }
    };
    if timeout(BYE_BUDGET, all).await.is_err() {
        byes.abort_all();
    }
    tracing::debug!(sent, acked, "BYE sent");
    acked
}

async fn bye(net: &Net, peer: PeerId, addrs: &[SocketAddr]) -> bool {
    for &addr in addrs {
        Counters::inc(&net.counters.byes_sent);
        match net.greeter.bye(addr, &peer).await {
            Ok(reply) if reply.is_verified() => {
                Counters::inc(&net.counters.byes_acked);
                return true;
            }
            Ok(_) => tracing::debug!(peer = %peer, %addr, "BYE answered without proof"),
            Err(e) => tracing::debug!(peer = %peer, %addr, error = ?e, "BYE failed"),
        }
    }
    false
}
