//! The rules: one function per input (`docs/node.md` states each in prose;
//! `tests.rs` has one table per rule).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tazcom_discovery::PeerInfo;
use tazcom_identity::PeerId;
use tazcom_registry::{PeerEntry, Source};

use super::effect::{Check, Effect, Greet, GreetKind};
use super::input::{GreetOutcome, Input, PingOutcome};
use super::state::{Clock, Hint, InFlightCheck, PeerState};
use super::{
    Now, PeerBook, MAX_CHECKS_IN_FLIGHT, MAX_GREETING_PEERS, MAX_GREETING_PEERS_PER_SOURCE,
};
use crate::caps;
use crate::event::{NodeEvent, RemovalReason};
use crate::metrics::Counters;

impl PeerBook {
    /// Applies one input at `now`; returns what to do, in order.
    pub(crate) fn handle(&mut self, input: Input, now: Now) -> Vec<Effect> {
        let mut out = Vec::new();
        match input {
            Input::Announced { source, info } => self.announced(source, info, now, &mut out),
            Input::Withdrawn { instance, peer } => self.withdrawn(&instance, peer, now, &mut out),
            Input::Probe(info) => self.probe(info, &mut out),
            Input::Hello {
                from,
                remote,
                verified,
                listen_port,
                sent_ms,
            } => {
                let signed = sent_ms.filter(|_| verified);
                self.hello(from, remote, signed, listen_port, now, &mut out)
            }
            Input::Ping {
                from,
                remote,
                listen_port,
                sent_ms,
            } => self.ping(from, remote, listen_port, sent_ms, now, &mut out),
            Input::Bye { from, sent_ms } => self.bye(from, sent_ms, now, &mut out),
            Input::Rejected(rejection) => {
                if matches!(rejection, crate::Rejection::Discovery { .. }) {
                    Counters::inc(&self.counters.discovery_rejected);
                }
                out.push(Effect::Emit(NodeEvent::Rejected(rejection)));
            }
            Input::Greeted {
                peer,
                token,
                outcome,
            } => self.greeted(peer, token, outcome, now, &mut out),
            Input::Pinged {
                peer,
                started,
                outcome,
            } => self.pinged(peer, started, outcome, now, &mut out),
            Input::SessionOpened { peer, proven } => {
                self.session_opened(peer, proven, now, &mut out)
            }
            Input::SessionBroken { peer } => self.session_broken(peer, now, &mut out),
            Input::Tick => self.tick(now, &mut out),
            Input::Leave => self.departing = true,
        }
        out
    }

    /// A peer was announced: store it, report it, greet it if new or moved.
    /// New addresses for a verified peer are only candidates (anyone can
    /// announce any id, issue 13): its verified addresses stay until it
    /// proves its key at a candidate (`acknowledged`).
    fn announced(&mut self, source: Source, info: PeerInfo, now: Now, out: &mut Vec<Effect>) {
        let peer = info.peer_id;
        if peer == self.me || self.departed.contains(&peer, now.at) {
            return;
        }
        let announced = ordered(info.addrs);
        let previous = self.entry(&peer).cloned();
        let held = previous
            .as_ref()
            .filter(|p| p.verified && p.addrs != announced)
            .map(|p| p.addrs.clone());
        let addrs = match &held {
            Some(verified_addrs) => {
                Counters::inc(&self.counters.candidate_addresses);
                self.state(peer).candidate = Some(announced.clone());
                verified_addrs.clone()
            }
            None => {
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.candidate = None;
                }
                announced.clone()
            }
        };
        let entry = PeerEntry {
            peer_id: peer,
            addrs: addrs.clone(),
            instance_name: Some(Arc::from(info.instance_name.as_str())),
            capabilities: caps::from_txt(&info.txt),
            source,
            // A proof of identity holds for the addresses it was made at.
            verified: previous
                .as_ref()
                .is_some_and(|p| p.verified && p.addrs == addrs),
            first_seen_ms: previous.as_ref().map_or(now.unix_ms, |p| p.first_seen_ms),
            last_seen_ms: now.unix_ms,
        };
        let event = match &previous {
            None => Some(NodeEvent::Discovered {
                peer,
                addrs: addrs.clone(),
                source,
            }),
            Some(p) if announcement_changed(p, &entry) => Some(NodeEvent::Updated {
                peer,
                addrs: addrs.clone(),
            }),
            Some(_) => None,
        };
        self.commit(entry, out);
        if previous.is_none() {
            self.heard(peer, now.at, false);
        }
        out.extend(event.map(Effect::Emit));
        self.greet_if_new(peer, &announced, out);
    }

    /// A DNS-SD instance left: remove whoever holds its name, unless that
    /// peer proved its key: anyone can send a goodbye (issue 13, forged
    /// goodbye), so a verified peer is checked at once instead and removed
    /// (`Withdrawn`) only if the check fails.
    fn withdrawn(&mut self, instance: &str, id: Option<PeerId>, now: Now, out: &mut Vec<Effect>) {
        if let Some(id) = &id {
            self.departed.clear(id);
        }
        // The name index may have moved to another peer; then remove by id
        // only if that entry still carries this instance name.
        let holder = self.by_instance.get(instance).copied().or_else(|| {
            id.filter(|id| {
                self.entry(id)
                    .is_some_and(|e| e.instance_name.as_deref() == Some(instance))
            })
        });
        let Some(peer) = holder else {
            tracing::debug!(instance, "removal of an unknown instance");
            return;
        };
        let verified = self.entry(&peer).is_some_and(|e| e.verified);
        if verified && self.liveness.enabled && !self.departing {
            Counters::inc(&self.counters.withdrawals_checked);
            tracing::debug!(peer = %peer, instance, "goodbye for a verified peer; checking it");
            self.start_check(peer, now, true, out);
        } else {
            self.remove(peer, RemovalReason::Withdrawn, out);
        }
    }

    /// A probe hint: greet the prober unless it is known and verified at
    /// these addresses, or a hint greeting to it is already in flight.
    fn probe(&mut self, info: PeerInfo, out: &mut Vec<Effect>) {
        Counters::inc(&self.counters.probe_hints);
        let peer = info.peer_id;
        let addrs = ordered(info.addrs);
        if peer == self.me || addrs.is_empty() || self.departing {
            return;
        }
        let proven = self
            .entry(&peer)
            .is_some_and(|k| k.verified && addrs.iter().all(|a| k.addrs.contains(a)));
        if proven || self.peers.get(&peer).is_some_and(|s| s.hint.is_some()) {
            return;
        }
        // Per source too (issue 13): one packet can name 40 fresh ids, and
        // each hint leads to its sender's IP (discovery keeps only that).
        let from_source = self
            .peers
            .values()
            .filter_map(|s| s.hint.as_ref())
            .filter(|h| {
                h.addrs
                    .iter()
                    .any(|a| addrs.iter().any(|b| a.ip() == b.ip()))
            })
            .count();
        if self.hints >= super::MAX_HINTS_IN_FLIGHT || from_source >= super::MAX_HINTS_PER_SOURCE {
            Counters::inc(&self.counters.probe_hints_dropped);
            return;
        }
        self.hints += 1;
        let token = self.token();
        self.state(peer).hint = Some(Hint {
            token,
            addrs: addrs.clone(),
            instance: Arc::from(info.instance_name.as_str()),
            capabilities: caps::from_txt(&info.txt),
        });
        out.push(Effect::Greet(Greet {
            peer,
            addrs,
            token,
            kind: GreetKind::Hint,
        }));
    }

    /// A HELLO: always reported; registers an unknown sender that proved
    /// its key at an address, refreshes a known one. `signed`: the signed
    /// timestamp of a verified HELLO, `None` for one that proves nothing.
    fn hello(
        &mut self,
        from: PeerId,
        remote: SocketAddr,
        signed: Option<u64>,
        listen_port: Option<u16>,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        Counters::inc(&self.counters.hellos_received);
        let verified = signed.is_some();
        if let Some(sent_ms) = signed {
            Counters::inc(&self.counters.hellos_received_verified);
            self.departed.back(&from, sent_ms);
        }
        // The address the sender signed: its IP as seen by us, its listen port.
        let proven = listen_port
            .filter(|_| verified)
            .map(|port| SocketAddr::new(remote.ip(), port));
        let known = self.entry(&from).cloned();
        let greet_back = match (&known, proven) {
            (None, Some(addr)) => {
                Counters::inc(&self.counters.hellos_from_unknown);
                self.register(from, addr, now, out)
            }
            (None, None) => {
                Counters::inc(&self.counters.hellos_from_unknown);
                // A legacy HELLO proves nothing and names no port: not stored.
                None
            }
            (Some(_), _) => None,
        };
        out.push(Effect::Emit(NodeEvent::HelloReceived {
            peer: from,
            remote,
            verified,
        }));
        if let Some(addr) = greet_back {
            self.greet_if_new(from, &[addr], out);
        }
        if let Some(known) = known {
            // A legacy HELLO is a claim anyone can make (issue 13, legacy
            // keep-alive): it refreshes an unverified peer only when it comes
            // from one of that peer's addresses, and never a verified one.
            let from_its_address = known.addrs.iter().any(|a| a.ip() == remote.ip());
            if !verified && (known.verified || !from_its_address) {
                Counters::inc(&self.counters.legacy_hellos_ignored);
                return;
            }
            self.heard(from, now.at, false);
            let listed = proven.is_some_and(|addr| known.addrs.contains(&addr));
            let refreshed = PeerEntry {
                last_seen_ms: now.unix_ms,
                verified: known.verified || listed,
                ..known
            };
            self.commit(refreshed, out);
        }
    }

    /// A verified PING: the sender is alive; registered if unknown (it may
    /// have been dropped while unreachable for a moment).
    fn ping(
        &mut self,
        from: PeerId,
        remote: SocketAddr,
        listen_port: Option<u16>,
        sent_ms: u64,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        Counters::inc(&self.counters.pings_received);
        self.departed.back(&from, sent_ms);
        if self.entry(&from).is_some() {
            self.heard(from, now.at, false);
        } else if let Some(port) = listen_port {
            let addr = SocketAddr::new(remote.ip(), port);
            if let Some(addr) = self.register(from, addr, now, out) {
                self.greet_if_new(from, &[addr], out);
            }
        }
    }

    /// A verified BYE: the sender is shutting down.
    fn bye(&mut self, from: PeerId, sent_ms: u64, now: Now, out: &mut Vec<Effect>) {
        Counters::inc(&self.counters.byes_received);
        self.departed.mark(from, now.at, sent_ms);
        if self.entry(&from).is_some() {
            self.remove(from, RemovalReason::Bye, out);
        }
    }

    /// A greeting ended. Stale results (the peer was forgotten or greeted
    /// again meanwhile) change nothing.
    fn greeted(
        &mut self,
        peer: PeerId,
        token: u64,
        outcome: GreetOutcome,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.hint.as_ref().is_some_and(|h| h.token == token) {
            let hint = state.hint.take().expect("checked above");
            self.hints -= 1;
            return self.hint_greeted(peer, hint, outcome, now, out);
        }
        if state.greeting != Some(token) {
            return;
        }
        state.greeting = None;
        match outcome {
            GreetOutcome::Acked {
                addr,
                rtt,
                verified,
            } => self.acknowledged(peer, addr, rtt, verified, now, out),
            GreetOutcome::Failed { addr, reason } => {
                state.candidate = None;
                out.push(Effect::Emit(NodeEvent::HelloFailed { peer, addr, reason }))
            }
        }
        self.drop_if_empty(&peer);
    }

    /// A probe hint's greeting ended: a verified ACK stores the prober at
    /// the address that proved it (unless it said BYE meanwhile).
    fn hint_greeted(
        &mut self,
        peer: PeerId,
        hint: Hint,
        outcome: GreetOutcome,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        match outcome {
            GreetOutcome::Acked {
                addr,
                rtt,
                verified: true,
            } if !self.departed.contains(&peer, now.at) => {
                let known = self.entry(&peer).cloned();
                if !known.as_ref().is_some_and(|k| k.addrs.contains(&addr)) {
                    let entry = PeerEntry {
                        peer_id: peer,
                        addrs: vec![addr],
                        instance_name: Some(hint.instance),
                        capabilities: hint.capabilities,
                        source: Source::Mdns,
                        verified: true,
                        first_seen_ms: known.as_ref().map_or(now.unix_ms, |k| k.first_seen_ms),
                        last_seen_ms: now.unix_ms,
                    };
                    self.commit(entry, out);
                    let addrs = vec![addr];
                    out.push(Effect::Emit(if known.is_none() {
                        Counters::inc(&self.counters.probe_hints_confirmed);
                        NodeEvent::Discovered {
                            peer,
                            addrs,
                            source: Source::Mdns,
                        }
                    } else {
                        NodeEvent::Updated { peer, addrs }
                    }));
                }
                self.state(peer).greeted = Some(vec![addr]);
                self.acknowledged(peer, addr, rtt, true, now, out);
            }
            // A prototype (plain ACK) proves nothing: DNS-SD will report it.
            GreetOutcome::Acked { .. } => {}
            GreetOutcome::Failed { .. } => {
                Counters::inc(&self.counters.probe_hints_unconfirmed);
            }
        }
        self.drop_if_empty(&peer);
    }

    /// An ACK to our HELLO: the peer answered; a verified one marks its
    /// entry verified if the entry still lists `addr` (the address that
    /// proved the key).
    fn acknowledged(
        &mut self,
        peer: PeerId,
        addr: SocketAddr,
        rtt: std::time::Duration,
        verified: bool,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        self.heard(peer, now.at, true);
        let candidate = self.peers.get_mut(&peer).and_then(|s| s.candidate.take());
        if let Some(moved) = candidate.filter(|c| verified && c.contains(&addr)) {
            // Proven at an announced address: the announcement replaces the
            // verified addresses.
            if let Some(known) = self.entry(&peer).cloned() {
                let entry = PeerEntry {
                    addrs: moved.clone(),
                    verified: true,
                    ..known
                };
                self.commit(entry, out);
                out.push(Effect::Emit(NodeEvent::Updated { peer, addrs: moved }));
            }
        } else if verified {
            if let Some(known) = self
                .entry(&peer)
                .filter(|k| !k.verified && k.addrs.contains(&addr))
            {
                let entry = PeerEntry {
                    verified: true,
                    ..known.clone()
                };
                self.commit(entry, out);
            }
        }
        out.push(Effect::Emit(NodeEvent::HelloAcked {
            peer,
            addr,
            rtt,
            verified,
        }));
    }

    /// A liveness check ended; an unanswered one removes the peer unless it
    /// changed meanwhile (new addresses, heard from since the check
    /// started) or is static.
    fn pinged(
        &mut self,
        peer: PeerId,
        started: Instant,
        outcome: PingOutcome,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(check) = state.check.take_if(|c| c.started == started) else {
            return;
        };
        if outcome == PingOutcome::Answered {
            self.heard(peer, now.at, true);
            return;
        }
        let heard_since = state.clock.is_some_and(|c| c.last > started);
        let Some(entry) = state.entry.as_ref() else {
            return self.drop_if_empty(&peer);
        };
        if entry.addrs != check.addrs || heard_since {
            return;
        }
        if entry.source == Source::Static {
            tracing::warn!(peer = %peer, "static peer does not answer; kept (it is configured)");
            return;
        }
        if check.withdrawn {
            tracing::info!(peer = %peer, "peer withdrawn and unreachable; removed");
            return self.remove(peer, RemovalReason::Withdrawn, out);
        }
        Counters::inc(&self.counters.peers_unreachable);
        tracing::info!(peer = %peer, "peer unreachable; removed");
        self.remove(peer, RemovalReason::Unreachable, out);
    }

    /// A session proved `peer`'s key, and `proven` as its listen address
    /// (`docs/node.md`, "Verification"): a stored peer is alive, and
    /// verified when `proven` is one of its addresses; an unknown peer is
    /// stored at `proven` as a verified HELLO would store it (not greeted
    /// back: the session already runs both ways).
    fn session_opened(
        &mut self,
        peer: PeerId,
        proven: Option<SocketAddr>,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        let Some(known) = self.entry(&peer).cloned() else {
            if let Some(addr) = proven {
                self.register(peer, addr, now, out);
            }
            return;
        };
        self.heard(peer, now.at, proven.is_some());
        let listed = proven.is_some_and(|addr| known.addrs.contains(&addr));
        if listed && !known.verified {
            let verified = PeerEntry {
                verified: true,
                last_seen_ms: now.unix_ms,
                ..known
            };
            self.commit(verified, out);
        }
    }

    /// A session broke: check the peer now (unless a check is in flight,
    /// liveness is off, or the node is leaving).
    fn session_broken(&mut self, peer: PeerId, now: Now, out: &mut Vec<Effect>) {
        if !self.liveness.enabled || self.departing {
            return;
        }
        self.start_check(peer, now, false, out);
    }

    /// Starts a liveness check of `peer` now, unless one is in flight (a
    /// withdrawal marks that one instead) or it has no address.
    fn start_check(&mut self, peer: PeerId, now: Now, withdrawn: bool, out: &mut Vec<Effect>) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(entry) = state.entry.as_ref().filter(|e| !e.addrs.is_empty()) else {
            return;
        };
        if let Some(check) = state.check.as_mut() {
            check.withdrawn |= withdrawn;
            return;
        }
        let check = Check {
            peer,
            addrs: entry.addrs.clone(),
            require_verified: entry.verified,
            started: now.at,
        };
        state.check = Some(InFlightCheck {
            started: now.at,
            addrs: entry.addrs.clone(),
            withdrawn,
        });
        out.push(Effect::Ping(check));
    }

    /// Starts a check of every stored peer that is due.
    fn tick(&mut self, now: Now, out: &mut Vec<Effect>) {
        if !self.liveness.enabled || self.departing {
            return;
        }
        let mut unclocked = Vec::new();
        let in_flight = self.peers.values().filter(|s| s.check.is_some()).count();
        let mut budget = MAX_CHECKS_IN_FLIGHT.saturating_sub(in_flight);
        for (peer, state) in &mut self.peers {
            let Some(entry) = state.entry.as_ref().filter(|e| !e.addrs.is_empty()) else {
                continue;
            };
            match state.clock {
                None => unclocked.push(*peer),
                Some(clock) if now.at >= clock.due && state.check.is_none() && budget == 0 => {
                    Counters::inc(&self.counters.checks_deferred);
                }
                Some(clock) if now.at >= clock.due && state.check.is_none() => {
                    budget -= 1;
                    state.check = Some(InFlightCheck {
                        started: now.at,
                        addrs: entry.addrs.clone(),
                        withdrawn: false,
                    });
                    out.push(Effect::Ping(Check {
                        peer: *peer,
                        addrs: entry.addrs.clone(),
                        require_verified: entry.verified,
                        started: now.at,
                    }));
                }
                Some(_) => {}
            }
        }
        // A peer never heard from starts its clock now.
        for peer in unclocked {
            self.heard(peer, now.at, true);
        }
    }

    // ---- helpers shared by the rules ----

    /// Stores a peer that proved its key at `addr` before discovery
    /// reported it; returns the address to greet it back at (so both sides
    /// have greeted), `None` when not stored.
    fn register(
        &mut self,
        peer: PeerId,
        addr: SocketAddr,
        now: Now,
        out: &mut Vec<Effect>,
    ) -> Option<SocketAddr> {
        if self.departing || peer == self.me || self.departed.contains(&peer, now.at) {
            return None;
        }
        if let Some(cap) = self.greeting_cap(addr) {
            Counters::inc(&self.counters.greeting_peers_refused);
            tracing::debug!(peer = %peer, %addr, cap, "peer from a greeting not stored: cap reached");
            return None;
        }
        let entry = PeerEntry {
            peer_id: peer,
            addrs: vec![addr],
            instance_name: None,
            capabilities: Default::default(),
            source: Source::Greeting,
            verified: true,
            first_seen_ms: now.unix_ms,
            last_seen_ms: now.unix_ms,
        };
        self.commit(entry, out);
        Counters::inc(&self.counters.peers_from_greetings);
        self.heard(peer, now.at, false);
        out.push(Effect::Emit(NodeEvent::Discovered {
            peer,
            addrs: vec![addr],
            source: Source::Greeting,
        }));
        Some(addr)
    }

    /// The cap a new peer from a greeting at `addr` would exceed, if any:
    /// [`MAX_GREETING_PEERS_PER_SOURCE`] from its IP, [`MAX_GREETING_PEERS`]
    /// in all. A scan of the book: registrations are rate-limited per
    /// source by the transport.
    fn greeting_cap(&self, addr: SocketAddr) -> Option<&'static str> {
        let (mut from_source, mut total) = (0, 0);
        for entry in self.peers.values().filter_map(|s| s.entry.as_ref()) {
            if entry.source != Source::Greeting {
                continue;
            }
            total += 1;
            from_source += usize::from(entry.addrs.iter().any(|a| a.ip() == addr.ip()));
        }
        if from_source >= MAX_GREETING_PEERS_PER_SOURCE {
            Some("per source")
        } else if total >= MAX_GREETING_PEERS {
            Some("total")
        } else {
            None
        }
    }

    /// Greets `peer` at `addrs` unless it was already greeted at this exact
    /// address set, or the node is leaving.
    fn greet_if_new(&mut self, peer: PeerId, addrs: &[SocketAddr], out: &mut Vec<Effect>) {
        if addrs.is_empty() || self.departing {
            return;
        }
        if self.peers.get(&peer).and_then(|s| s.greeted.as_deref()) == Some(addrs) {
            return;
        }
        let token = self.token();
        let state = self.state(peer);
        state.greeted = Some(addrs.to_vec());
        state.greeting = Some(token);
        out.push(Effect::Greet(Greet {
            peer,
            addrs: addrs.to_vec(),
            token,
            kind: GreetKind::Peer,
        }));
    }

    /// Removes a stored peer and forgets what the node keeps about it
    /// (greeted addresses, liveness), so it is greeted again if it returns.
    fn remove(&mut self, peer: PeerId, reason: RemovalReason, out: &mut Vec<Effect>) {
        self.forget(&peer);
        self.set_entry(peer, None);
        out.push(Effect::Remove(peer));
        out.push(Effect::Emit(NodeEvent::Removed { peer, reason }));
    }

    /// Forgets all but a hint in flight (which ends on its own).
    pub(super) fn forget(&mut self, peer: &PeerId) {
        if let Some(state) = self.peers.get_mut(peer) {
            state.greeted = None;
            state.greeting = None;
            state.clock = None;
            state.check = None;
        }
        self.drop_if_empty(peer);
    }

    /// Records `entry` as committed and asks for the commit.
    fn commit(&mut self, entry: PeerEntry, out: &mut Vec<Effect>) {
        self.set_entry(entry.peer_id, Some(entry.clone()));
        out.push(Effect::Upsert(entry));
    }

    /// Sets the book's copy of a peer's entry, keeping the instance index.
    pub(super) fn set_entry(&mut self, peer: PeerId, entry: Option<PeerEntry>) {
        let state = self.peers.entry(peer).or_default();
        let old_name = state.entry.as_ref().and_then(|e| e.instance_name.clone());
        let new_name = entry.as_ref().and_then(|e| e.instance_name.clone());
        state.entry = entry;
        if let Some(old) = old_name.filter(|o| Some(o) != new_name.as_ref()) {
            if self.by_instance.get(&old) == Some(&peer) {
                self.by_instance.remove(&old);
            }
        }
        if let Some(new) = new_name {
            self.by_instance.insert(new, peer);
        }
        self.drop_if_empty(&peer);
    }

    /// The peer was heard from at `at`; `initiative`: it answered us (an ACK
    /// to our HELLO or PING) rather than contacting us.
    fn heard(&mut self, peer: PeerId, at: Instant, initiative: bool) {
        if self.entry(&peer).is_none() {
            return;
        }
        let due = self.next_due(at, initiative);
        self.state(peer).clock = Some(Clock { last: at, due });
    }

    /// When a peer heard from at `at` is next due: after `interval` plus a
    /// random 0–20 % of it if we checked it (`initiative`), a quarter
    /// interval later if it checked us.
    fn next_due(&mut self, at: Instant, initiative: bool) -> Instant {
        let interval = self.liveness.interval;
        let spread = u64::try_from(interval.as_millis() / 5).unwrap_or(u64::MAX);
        let jitter = self.rng.next_u64() % spread.saturating_add(1);
        let wait = if initiative {
            interval
        } else {
            interval + interval / 4
        };
        at + wait + std::time::Duration::from_millis(jitter)
    }

    fn state(&mut self, peer: PeerId) -> &mut PeerState {
        self.peers.entry(peer).or_default()
    }

    fn drop_if_empty(&mut self, peer: &PeerId) {
        if self.peers.get(peer).is_some_and(PeerState::is_empty) {
            self.peers.remove(peer);
        }
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }
}

/// Whether an announcement changed what the node reports about a peer
/// (not the timestamps, nor `verified`, which only greetings change).
fn announcement_changed(before: &PeerEntry, after: &PeerEntry) -> bool {
    before.addrs != after.addrs
        || before.instance_name != after.instance_name
        || before.capabilities != after.capabilities
        || before.source != after.source
}

/// IPv4 addresses first (the prototype listens on IPv4), order otherwise
/// kept, duplicates dropped.
pub(crate) fn ordered(mut addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    addrs.sort_by_key(SocketAddr::is_ipv6);
    let mut seen = std::collections::HashSet::with_capacity(addrs.len());
    addrs.retain(|a| seen.insert(*a));
    addrs
}
