//! Probe hints: a peer probing for its DNS-SD records (RFC 6762 §8.1) is
//! starting up, and its probe already names its id, port and address. The
//! node greets it at once, and registers it only when the signed ACK proves
//! the key at that address — the proposed records themselves are never
//! trusted or cached (RFC 6762 §8.2). Saves the ~1 s of probing and
//! announcing before mDNS would report the peer (`docs/discovery.md`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tazcom_discovery::PeerInfo;
use tazcom_registry::{PeerEntry, Source, Upsert};
use tazcom_transport::Greeting;
use tracing::Instrument;

use crate::caps;
use crate::discovery_events::ordered;
use crate::event::NodeEvent;
use crate::greeting;
use crate::metrics::Counters;
use crate::shared::SharedRef;

/// Rounds over the hinted addresses: the prober's listener is bound before
/// it probes, so a second round only covers a lost SYN or a busy peer.
const HINT_ROUNDS: u32 = 2;
/// Pause before the second round.
const HINT_RETRY: Duration = Duration::from_millis(100);

/// Greets the prober unless it is known and verified at these addresses,
/// or a hint greeting to it is already in flight.
pub(crate) fn on_probe(shared: &SharedRef, info: PeerInfo) {
    Counters::inc(&shared.counters.probe_hints);
    let peer = info.peer_id;
    let addrs = ordered(info.addrs.clone());
    if peer == shared.peer_id || addrs.is_empty() || shared.departing.is_cancelled() {
        return;
    }
    let known = shared.registry.get(&peer);
    if known.is_some_and(|k| k.verified && addrs.iter().all(|a| k.addrs.contains(a))) {
        return;
    }
    {
        let mut hinted = shared.hinted();
        if hinted.contains_key(&peer) {
            return;
        }
        hinted.insert(peer, addrs.clone());
    }
    let task_shared = SharedRef::clone(shared);
    let span =
        tracing::debug_span!(parent: shared.tasks.span(), "probe_hint", peer = %peer.short());
    shared.tasks.spawn(
        async move {
            let departing = task_shared.departing.clone();
            tokio::select! {
                () = greet(&task_shared, &info, &addrs) => {
                    task_shared.hinted().remove(&peer);
                }
                // Left in `hinted`: the BYE goes to peers greeted in flight.
                () = departing.cancelled() => {}
            }
        }
        .instrument(span),
    );
}

/// Greets the hinted addresses; a verified ACK registers the peer.
async fn greet(shared: &SharedRef, info: &PeerInfo, addrs: &[SocketAddr]) {
    let peer = info.peer_id;
    for round in 0..HINT_ROUNDS {
        if round > 0 {
            tokio::time::sleep(HINT_RETRY).await;
        }
        for &addr in addrs {
            Counters::inc(&shared.counters.hellos_sent);
            match shared.greeter.greet(addr, &peer).await {
                Ok(reply) if reply.is_verified() => {
                    return confirmed(shared, info, addr, reply).await;
                }
                Ok(_) => {
                    // A prototype (plain ACK): nothing proven; DNS-SD will
                    // report it once it has announced.
                    tracing::debug!(peer = %peer, %addr, "probe hint answered without proof; left to DNS-SD");
                    return;
                }
                Err(e) => {
                    tracing::debug!(peer = %peer, %addr, error = %e, round, "probe hint greeting failed")
                }
            }
        }
    }
    Counters::inc(&shared.counters.probe_hints_unconfirmed);
}

/// The prober proved its key at `addr`: store it (verified, at that one
/// address; DNS-SD adds the rest once it announces) unless the registry
/// already lists that address, then report the ACK (which marks a listed
/// address verified).
async fn confirmed(shared: &SharedRef, info: &PeerInfo, addr: SocketAddr, reply: Greeting) {
    if shared.departed().contains(&info.peer_id) {
        // It said BYE while our greeting was in flight: the ACK came from
        // a node on its way out.
        return;
    }
    if store(shared, info, addr).await {
        shared.greeted().insert(info.peer_id, vec![addr]);
        greeting::acknowledged(shared, info.peer_id, addr, reply).await;
    }
}

/// Adds or moves the peer to `addr`; false if the registry refused.
async fn store(shared: &SharedRef, info: &PeerInfo, addr: SocketAddr) -> bool {
    let peer = info.peer_id;
    let _writes = shared.registry_writes.lock().await;
    if shared
        .registry
        .get(&peer)
        .is_some_and(|known| known.addrs.contains(&addr))
    {
        return true;
    }
    let mut entry = PeerEntry::new(peer, Source::Mdns);
    entry.addrs = vec![addr];
    entry.instance_name = Some(Arc::from(info.instance_name.as_str()));
    entry.capabilities = caps::from_txt(&info.txt);
    entry.verified = true;
    match shared.registry.upsert(entry).await {
        Ok(Upsert::Added) => {
            Counters::inc(&shared.counters.probe_hints_confirmed);
            shared.emit(NodeEvent::Discovered {
                peer,
                addrs: vec![addr],
                source: Source::Mdns,
            });
        }
        Ok(Upsert::Updated) => shared.emit(NodeEvent::Updated {
            peer,
            addrs: vec![addr],
        }),
        Ok(Upsert::Unchanged) => {}
        Err(e) => {
            Counters::inc(&shared.counters.registry_errors);
            tracing::warn!(peer = %peer, error = %e, "registry refused a confirmed probe hint");
            return false;
        }
    }
    true
}
