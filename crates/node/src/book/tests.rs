//! Table tests of the book's rules (`docs/node.md`): no sockets, no
//! sleeps; time is an argument and the jitter comes from a fixed RNG.
//!
//! Each table is a list of cases: a script of inputs ([`Step`]s), the
//! effects the last step must return (as short strings, see [`shape`]),
//! the counters the last step must move, and optional further checks of
//! the effects or of the book's state. Every assertion names its case.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use tazcom_discovery::PeerInfo;
use tazcom_identity::PeerId;
use tazcom_registry::{PeerEntry, Source};

use super::*;
use crate::config::LivenessPolicy;
use crate::event::{GreetFailure, NodeEvent};
use crate::metrics::Counters;

/// An RNG that always draws `0`: no jitter.
struct NoJitter;

impl RngCore for NoJitter {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        dest.fill(0);
        Ok(())
    }
}

/// An RNG that always draws the same value: a known jitter (the book takes
/// the draw modulo 20 % of the interval + 1 ms).
struct Fixed(u64);

impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        self.0 as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(self.0 as u8);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

const fn peer(byte: u8) -> PeerId {
    PeerId::from_bytes([byte; 32])
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn book() -> PeerBook {
    PeerBook::new(
        peer(0),
        LivenessPolicy::default(),
        Box::new(NoJitter),
        Arc::new(Counters::default()),
    )
}

fn at(base: Instant, ms: u64) -> Now {
    Now {
        at: base + Duration::from_millis(ms),
        unix_ms: 1_000_000 + ms,
    }
}

/// The Unix time of `at(_, ms)`.
const fn unix(ms: u64) -> u64 {
    1_000_000 + ms
}

/// This node.
const ME: PeerId = peer(0);
/// The peer most cases are about.
const P: PeerId = peer(1);
/// A second peer.
const Q: PeerId = peer(2);
/// A third peer.
const R: PeerId = peer(3);

const fn v4(last: u8, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port))
}

/// `P`'s listener as seen from here (`REMOTE`'s IP, port 7000).
const A: SocketAddr = v4(1, 7000);
const B: SocketAddr = v4(2, 7000);
const C: SocketAddr = v4(3, 7000);
const V6: SocketAddr = SocketAddr::V6(SocketAddrV6::new(
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    7000,
    0,
    0,
));
/// The source of `P`'s connections: `A`'s IP, an ephemeral port.
const REMOTE: SocketAddr = v4(1, 50_000);
/// The listen port `P` signs.
const PORT: Option<u16> = Some(7000);

/// The DNS-SD instance name `announce` and `probe` use for a peer.
fn name(p: PeerId) -> String {
    format!("node-{}", p.as_bytes()[0])
}

fn info(p: PeerId, addrs: &[SocketAddr], instance: &str) -> PeerInfo {
    PeerInfo {
        peer_id: p,
        addrs: addrs.to_vec(),
        instance_name: instance.to_owned(),
        txt: BTreeMap::new(),
    }
}

/// A registry entry as the registry might hold it (for `resync`).
fn entry(p: PeerId, addrs: &[SocketAddr], verified: bool) -> PeerEntry {
    PeerEntry {
        peer_id: p,
        addrs: addrs.to_vec(),
        instance_name: Some(Arc::from(name(p).as_str())),
        capabilities: Default::default(),
        source: Source::Mdns,
        verified,
        first_seen_ms: unix(0),
        last_seen_ms: unix(0),
    }
}

/// One step of a case's script.
#[derive(Debug, Clone)]
enum Step {
    /// An input, `ms` after the start.
    In(u64, Input),
    /// At `ms`, the result of the `n`th greeting started so far (0-based,
    /// either kind).
    Greeted(u64, usize, GreetOutcome),
    /// At `ms`, the result of the `n`th liveness check started so far.
    Pinged(u64, usize, PingOutcome),
    /// At `ms`, a result for a check of `peer` said to have started at
    /// `started` ms (a stale one).
    PingedAt(u64, PeerId, u64, PingOutcome),
    /// The registry refused a commit and holds this entry.
    Resync(PeerId, Option<PeerEntry>),
}

fn announce(ms: u64, p: PeerId, addrs: &[SocketAddr]) -> Step {
    announce_as(ms, Source::Mdns, info(p, addrs, &name(p)))
}

fn announce_as(ms: u64, source: Source, info: PeerInfo) -> Step {
    Step::In(ms, Input::Announced { source, info })
}

fn withdrawn(ms: u64, instance: &str, peer: Option<PeerId>) -> Step {
    Step::In(
        ms,
        Input::Withdrawn {
            instance: instance.to_owned(),
            peer,
        },
    )
}

/// A probe hint from `p` (TXT `v=1`).
fn probe(ms: u64, p: PeerId, addrs: &[SocketAddr]) -> Step {
    let mut info = info(p, addrs, &name(p));
    info.txt.insert("v".to_owned(), "1".to_owned());
    Step::In(ms, Input::Probe(info))
}

/// A HELLO from `p`, connecting from `REMOTE`.
fn hello(ms: u64, p: PeerId, verified: bool, listen_port: Option<u16>) -> Step {
    Step::In(
        ms,
        Input::Hello {
            from: p,
            remote: REMOTE,
            verified,
            listen_port,
            // Signed by the peer's clock, here the test's.
            sent_ms: verified.then_some(ms),
        },
    )
}

/// A verified PING from `p`, connecting from `REMOTE`.
fn ping(ms: u64, p: PeerId, listen_port: Option<u16>) -> Step {
    Step::In(
        ms,
        Input::Ping {
            from: p,
            remote: REMOTE,
            listen_port,
            sent_ms: ms,
        },
    )
}

/// A verified HELLO from `p` arriving at `ms` that it signed at `sent_ms`.
fn signed_hello(ms: u64, p: PeerId, sent_ms: u64, listen_port: Option<u16>) -> Step {
    Step::In(
        ms,
        Input::Hello {
            from: p,
            remote: REMOTE,
            verified: true,
            listen_port,
            sent_ms: Some(sent_ms),
        },
    )
}

/// A verified PING from `p` arriving at `ms` that it signed at `sent_ms`.
fn signed_ping(ms: u64, p: PeerId, sent_ms: u64, listen_port: Option<u16>) -> Step {
    Step::In(
        ms,
        Input::Ping {
            from: p,
            remote: REMOTE,
            listen_port,
            sent_ms,
        },
    )
}

fn bye(ms: u64, p: PeerId) -> Step {
    Step::In(
        ms,
        Input::Bye {
            from: p,
            sent_ms: ms,
        },
    )
}

fn tick(ms: u64) -> Step {
    Step::In(ms, Input::Tick)
}

fn leave(ms: u64) -> Step {
    Step::In(ms, Input::Leave)
}

fn acked(addr: SocketAddr, verified: bool) -> GreetOutcome {
    GreetOutcome::Acked {
        addr,
        rtt: Duration::from_millis(1),
        verified,
    }
}

fn failed(addr: SocketAddr) -> GreetOutcome {
    GreetOutcome::Failed {
        addr,
        reason: GreetFailure::TimedOut,
    }
}

/// A book, its counters, and what it asked for so far.
struct Run {
    book: PeerBook,
    counters: Arc<Counters>,
    base: Instant,
    greets: Vec<Greet>,
    checks: Vec<Check>,
}

impl Run {
    /// The default policy, no jitter.
    fn new() -> Self {
        Self::with(LivenessPolicy::default(), Box::new(NoJitter))
    }

    fn with(liveness: LivenessPolicy, rng: Box<dyn RngCore + Send>) -> Self {
        let counters = Arc::new(Counters::default());
        Self {
            book: PeerBook::new(ME, liveness, rng, Arc::clone(&counters)),
            counters,
            base: Instant::now(),
            greets: Vec::new(),
            checks: Vec::new(),
        }
    }

    fn step(&mut self, step: &Step) -> Vec<Effect> {
        let (ms, input) = match step {
            Step::In(ms, input) => (*ms, input.clone()),
            Step::Greeted(ms, n, outcome) => {
                let greet = &self.greets[*n];
                let input = Input::Greeted {
                    peer: greet.peer,
                    token: greet.token,
                    outcome: *outcome,
                };
                (*ms, input)
            }
            Step::Pinged(ms, n, outcome) => {
                let check = &self.checks[*n];
                let input = Input::Pinged {
                    peer: check.peer,
                    started: check.started,
                    outcome: *outcome,
                };
                (*ms, input)
            }
            Step::PingedAt(ms, peer, started, outcome) => {
                let input = Input::Pinged {
                    peer: *peer,
                    started: self.base + Duration::from_millis(*started),
                    outcome: *outcome,
                };
                (*ms, input)
            }
            Step::Resync(peer, current) => {
                self.book.resync(*peer, current.clone().map(Arc::new));
                return Vec::new();
            }
        };
        let effects = self.book.handle(input, at(self.base, ms));
        for effect in &effects {
            match effect {
                Effect::Greet(g) => self.greets.push(g.clone()),
                Effect::Ping(c) => self.checks.push(c.clone()),
                _ => {}
            }
        }
        effects
    }

    /// Every counter, by name.
    fn counts(&self) -> BTreeMap<&'static str, u64> {
        let c = &*self.counters;
        [
            ("hellos_sent", &c.hellos_sent),
            ("hellos_acked", &c.hellos_acked),
            ("hellos_verified", &c.hellos_verified),
            ("hellos_failed", &c.hellos_failed),
            ("hellos_received", &c.hellos_received),
            ("hellos_received_verified", &c.hellos_received_verified),
            ("hellos_from_unknown", &c.hellos_from_unknown),
            ("discovery_rejected", &c.discovery_rejected),
            ("registry_errors", &c.registry_errors),
            ("peers_from_greetings", &c.peers_from_greetings),
            ("probe_hints", &c.probe_hints),
            ("probe_hints_confirmed", &c.probe_hints_confirmed),
            ("probe_hints_unconfirmed", &c.probe_hints_unconfirmed),
            ("probe_hints_dropped", &c.probe_hints_dropped),
            ("pings_sent", &c.pings_sent),
            ("pings_received", &c.pings_received),
            ("peers_unreachable", &c.peers_unreachable),
            ("byes_sent", &c.byes_sent),
            ("byes_acked", &c.byes_acked),
            ("byes_received", &c.byes_received),
            ("withdrawals_checked", &c.withdrawals_checked),
            ("legacy_hellos_ignored", &c.legacy_hellos_ignored),
            ("greeting_peers_refused", &c.greeting_peers_refused),
            ("checks_deferred", &c.checks_deferred),
            ("candidate_addresses", &c.candidate_addresses),
        ]
        .into_iter()
        .map(|(name, counter)| (name, counter.load(Relaxed)))
        .collect()
    }

    /// The entry the book holds for `p`; panics naming the case if none.
    fn stored(&self, case: &str, p: PeerId) -> &PeerEntry {
        self.book
            .entry(&p)
            .unwrap_or_else(|| panic!("case {case:?}: {} is not stored", p.short()))
    }
}

/// Effects as short strings: `upsert [verified]`, `remove`, `greet
/// peer|hint`, `ping [verified]` (a verified ACK required), and the events
/// `discovered <source>`, `updated`, `removed <reason>`, `acked
/// [verified]`, `failed`, `hello [verified]`. An effect about another peer
/// than `P` ends with ` @<its first byte>`.
fn shape(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|effect| {
            let what = match effect {
                Effect::Upsert(e) if e.verified => "upsert verified".to_owned(),
                Effect::Upsert(_) => "upsert".to_owned(),
                Effect::Remove(_) => "remove".to_owned(),
                Effect::Greet(g) => match g.kind {
                    GreetKind::Peer => "greet peer".to_owned(),
                    GreetKind::Hint => "greet hint".to_owned(),
                },
                Effect::Ping(c) if c.require_verified => "ping verified".to_owned(),
                Effect::Ping(_) => "ping".to_owned(),
                Effect::Emit(event) => match event {
                    NodeEvent::Discovered { source, .. } => {
                        format!("discovered {}", source.as_str())
                    }
                    NodeEvent::Updated { .. } => "updated".to_owned(),
                    NodeEvent::Removed { reason, .. } => format!("removed {}", reason.as_str()),
                    NodeEvent::HelloAcked { verified: true, .. } => "acked verified".to_owned(),
                    NodeEvent::HelloAcked { .. } => "acked".to_owned(),
                    NodeEvent::HelloFailed { .. } => "failed".to_owned(),
                    NodeEvent::HelloReceived { verified: true, .. } => "hello verified".to_owned(),
                    NodeEvent::HelloReceived { .. } => "hello".to_owned(),
                    other => format!("{other:?}"),
                },
            };
            match effect.peer() {
                Some(p) if p != P => format!("{what} @{}", p.as_bytes()[0]),
                _ => what,
            }
        })
        .collect()
}

/// Further checks of a case: its name, the run after the last step, and
/// the last step's effects.
type Extra = fn(&str, &Run, &[Effect]);

struct Case {
    name: &'static str,
    make: fn() -> Run,
    steps: Vec<Step>,
    effects: &'static [&'static str],
    counted: &'static [(&'static str, u64)],
    extra: Extra,
}

/// A case on a default book: `steps`, then the last step's `effects` and
/// the counters it moved (`counted`, by how much; all others unmoved).
fn case(
    name: &'static str,
    steps: Vec<Step>,
    effects: &'static [&'static str],
    counted: &'static [(&'static str, u64)],
) -> Case {
    Case {
        name,
        make: Run::new,
        steps,
        effects,
        counted,
        extra: |_, _, _| {},
    }
}

impl Case {
    /// Also checks this after the last step.
    fn then(mut self, extra: Extra) -> Self {
        self.extra = extra;
        self
    }

    /// On this book instead of the default one.
    fn on(mut self, make: fn() -> Run) -> Self {
        self.make = make;
        self
    }
}

fn run_table(cases: Vec<Case>) {
    for case in cases {
        let mut run = (case.make)();
        let (last, setup) = case.steps.split_last().expect("a case has steps");
        for step in setup {
            run.step(step);
        }
        let before = run.counts();
        let effects = run.step(last);
        let counted: BTreeMap<&str, u64> = run
            .counts()
            .into_iter()
            .map(|(name, n)| (name, n - before[name]))
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(
            shape(&effects),
            case.effects,
            "case {:?}: effects {effects:#?}",
            case.name
        );
        let expected: BTreeMap<&str, u64> = case.counted.iter().copied().collect();
        assert_eq!(counted, expected, "case {:?}: counters", case.name);
        (case.extra)(case.name, &run, &effects);
    }
}

/// The only greeting among `effects`.
fn the_greet<'a>(case: &str, effects: &'a [Effect]) -> &'a Greet {
    let greets: Vec<&Greet> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Greet(g) => Some(g),
            _ => None,
        })
        .collect();
    assert_eq!(greets.len(), 1, "case {case:?}: one greeting");
    greets[0]
}

/// The only liveness check among `effects`.
fn the_check<'a>(case: &str, effects: &'a [Effect]) -> &'a Check {
    let checks: Vec<&Check> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Ping(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(checks.len(), 1, "case {case:?}: one check");
    checks[0]
}

/// The events among `effects`.
fn events(effects: &[Effect]) -> Vec<&NodeEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit(event) => Some(event),
            _ => None,
        })
        .collect()
}

#[test]
fn addresses_are_ordered_ipv4_first_without_duplicates() {
    let v6 = addr("[::1]:1");
    let a = addr("10.0.0.1:1");
    let b = addr("10.0.0.2:1");
    let cases = [
        ("v6 then v4", vec![v6, a], vec![a, v6]),
        ("duplicates dropped", vec![a, v6, a, b], vec![a, b, v6]),
        ("v4 order kept", vec![b, a], vec![b, a]),
        ("empty", vec![], vec![]),
    ];
    for (name, given, expected) in cases {
        assert_eq!(rules::ordered(given), expected, "case {name:?}");
    }
}

#[test]
fn bye_targets_skip_unverified_entries() {
    let mut book = book();
    let base = Instant::now();
    let effects = book.handle(
        Input::Hello {
            from: peer(1),
            remote: addr("10.0.0.1:50000"),
            verified: true,
            listen_port: Some(7000),
            sent_ms: Some(0),
        },
        at(base, 0),
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::Upsert(_))));
    let targets = book.bye_targets();
    assert_eq!(targets.get(&peer(1)), Some(&vec![addr("10.0.0.1:7000")]));
}

/// Rule 1: `Announced`.
#[test]
fn announcements_store_new_peers_and_greet_each_address_set_once() {
    const NEW: &[&str] = &["upsert", "discovered mdns", "greet peer"];
    run_table(vec![
        case(
            "our own id is ignored",
            vec![announce(0, ME, &[A])],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&ME).is_none(), "case {name:?}")),
        case(
            "a new peer is stored, reported and greeted",
            vec![announce(0, P, &[A])],
            NEW,
            &[],
        )
        .then(|name, run, effects| {
            let e = run.stored(name, P);
            assert_eq!(e.addrs, [A], "case {name:?}");
            assert_eq!(e.source, Source::Mdns, "case {name:?}");
            assert!(!e.verified, "case {name:?}: a claim until greeted");
            assert_eq!(e.instance_name.as_deref(), Some("node-1"), "case {name:?}");
            assert_eq!(e.first_seen_ms, unix(0), "case {name:?}");
            assert_eq!(e.last_seen_ms, unix(0), "case {name:?}");
            assert_eq!(
                events(effects),
                [&NodeEvent::Discovered {
                    peer: P,
                    addrs: vec![A],
                    source: Source::Mdns,
                }],
                "case {name:?}"
            );
            let g = the_greet(name, effects);
            assert_eq!((g.peer, &g.addrs[..]), (P, &[A][..]), "case {name:?}");
        }),
        case(
            "a static peer is reported with its source",
            vec![announce_as(0, Source::Static, info(P, &[A], "static:1"))],
            &["upsert", "discovered static", "greet peer"],
            &[],
        ),
        case(
            "addresses: IPv4 first, duplicates dropped",
            vec![announce(0, P, &[V6, A, B, A, V6])],
            NEW,
            &[],
        )
        .then(|name, run, effects| {
            assert_eq!(run.stored(name, P).addrs, [A, B, V6], "case {name:?}");
            assert_eq!(the_greet(name, effects).addrs, [A, B, V6], "case {name:?}");
        }),
        case(
            "identical re-announcement: upsert only, last_seen refreshed",
            vec![announce(0, P, &[A]), announce(1000, P, &[A])],
            &["upsert"],
            &[],
        )
        .then(|name, run, _| {
            let e = run.stored(name, P);
            assert_eq!(e.first_seen_ms, unix(0), "case {name:?}");
            assert_eq!(e.last_seen_ms, unix(1000), "case {name:?}");
        }),
        case(
            "same set in another order is identical",
            vec![announce(0, P, &[A, V6]), announce(1000, P, &[V6, A])],
            &["upsert"],
            &[],
        ),
        case(
            "changed addresses of an unverified peer: updated, greeted at the new set",
            vec![
                announce(0, P, &[A]),
                Step::Greeted(100, 0, acked(A, false)),
                announce(1000, P, &[B]),
            ],
            &["upsert", "updated", "greet peer"],
            &[],
        )
        .then(|name, run, effects| {
            let e = run.stored(name, P);
            assert_eq!(e.addrs, [B], "case {name:?}");
            assert!(!e.verified, "case {name:?}: nothing was proven");
            assert_eq!(e.first_seen_ms, unix(0), "case {name:?}: first_seen kept");
            assert_eq!(e.last_seen_ms, unix(1000), "case {name:?}");
            assert_eq!(
                events(effects),
                [&NodeEvent::Updated {
                    peer: P,
                    addrs: vec![B],
                }],
                "case {name:?}"
            );
            assert_eq!(the_greet(name, effects).addrs, [B], "case {name:?}");
        }),
        case(
            "same addresses keep verified",
            vec![
                announce(0, P, &[A]),
                Step::Greeted(100, 0, acked(A, true)),
                announce(2000, P, &[A]),
            ],
            &["upsert verified"],
            &[],
        )
        .then(|name, run, _| {
            assert_eq!(run.stored(name, P).first_seen_ms, unix(0), "case {name:?}");
        }),
        case(
            "changed TXT: updated, not greeted again",
            vec![announce(0, P, &[A]), {
                let mut info = info(P, &[A], "node-1");
                info.txt.insert("caps".to_owned(), "validator".to_owned());
                announce_as(1000, Source::Mdns, info)
            }],
            &["upsert", "updated"],
            &[],
        )
        .then(|name, run, _| {
            assert!(run.stored(name, P).capabilities.validator, "case {name:?}");
        }),
        case(
            "DNS-SD completes a greeting's entry at the proven address",
            vec![hello(0, P, true, PORT), announce(1000, P, &[A])],
            &["upsert verified", "updated"],
            &[],
        )
        .then(|name, run, _| {
            let e = run.stored(name, P);
            assert_eq!(e.source, Source::Mdns, "case {name:?}");
            assert_eq!(e.instance_name.as_deref(), Some("node-1"), "case {name:?}");
            assert_eq!(e.first_seen_ms, unix(0), "case {name:?}");
        }),
        case(
            "departed peer (BYE 4999 ms ago) is ignored",
            vec![announce(0, P, &[A]), bye(1000, P), announce(5999, P, &[A])],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "departed peer is accepted again 5 s after its BYE",
            vec![announce(0, P, &[A]), bye(1000, P), announce(6000, P, &[A])],
            NEW,
            &[],
        ),
        case(
            "a BYE from an unknown peer departs it too",
            vec![bye(0, P), announce(100, P, &[A])],
            &[],
            &[],
        ),
    ]);
}

/// Rule 2: `Withdrawn(instance, id)`.
#[test]
fn withdrawals_remove_the_holder_of_the_instance_name() {
    const REMOVED: &[&str] = &["remove", "removed withdrawn"];
    run_table(vec![
        case(
            "the holder is removed",
            vec![announce(0, P, &[A]), withdrawn(1000, "node-1", Some(P))],
            REMOVED,
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "the holder is removed without an id",
            vec![announce(0, P, &[A]), withdrawn(1000, "node-1", None)],
            REMOVED,
            &[],
        ),
        case(
            "an unknown instance changes nothing (id of an entry with another name)",
            vec![announce(0, P, &[A]), withdrawn(1000, "other", Some(P))],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_some(), "case {name:?}")),
        case(
            "an unknown instance changes nothing (no id)",
            vec![announce(0, P, &[A]), withdrawn(1000, "other", None)],
            &[],
            &[],
        ),
        case(
            "the index moved to another peer: that holder is removed",
            vec![
                announce_as(0, Source::Mdns, info(P, &[A], "shared")),
                announce_as(100, Source::Mdns, info(Q, &[B], "shared")),
                withdrawn(1000, "shared", Some(P)),
            ],
            &["remove @2", "removed withdrawn @2"],
            &[],
        )
        .then(|name, run, _| {
            assert!(run.book.entry(&Q).is_none(), "case {name:?}");
            assert!(run.book.entry(&P).is_some(), "case {name:?}");
        }),
        case(
            "name not indexed, the id's entry carries it: removed by id",
            vec![
                announce_as(0, Source::Mdns, info(P, &[A], "shared")),
                announce_as(100, Source::Mdns, info(Q, &[B], "shared")),
                announce_as(200, Source::Mdns, info(Q, &[B], "renamed")),
                withdrawn(1000, "shared", Some(P)),
            ],
            REMOVED,
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&Q).is_some(), "case {name:?}")),
        case(
            "name not indexed, the id's entry carries another name: nothing",
            vec![
                announce_as(0, Source::Mdns, info(P, &[A], "shared")),
                announce_as(100, Source::Mdns, info(Q, &[B], "shared")),
                announce_as(200, Source::Mdns, info(Q, &[B], "renamed")),
                withdrawn(1000, "shared", Some(Q)),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| {
            assert!(run.book.entry(&P).is_some(), "case {name:?}");
            assert!(run.book.entry(&Q).is_some(), "case {name:?}");
        }),
        case(
            "a withdrawal ends the id's departed mark",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                withdrawn(1500, "node-1", Some(P)),
                announce(2000, P, &[A]),
            ],
            &["upsert", "discovered mdns", "greet peer"],
            &[],
        ),
        case(
            "after removal a re-announcement greets again",
            vec![
                announce(0, P, &[A]),
                withdrawn(1000, "node-1", Some(P)),
                announce(2000, P, &[A]),
            ],
            &["upsert", "discovered mdns", "greet peer"],
            &[],
        ),
    ]);
}

/// Rule 3, first half: `Probe` (when a hint is greeted).
#[test]
fn probe_hints_greet_the_prober_unless_known_or_in_flight() {
    const HINTS: &[(&str, u64)] = &[("probe_hints", 1)];
    run_table(vec![
        case(
            "a hint greets the prober at the hinted addresses",
            vec![probe(0, P, &[V6, A])],
            &["greet hint"],
            HINTS,
        )
        .then(|name, run, effects| {
            let g = the_greet(name, effects);
            assert_eq!((g.peer, &g.addrs[..]), (P, &[A, V6][..]), "case {name:?}");
            assert!(run.book.entry(&P).is_none(), "case {name:?}: not stored");
        }),
        case("our own id", vec![probe(0, ME, &[A])], &[], HINTS),
        case("no addresses", vec![probe(0, P, &[])], &[], HINTS),
        case(
            "after Leave",
            vec![leave(0), probe(100, P, &[A])],
            &[],
            HINTS,
        ),
        case(
            "known and verified at every hinted address",
            vec![hello(0, P, true, PORT), probe(100, P, &[A])],
            &[],
            HINTS,
        ),
        case(
            "known and verified, a hinted address is not listed",
            vec![hello(0, P, true, PORT), probe(100, P, &[A, B])],
            &["greet hint"],
            HINTS,
        ),
        case(
            "known but unverified at the hinted address",
            vec![announce(0, P, &[A]), probe(100, P, &[A])],
            &["greet hint"],
            HINTS,
        ),
        case(
            "a hint greeting is already in flight",
            vec![probe(0, P, &[A]), probe(100, P, &[B])],
            &[],
            HINTS,
        ),
        case(
            "32 hint greetings in flight: the 33rd prober is only counted",
            (0..=32u8)
                .map(|n| probe(u64::from(n), peer(100 + n), &[A]))
                .collect(),
            &[],
            &[("probe_hints", 1), ("probe_hints_dropped", 1)],
        ),
        case(
            "one of 32 hint greetings ended: the next prober is greeted",
            (0..32u8)
                .map(|n| probe(u64::from(n), peer(100 + n), &[A]))
                .chain([Step::Greeted(50, 0, failed(A)), probe(60, peer(200), &[A])])
                .collect(),
            &["greet hint @200"],
            HINTS,
        ),
        case(
            "the previous hint greeting ended",
            vec![
                probe(0, P, &[A]),
                Step::Greeted(100, 0, failed(A)),
                probe(200, P, &[A]),
            ],
            &["greet hint"],
            HINTS,
        ),
    ]);
}

/// Rule 3, second half: the result of a hint greeting.
#[test]
fn probe_hint_results_store_only_a_prober_that_proved_its_key() {
    run_table(vec![
        case(
            "verified ACK from an unknown prober: stored at that one address",
            vec![probe(0, P, &[A, B]), Step::Greeted(100, 0, acked(B, true))],
            &["upsert verified", "discovered mdns", "acked verified"],
            &[("probe_hints_confirmed", 1)],
        )
        .then(|name, run, effects| {
            let e = run.stored(name, P);
            assert_eq!(e.addrs, [B], "case {name:?}");
            assert_eq!(e.source, Source::Mdns, "case {name:?}");
            assert!(e.verified, "case {name:?}");
            assert_eq!(e.instance_name.as_deref(), Some("node-1"), "case {name:?}");
            assert_eq!(e.capabilities.protocol_version, 1, "case {name:?}: TXT v=1");
            assert_eq!(e.first_seen_ms, unix(100), "case {name:?}");
            assert_eq!(
                events(effects),
                [
                    &NodeEvent::Discovered {
                        peer: P,
                        addrs: vec![B],
                        source: Source::Mdns,
                    },
                    &NodeEvent::HelloAcked {
                        peer: P,
                        addr: B,
                        rtt: Duration::from_millis(1),
                        verified: true,
                    },
                ],
                "case {name:?}"
            );
        }),
        case(
            "verified ACK from a prober known at other addresses: moved there",
            vec![
                announce(0, P, &[A]),
                probe(100, P, &[B]),
                Step::Greeted(200, 1, acked(B, true)),
            ],
            &["upsert verified", "updated", "acked verified"],
            // `probe_hints_confirmed` counts probers added, not moved.
            &[],
        )
        .then(|name, run, _| {
            let e = run.stored(name, P);
            assert_eq!(e.addrs, [B], "case {name:?}");
            assert_eq!(e.first_seen_ms, unix(0), "case {name:?}: first_seen kept");
        }),
        case(
            "verified ACK at an address already listed (unverified): only verified",
            vec![
                announce(0, P, &[A]),
                probe(100, P, &[A]),
                Step::Greeted(200, 1, acked(A, true)),
            ],
            &["upsert verified", "acked verified"],
            &[],
        )
        .then(|name, run, _| {
            let e = run.stored(name, P);
            assert_eq!(e.instance_name.as_deref(), Some("node-1"), "case {name:?}");
            assert_eq!(
                e.capabilities.protocol_version, 0,
                "case {name:?}: not the hint's"
            );
        }),
        case(
            "verified ACK at an address already listed (verified): only acked",
            vec![
                hello(0, P, true, PORT),
                probe(100, P, &[A, B]),
                Step::Greeted(200, 1, acked(A, true)),
            ],
            &["acked verified"],
            &[],
        ),
        case(
            "verified ACK after the prober said BYE: nothing",
            vec![
                probe(0, P, &[A]),
                bye(100, P),
                Step::Greeted(200, 0, acked(A, true)),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "plain ACK (a prototype): nothing",
            vec![probe(0, P, &[A]), Step::Greeted(100, 0, acked(A, false))],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "no answer: counted as unconfirmed, no HelloFailed",
            vec![probe(0, P, &[A]), Step::Greeted(100, 0, failed(A))],
            &[],
            &[("probe_hints_unconfirmed", 1)],
        ),
        case(
            "the confirmed address counts as greeted: its announcement does not greet",
            vec![
                probe(0, P, &[A]),
                Step::Greeted(100, 0, acked(A, true)),
                announce(200, P, &[A]),
            ],
            // TXT changed (the probe's v=1, the announcement's none).
            &["upsert verified", "updated"],
            &[],
        ),
    ]);
}

/// Rule 4: `Hello` (counting, registration, refresh).
#[test]
fn hellos_are_reported_and_register_only_proven_senders() {
    const UNKNOWN_VERIFIED: &[(&str, u64)] = &[
        ("hellos_received", 1),
        ("hellos_received_verified", 1),
        ("hellos_from_unknown", 1),
    ];
    const UNKNOWN_LEGACY: &[(&str, u64)] = &[("hellos_received", 1), ("hellos_from_unknown", 1)];
    const KNOWN_VERIFIED: &[(&str, u64)] =
        &[("hellos_received", 1), ("hellos_received_verified", 1)];
    const KNOWN_LEGACY: &[(&str, u64)] = &[("hellos_received", 1)];
    const LEGACY_IGNORED: &[(&str, u64)] = &[("hellos_received", 1), ("legacy_hellos_ignored", 1)];
    run_table(vec![
        case(
            "unknown, verified, with a port: registered and greeted back",
            vec![hello(0, P, true, PORT)],
            &[
                "upsert verified",
                "discovered greeting",
                "hello verified",
                "greet peer",
            ],
            &[
                ("hellos_received", 1),
                ("hellos_received_verified", 1),
                ("hellos_from_unknown", 1),
                ("peers_from_greetings", 1),
            ],
        )
        .then(|name, run, effects| {
            let e = run.stored(name, P);
            assert_eq!(e.addrs, [A], "case {name:?}: remote IP + signed port");
            assert_eq!(e.source, Source::Greeting, "case {name:?}");
            assert!(e.verified, "case {name:?}");
            assert_eq!(e.instance_name, None, "case {name:?}");
            assert_eq!(e.capabilities, Default::default(), "case {name:?}");
            assert_eq!(
                events(effects),
                [
                    &NodeEvent::Discovered {
                        peer: P,
                        addrs: vec![A],
                        source: Source::Greeting,
                    },
                    &NodeEvent::HelloReceived {
                        peer: P,
                        remote: REMOTE,
                        verified: true,
                    },
                ],
                "case {name:?}"
            );
            assert_eq!(the_greet(name, effects).addrs, [A], "case {name:?}");
        }),
        case(
            "unknown, verified, no port: only reported",
            vec![hello(0, P, true, None)],
            &["hello verified"],
            UNKNOWN_VERIFIED,
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "unknown legacy: only reported",
            vec![hello(0, P, false, None)],
            &["hello"],
            UNKNOWN_LEGACY,
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "unknown legacy naming a port: not stored",
            vec![hello(0, P, false, PORT)],
            &["hello"],
            UNKNOWN_LEGACY,
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "our own id: not registered",
            vec![hello(0, ME, true, PORT)],
            &["hello verified @0"],
            UNKNOWN_VERIFIED,
        ),
        case(
            "after Leave an unknown sender is not registered",
            vec![leave(0), hello(100, P, true, PORT)],
            &["hello verified"],
            UNKNOWN_VERIFIED,
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "known, legacy: last_seen refreshed, still unverified",
            vec![announce(0, P, &[A]), hello(1000, P, false, None)],
            &["hello", "upsert"],
            KNOWN_LEGACY,
        )
        .then(|name, run, _| {
            let e = run.stored(name, P);
            assert_eq!(e.last_seen_ms, unix(1000), "case {name:?}");
            assert_eq!(e.first_seen_ms, unix(0), "case {name:?}");
        }),
        case(
            "known, verified, proven address listed: set verified",
            vec![announce(0, P, &[A, B]), hello(1000, P, true, PORT)],
            &["hello verified", "upsert verified"],
            KNOWN_VERIFIED,
        )
        .then(|name, run, _| {
            let e = run.stored(name, P);
            assert_eq!(e.addrs, [A, B], "case {name:?}: addresses kept");
            assert_eq!(e.last_seen_ms, unix(1000), "case {name:?}");
        }),
        case(
            "known, verified, proven address not listed: not verified",
            vec![announce(0, P, &[B]), hello(1000, P, true, PORT)],
            &["hello verified", "upsert"],
            KNOWN_VERIFIED,
        ),
        case(
            "known, verified, no port: not verified",
            vec![announce(0, P, &[A]), hello(1000, P, true, None)],
            &["hello verified", "upsert"],
            KNOWN_VERIFIED,
        ),
        case(
            "known verified entry, legacy HELLO: only reported, nothing refreshed",
            vec![hello(0, P, true, PORT), hello(1000, P, false, None)],
            &["hello"],
            LEGACY_IGNORED,
        )
        .then(|name, run, _| {
            let e = run.stored(name, P);
            assert!(e.verified, "case {name:?}");
            assert_eq!(e.last_seen_ms, unix(0), "case {name:?}");
        }),
        case(
            "known unverified entry, legacy HELLO from another address: nothing refreshed",
            vec![announce(0, P, &[B]), hello(1000, P, false, None)],
            &["hello"],
            LEGACY_IGNORED,
        )
        .then(|name, run, _| {
            assert_eq!(run.stored(name, P).last_seen_ms, unix(0), "case {name:?}")
        }),
        case(
            "a verified HELLO ends the departed mark",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                hello(1500, P, true, None),
                announce(2000, P, &[A]),
            ],
            &["upsert", "discovered mdns", "greet peer"],
            &[],
        ),
        case(
            "a legacy HELLO does not end the departed mark",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                hello(1500, P, false, None),
                announce(2000, P, &[A]),
            ],
            &[],
            &[],
        ),
    ]);
}

/// Rule 4: which HELLOs reset the liveness clock. A peer registered by
/// its HELLO at 0 is due at 5000 (it contacted us: interval × 1.25).
#[test]
fn hellos_reset_the_liveness_clock_unless_legacy_for_a_verified_peer() {
    run_table(vec![
        case(
            "no HELLO since (control): due at 5000",
            vec![hello(0, P, true, PORT), tick(5000)],
            &["ping verified"],
            &[],
        ),
        case(
            "legacy HELLO for a verified entry: still due",
            vec![
                hello(0, P, true, PORT),
                hello(4000, P, false, None),
                tick(5000),
            ],
            &["ping verified"],
            &[],
        ),
        case(
            "verified HELLO: not due at 5000",
            vec![
                hello(0, P, true, PORT),
                hello(4000, P, true, PORT),
                tick(5000),
            ],
            &[],
            &[],
        ),
        case(
            "verified HELLO: not due 1 ms before interval × 1.25 after it",
            vec![
                hello(0, P, true, PORT),
                hello(4000, P, true, PORT),
                tick(8999),
            ],
            &[],
            &[],
        ),
        case(
            "verified HELLO: due interval × 1.25 after it",
            vec![
                hello(0, P, true, PORT),
                hello(4000, P, true, PORT),
                tick(9000),
            ],
            &["ping verified"],
            &[],
        ),
        case(
            "legacy HELLO from another address for an unverified entry: still due",
            vec![
                announce(0, P, &[B]),
                tick(1),
                hello(4000, P, false, None),
                tick(5000),
            ],
            &["ping"],
            &[],
        ),
        case(
            "legacy HELLO for an unverified entry: not due at 5000",
            vec![
                announce(0, P, &[A]),
                hello(4000, P, false, None),
                tick(5000),
            ],
            &[],
            &[],
        ),
    ]);
}

/// Rule 5: `Ping`.
#[test]
fn pings_reset_the_clock_of_a_known_sender_or_register_it() {
    const PINGED: &[(&str, u64)] = &[("pings_received", 1)];
    run_table(vec![
        case(
            "known: counted, no effects",
            vec![announce(0, P, &[A]), ping(4000, P, PORT)],
            &[],
            PINGED,
        )
        .then(|name, run, _| {
            assert_eq!(
                run.stored(name, P).last_seen_ms,
                unix(0),
                "case {name:?}: registry not touched"
            );
        }),
        case(
            "known, no PING (control): due at the next tick",
            vec![announce(0, P, &[A]), tick(5000)],
            &["ping"],
            &[],
        ),
        case(
            "known: clock reset, not due at the next tick",
            vec![announce(0, P, &[A]), ping(4000, P, PORT), tick(5000)],
            &[],
            &[],
        ),
        case(
            "unknown with a port: registered and greeted back, no HelloReceived",
            vec![ping(0, P, PORT)],
            &["upsert verified", "discovered greeting", "greet peer"],
            &[("pings_received", 1), ("peers_from_greetings", 1)],
        )
        .then(|name, run, effects| {
            let e = run.stored(name, P);
            assert_eq!(e.addrs, [A], "case {name:?}");
            assert_eq!(e.source, Source::Greeting, "case {name:?}");
            assert!(e.verified, "case {name:?}");
            assert_eq!(the_greet(name, effects).addrs, [A], "case {name:?}");
        }),
        case(
            "unknown without a port: nothing",
            vec![ping(0, P, None)],
            &[],
            PINGED,
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "unknown after Leave: not registered",
            vec![leave(0), ping(100, P, PORT)],
            &[],
            PINGED,
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "a PING ends the departed mark",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                ping(1500, P, None),
                announce(2000, P, &[A]),
            ],
            &["upsert", "discovered mdns", "greet peer"],
            &[],
        ),
    ]);
}

/// Rule 6: `Bye`.
#[test]
fn byes_remove_the_sender_and_depart_it_for_5_s() {
    const NEW: &[&str] = &["upsert", "discovered mdns", "greet peer"];
    run_table(vec![
        case(
            "known: removed",
            vec![announce(0, P, &[A]), bye(1000, P)],
            &["remove", "removed bye"],
            &[("byes_received", 1)],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "known static peer: removed too",
            vec![
                announce_as(0, Source::Static, info(P, &[A], "static:1")),
                bye(1000, P),
            ],
            &["remove", "removed bye"],
            &[("byes_received", 1)],
        ),
        case(
            "unknown: only counted",
            vec![bye(0, P)],
            &[],
            &[("byes_received", 1)],
        ),
        case(
            "an announcement 4999 ms after the BYE is ignored",
            vec![announce(0, P, &[A]), bye(1000, P), announce(5999, P, &[A])],
            &[],
            &[],
        ),
        case(
            "an announcement 5000 ms after the BYE is accepted",
            vec![announce(0, P, &[A]), bye(1000, P), announce(6000, P, &[A])],
            NEW,
            &[],
        ),
        case(
            "a second BYE restarts the 5 s",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                bye(4000, P),
                announce(6500, P, &[A]),
            ],
            &[],
            &[],
        ),
        case(
            "a verified HELLO ends the mark",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                hello(1500, P, true, None),
                announce(2000, P, &[A]),
            ],
            NEW,
            &[],
        ),
        case(
            "a verified HELLO signed before the BYE and arriving after it: reported, not registered",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                signed_hello(1500, P, 900, Some(A.port())),
            ],
            &["hello verified"],
            &[
                ("hellos_received", 1),
                ("hellos_received_verified", 1),
                ("hellos_from_unknown", 1),
            ],
        ),
        case(
            "a HELLO signed before the BYE does not end the mark",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                signed_hello(1500, P, 900, None),
                announce(2000, P, &[A]),
            ],
            &[],
            &[],
        ),
        case(
            "a PING signed before the BYE and arriving after it: not registered",
            vec![
                announce(0, P, &[A]),
                bye(1000, P),
                signed_ping(1500, P, 900, Some(A.port())),
            ],
            &[],
            &[("pings_received", 1)],
        ),
        case(
            "another peer is not departed",
            vec![bye(0, Q), announce(100, P, &[A])],
            NEW,
            &[],
        ),
    ]);
}

/// Rule 7: `Greeted` for a peer greeting (the peer announced at 0 at
/// `[A, B]`, greeting 0).
#[test]
fn greeting_results_are_reported_and_verify_unless_stale() {
    run_table(vec![
        case(
            "verified ACK at a listed address: entry verified, then acked",
            vec![
                announce(0, P, &[A, B]),
                Step::Greeted(100, 0, acked(A, true)),
            ],
            &["upsert verified", "acked verified"],
            &[],
        )
        .then(|name, run, effects| {
            assert!(run.stored(name, P).verified, "case {name:?}");
            assert_eq!(
                events(effects),
                [&NodeEvent::HelloAcked {
                    peer: P,
                    addr: A,
                    rtt: Duration::from_millis(1),
                    verified: true,
                }],
                "case {name:?}"
            );
        }),
        case(
            "verified ACK, entry already verified: acked only",
            vec![
                hello(0, P, true, PORT),
                Step::Greeted(100, 0, acked(A, true)),
            ],
            &["acked verified"],
            &[],
        ),
        case(
            "verified ACK at an address not listed: acked only",
            vec![
                announce(0, P, &[A, B]),
                Step::Greeted(100, 0, acked(C, true)),
            ],
            &["acked verified"],
            &[],
        )
        .then(|name, run, _| assert!(!run.stored(name, P).verified, "case {name:?}")),
        case(
            "plain ACK: acked unverified, entry left as it is",
            vec![
                announce(0, P, &[A, B]),
                Step::Greeted(100, 0, acked(A, false)),
            ],
            &["acked"],
            &[],
        )
        .then(|name, run, _| assert!(!run.stored(name, P).verified, "case {name:?}")),
        case(
            "failure: HelloFailed with the last address and reason; peer kept",
            vec![announce(0, P, &[A, B]), Step::Greeted(100, 0, failed(B))],
            &["failed"],
            &[],
        )
        .then(|name, run, effects| {
            assert!(run.book.entry(&P).is_some(), "case {name:?}");
            assert_eq!(
                events(effects),
                [&NodeEvent::HelloFailed {
                    peer: P,
                    addr: B,
                    reason: GreetFailure::TimedOut,
                }],
                "case {name:?}"
            );
        }),
        case(
            "stale: superseded by a greeting of a new address set",
            vec![
                announce(0, P, &[A, B]),
                announce(50, P, &[C]),
                Step::Greeted(100, 0, acked(A, true)),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(!run.stored(name, P).verified, "case {name:?}")),
        case(
            "the current greeting after a superseded one is not stale",
            vec![
                announce(0, P, &[A, B]),
                announce(50, P, &[C]),
                Step::Greeted(100, 1, acked(C, true)),
            ],
            &["upsert verified", "acked verified"],
            &[],
        ),
        case(
            "stale: the peer was withdrawn meanwhile",
            vec![
                announce(0, P, &[A, B]),
                withdrawn(50, "node-1", Some(P)),
                Step::Greeted(100, 0, acked(A, true)),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "stale: the peer said BYE meanwhile",
            vec![
                announce(0, P, &[A, B]),
                bye(50, P),
                Step::Greeted(100, 0, failed(A)),
            ],
            &[],
            &[],
        ),
        case(
            "stale: removed and announced again meanwhile",
            vec![
                announce(0, P, &[A, B]),
                withdrawn(50, "node-1", Some(P)),
                announce(60, P, &[A, B]),
                Step::Greeted(100, 0, acked(A, true)),
            ],
            &[],
            &[],
        ),
        case(
            "stale: a result delivered twice",
            vec![
                announce(0, P, &[A, B]),
                Step::Greeted(100, 0, acked(A, true)),
                Step::Greeted(200, 0, acked(A, true)),
            ],
            &[],
            &[],
        ),
    ]);
}

fn disabled() -> Run {
    Run::with(LivenessPolicy::disabled(), Box::new(NoJitter))
}

/// Jitter draws of 500 ms.
fn jitter_500() -> Run {
    Run::with(LivenessPolicy::default(), Box::new(Fixed(500)))
}

/// Jitter draws of 800 ms: 20 % of the interval, the most.
fn jitter_800() -> Run {
    Run::with(LivenessPolicy::default(), Box::new(Fixed(800)))
}

/// Draws of 801: wrap to 0 ms (the jitter is the draw modulo 801 ms).
fn jitter_801() -> Run {
    Run::with(LivenessPolicy::default(), Box::new(Fixed(801)))
}

/// Rule 8: `Tick` and `Pinged`. `P` is announced at 0 (its arrival
/// counts as contact: due at 5000 without jitter).
#[test]
fn liveness_checks_due_peers_once_and_removes_the_unreachable() {
    let arrived = || announce(0, P, &[A]);
    const REMOVED: &[&str] = &["remove", "removed unreachable"];
    const UNREACHABLE: &[(&str, u64)] = &[("peers_unreachable", 1)];
    run_table(vec![
        case(
            "not due 1 ms before interval × 1.25",
            vec![arrived(), tick(4999)],
            &[],
            &[],
        ),
        case(
            "due at interval × 1.25 after arrival: one PING",
            vec![arrived(), tick(5000)],
            &["ping"],
            &[],
        )
        .then(|name, run, effects| {
            let c = the_check(name, effects);
            assert_eq!(c.peer, P, "case {name:?}");
            assert_eq!(c.addrs, [A], "case {name:?}");
            assert!(!c.require_verified, "case {name:?}");
            assert_eq!(
                c.started,
                run.base + Duration::from_millis(5000),
                "case {name:?}"
            );
        }),
        case(
            "a verified entry requires a signed ACK",
            vec![hello(0, P, true, PORT), tick(5000)],
            &["ping verified"],
            &[],
        ),
        case(
            "not pinged again while the check is in flight",
            vec![arrived(), tick(5000), tick(5500)],
            &[],
            &[],
        ),
        case(
            "disabled policy: nothing",
            vec![arrived(), tick(5000)],
            &[],
            &[],
        )
        .on(disabled)
        .then(|name, run, _| {
            assert_eq!(run.book.tick_period(), None, "case {name:?}");
        }),
        case(
            "after Leave: nothing",
            vec![arrived(), leave(100), tick(5000)],
            &[],
            &[],
        ),
        case(
            "jitter 500 ms: not due at 5499",
            vec![arrived(), tick(5499)],
            &[],
            &[],
        )
        .on(jitter_500),
        case(
            "jitter 500 ms: due at 5500",
            vec![arrived(), tick(5500)],
            &["ping"],
            &[],
        )
        .on(jitter_500),
        case(
            "jitter 800 ms (20 %): not due at 5799",
            vec![arrived(), tick(5799)],
            &[],
            &[],
        )
        .on(jitter_800),
        case(
            "jitter 800 ms (20 %): due at 5800",
            vec![arrived(), tick(5800)],
            &["ping"],
            &[],
        )
        .on(jitter_800),
        case(
            "a draw of 801 wraps to no jitter",
            vec![arrived(), tick(5000)],
            &["ping"],
            &[],
        )
        .on(jitter_801),
        case(
            "answered: no effects, peer kept",
            vec![
                arrived(),
                tick(5000),
                Step::Pinged(5100, 0, PingOutcome::Answered),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_some(), "case {name:?}")),
        case(
            "answered: not due 1 ms before interval after the answer",
            vec![
                arrived(),
                tick(5000),
                Step::Pinged(5100, 0, PingOutcome::Answered),
                tick(9099),
            ],
            &[],
            &[],
        ),
        case(
            "answered: due interval after the answer",
            vec![
                arrived(),
                tick(5000),
                Step::Pinged(5100, 0, PingOutcome::Answered),
                tick(9100),
            ],
            &["ping"],
            &[],
        ),
        case(
            "unanswered: removed as unreachable",
            vec![
                arrived(),
                tick(5000),
                Step::Pinged(6000, 0, PingOutcome::Unanswered),
            ],
            REMOVED,
            UNREACHABLE,
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "unanswered, then announced again: greeted again",
            vec![
                arrived(),
                tick(5000),
                Step::Pinged(6000, 0, PingOutcome::Unanswered),
                announce(7000, P, &[A]),
            ],
            &["upsert", "discovered mdns", "greet peer"],
            &[],
        ),
        case(
            "unanswered, addresses changed meanwhile: kept",
            vec![
                arrived(),
                tick(5000),
                announce(5500, P, &[B]),
                Step::Pinged(6000, 0, PingOutcome::Unanswered),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_some(), "case {name:?}")),
        case(
            "unanswered, heard from (HELLO) after the check started: kept",
            vec![
                arrived(),
                tick(5000),
                hello(5500, P, false, None),
                Step::Pinged(6000, 0, PingOutcome::Unanswered),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_some(), "case {name:?}")),
        case(
            "unanswered, heard from (PING) after the check started: kept",
            vec![
                arrived(),
                tick(5000),
                ping(5500, P, PORT),
                Step::Pinged(6000, 0, PingOutcome::Unanswered),
            ],
            &[],
            &[],
        ),
        case(
            "unanswered static peer: kept",
            vec![
                announce_as(0, Source::Static, info(P, &[A], "static:1")),
                tick(5000),
                Step::Pinged(6000, 0, PingOutcome::Unanswered),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_some(), "case {name:?}")),
        case(
            "stale result (another start): nothing",
            vec![
                arrived(),
                tick(5000),
                Step::PingedAt(6000, P, 4000, PingOutcome::Unanswered),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_some(), "case {name:?}")),
        case(
            "a stale result leaves the check in flight",
            vec![
                arrived(),
                tick(5000),
                Step::PingedAt(6000, P, 4000, PingOutcome::Answered),
                tick(6500),
            ],
            &[],
            &[],
        ),
        case(
            "the check's own result after a stale one still counts",
            vec![
                arrived(),
                tick(5000),
                Step::PingedAt(6000, P, 4000, PingOutcome::Answered),
                Step::Pinged(6100, 0, PingOutcome::Unanswered),
            ],
            REMOVED,
            UNREACHABLE,
        ),
        case(
            "result for a peer withdrawn meanwhile: nothing",
            vec![
                arrived(),
                tick(5000),
                withdrawn(5500, "node-1", Some(P)),
                Step::Pinged(6000, 0, PingOutcome::Unanswered),
            ],
            &[],
            &[],
        ),
        case(
            "an entry without a clock starts one at the sweep",
            vec![Step::Resync(P, Some(entry(P, &[A], false))), tick(0)],
            &[],
            &[],
        ),
        case(
            "an entry clocked by the sweep is due an interval later",
            vec![
                Step::Resync(P, Some(entry(P, &[A], false))),
                tick(0),
                tick(4000),
            ],
            &["ping"],
            &[],
        ),
    ]);
}

/// Rule 9: who gets a BYE (always asked after `Leave`).
#[test]
fn bye_targets_are_verified_greeted_and_hinted_peers() {
    type Targets = &'static [(PeerId, &'static [SocketAddr])];
    let cases: Vec<(&str, Vec<Step>, Targets)> = vec![
        (
            "verified entry (registered by its HELLO)",
            vec![hello(0, P, true, PORT)],
            &[(P, &[A])],
        ),
        (
            "unverified entry being greeted: skipped",
            vec![announce(0, P, &[A])],
            &[],
        ),
        (
            "entry verified by the ACK to our greeting: every address",
            vec![
                announce(0, P, &[A, B]),
                Step::Greeted(100, 0, acked(A, true)),
            ],
            &[(P, &[A, B])],
        ),
        (
            "prototype (plain ACK): skipped",
            vec![announce(0, P, &[A]), Step::Greeted(100, 0, acked(A, false))],
            &[],
        ),
        (
            "unknown peer with a hint greeting in flight",
            vec![probe(0, P, &[A, V6])],
            &[(P, &[A, V6])],
        ),
        (
            "hint greeting failed: nothing",
            vec![probe(0, P, &[A]), Step::Greeted(100, 0, failed(A))],
            &[],
        ),
        (
            "verified entry and a hint at another address",
            vec![hello(0, P, true, PORT), probe(100, P, &[A, B])],
            &[(P, &[A, B])],
        ),
        (
            "removed by its BYE: nothing",
            vec![hello(0, P, true, PORT), bye(100, P)],
            &[],
        ),
        (
            "several peers",
            vec![
                hello(0, P, true, PORT),
                announce(100, Q, &[B]),
                probe(200, R, &[C]),
            ],
            &[(P, &[A]), (R, &[C])],
        ),
    ];
    for (name, steps, expected) in cases {
        let mut run = Run::new();
        for step in &steps {
            run.step(step);
        }
        run.step(&leave(10_000));
        let expected: BTreeMap<PeerId, Vec<SocketAddr>> = expected
            .iter()
            .map(|(p, addrs)| (*p, addrs.to_vec()))
            .collect();
        assert_eq!(run.book.bye_targets(), expected, "case {name:?}");
    }
}

/// Rule 9: `resync` after the registry refused a commit.
#[test]
fn a_refused_commit_resyncs_the_book_with_the_registry() {
    run_table(vec![
        case(
            "control: an identical re-announcement is an upsert only",
            vec![announce(0, P, &[A]), announce(100, P, &[A])],
            &["upsert"],
            &[],
        ),
        case(
            "resync to nothing forgets the peer: greeted again",
            vec![
                announce(0, P, &[A]),
                Step::Resync(P, None),
                announce(100, P, &[A]),
            ],
            &["upsert", "discovered mdns", "greet peer"],
            &[],
        ),
        case(
            "resync to nothing: the old greeting's result is stale",
            vec![
                announce(0, P, &[A]),
                Step::Resync(P, None),
                Step::Greeted(100, 0, acked(A, true)),
            ],
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_none(), "case {name:?}")),
        case(
            "resync to nothing drops the instance name",
            vec![
                announce(0, P, &[A]),
                Step::Resync(P, None),
                withdrawn(100, "node-1", Some(P)),
            ],
            &[],
            &[],
        ),
        case(
            "resync to nothing keeps a hint greeting in flight",
            vec![
                announce(0, P, &[A]),
                probe(10, P, &[A]),
                Step::Resync(P, None),
                Step::Greeted(100, 1, acked(A, true)),
            ],
            &["upsert verified", "discovered mdns", "acked verified"],
            &[("probe_hints_confirmed", 1)],
        ),
        case(
            "resync to the registry's entry: the book holds it",
            vec![
                announce(0, P, &[A]),
                Step::Resync(P, Some(entry(P, &[B], true))),
                announce(100, P, &[B]),
            ],
            // Same addresses as the (verified) registry entry: kept
            // verified; not greeted at B yet.
            &["upsert verified", "greet peer"],
            &[],
        )
        .then(|name, run, _| {
            assert_eq!(run.stored(name, P).addrs, [B], "case {name:?}");
        }),
    ]);
}

fn session(ms: u64, p: PeerId, proven: Option<SocketAddr>) -> Step {
    Step::In(ms, Input::SessionOpened { peer: p, proven })
}

fn session_broken(ms: u64, p: PeerId) -> Step {
    Step::In(ms, Input::SessionBroken { peer: p })
}

/// Rule 10: sessions.
#[test]
fn sessions_verify_a_proven_address_and_a_break_checks_at_once() {
    run_table(vec![
        case(
            "proven at a listed address: verified",
            vec![announce(0, P, &[A]), session(10, P, Some(A))],
            &["upsert verified"],
            &[],
        ),
        case(
            "proven at an unlisted address: not verified",
            vec![announce(0, P, &[A]), session(10, P, Some(B))],
            &[],
            &[],
        )
        .then(|case, run, _| assert!(!run.stored(case, P).verified, "{case}")),
        case(
            "session without a listen address: alive, not verified",
            vec![announce(0, P, &[A]), session(10, P, None)],
            &[],
            &[],
        )
        .then(|case, run, _| assert!(!run.stored(case, P).verified, "{case}")),
        case(
            "session proving an unknown peer's listen address: stored verified",
            vec![session(0, Q, Some(B))],
            &["upsert verified @2", "discovered greeting @2"],
            &[("peers_from_greetings", 1)],
        )
        .then(|case, run, _| assert_eq!(run.stored(case, Q).addrs, [B], "{case}")),
        case(
            "session from an unknown peer without a listen port: nothing stored",
            vec![session(0, Q, None)],
            &[],
            &[],
        )
        .then(|case, run, _| assert!(run.book.entry(&Q).is_none(), "{case}")),
        case(
            "session from a departed peer: not stored again",
            vec![bye(0, Q), session(10, Q, Some(B))],
            &[],
            &[],
        ),
        case(
            "inbound session resets the clock: not due at 5000",
            vec![
                announce(0, P, &[A]),
                tick(1),
                session(4000, P, None),
                tick(5000),
            ],
            &[],
            &[],
        ),
        case(
            "broken session: checked at once",
            vec![hello(0, P, true, PORT), session_broken(100, P)],
            &["ping verified"],
            &[],
        ),
        case(
            "broken session with a check in flight: no second check",
            vec![hello(0, P, true, PORT), tick(5000), session_broken(5100, P)],
            &[],
            &[],
        ),
        case(
            "broken session of an unknown peer: nothing",
            vec![session_broken(0, Q)],
            &[],
            &[],
        ),
        case(
            "broken session while leaving: no check",
            vec![hello(0, P, true, PORT), leave(50), session_broken(100, P)],
            &[],
            &[],
        ),
        case(
            "broken session with liveness off: no check",
            vec![hello(0, P, true, PORT), session_broken(100, P)],
            &[],
            &[],
        )
        .on(disabled),
    ]);
}

/// Rule 2, for a verified peer (issue 13, forged goodbye): a withdrawal is
/// checked, not believed.
#[test]
fn a_verified_peers_withdrawal_is_checked_not_believed() {
    const CHECKED: &[(&str, u64)] = &[("withdrawals_checked", 1)];
    // P announced at A and verified by the greeting's signed ACK.
    let verified = || vec![announce(0, P, &[A]), Step::Greeted(10, 0, acked(A, true))];
    let then = |mut steps: Vec<Step>, more: Vec<Step>| {
        steps.extend(more);
        steps
    };
    run_table(vec![
        case(
            "a goodbye starts a check instead of a removal",
            then(verified(), vec![withdrawn(1000, "node-1", Some(P))]),
            &["ping verified"],
            CHECKED,
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_some(), "case {name:?}")),
        case(
            "the peer answers: kept",
            then(
                verified(),
                vec![
                    withdrawn(1000, "node-1", Some(P)),
                    Step::Pinged(1100, 0, PingOutcome::Answered),
                ],
            ),
            &[],
            &[],
        )
        .then(|name, run, _| assert!(run.book.entry(&P).is_some(), "case {name:?}")),
        case(
            "no answer: removed as withdrawn",
            then(
                verified(),
                vec![
                    withdrawn(1000, "node-1", Some(P)),
                    Step::Pinged(2300, 0, PingOutcome::Unanswered),
                ],
            ),
            &["remove", "removed withdrawn"],
            &[],
        ),
        case(
            "a goodbye during a check joins it: no second check",
            then(
                verified(),
                vec![tick(4000), tick(5000), withdrawn(5100, "node-1", Some(P))],
            ),
            &[],
            CHECKED,
        ),
        case(
            "a goodbye joining a check: its failure removes as withdrawn",
            then(
                verified(),
                vec![
                    tick(4000),
                    tick(5000),
                    withdrawn(5100, "node-1", Some(P)),
                    Step::Pinged(6000, 0, PingOutcome::Unanswered),
                ],
            ),
            &["remove", "removed withdrawn"],
            &[],
        ),
        case(
            "liveness off: the goodbye removes at once",
            then(verified(), vec![withdrawn(1000, "node-1", Some(P))]),
            &["remove", "removed withdrawn"],
            &[],
        )
        .on(disabled),
        case(
            "while leaving: the goodbye removes at once",
            then(
                verified(),
                vec![leave(500), withdrawn(1000, "node-1", Some(P))],
            ),
            &["remove", "removed withdrawn"],
            &[],
        ),
    ]);
}

/// A verified HELLO from `p`, connecting from `ip` (its listen port 7000).
fn signed_hello_from(ms: u64, p: PeerId, ip: Ipv4Addr) -> Step {
    Step::In(
        ms,
        Input::Hello {
            from: p,
            remote: SocketAddr::V4(SocketAddrV4::new(ip, 50_000)),
            verified: true,
            listen_port: PORT,
            sent_ms: Some(ms),
        },
    )
}

/// The `n`th of many distinct test peers (never `ME`, `P`, `Q`, `R`).
fn many(n: u16) -> PeerId {
    let mut bytes = [0xee; 32];
    bytes[1..3].copy_from_slice(&n.to_be_bytes());
    PeerId::from_bytes(bytes)
}

fn count(run: &Run, name: &str) -> u64 {
    run.counts()[name]
}

/// Issue 13, Sybil registration: peers that only greeted us are capped per
/// source address, and announced peers are never refused for them.
#[test]
fn peers_from_greetings_are_capped_per_source() {
    let mut run = Run::new();
    let ip = Ipv4Addr::new(10, 0, 0, 9);
    for n in 0..MAX_GREETING_PEERS_PER_SOURCE as u16 {
        run.step(&signed_hello_from(u64::from(n), many(n), ip));
    }
    assert_eq!(count(&run, "peers_from_greetings"), 8);
    let refused = run.step(&signed_hello_from(100, many(100), ip));
    assert_eq!(shape(&refused), ["hello verified @238"], "only reported");
    assert!(run.book.entry(&many(100)).is_none());
    assert_eq!(count(&run, "greeting_peers_refused"), 1);
    // Another source still registers.
    run.step(&signed_hello_from(
        200,
        many(200),
        Ipv4Addr::new(10, 0, 0, 10),
    ));
    assert!(run.book.entry(&many(200)).is_some());
    // An announced peer at the capped address is stored as always.
    let announced = run.step(&announce(300, Q, &[v4(9, 7001)]));
    assert_eq!(
        shape(&announced),
        ["upsert @2", "discovered mdns @2", "greet peer @2"]
    );
}

/// Issue 13, Sybil registration: and in total, over all sources.
#[test]
fn peers_from_greetings_are_capped_in_total() {
    let mut run = Run::new();
    for n in 0..MAX_GREETING_PEERS as u16 {
        let ip = Ipv4Addr::new(10, 1, (n / 250) as u8, (n % 250) as u8 + 1);
        run.step(&signed_hello_from(u64::from(n), many(n), ip));
    }
    assert_eq!(count(&run, "peers_from_greetings"), 256);
    run.step(&signed_hello_from(
        1000,
        many(999),
        Ipv4Addr::new(10, 2, 0, 1),
    ));
    assert!(run.book.entry(&many(999)).is_none());
    assert_eq!(count(&run, "greeting_peers_refused"), 1);
}

/// Issue 13: liveness work is bounded whatever the number of peers.
#[test]
fn at_most_64_checks_are_in_flight() {
    let mut run = Run::new();
    for n in 0..70u16 {
        let addr = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, 3, 0, n as u8 + 1),
            7000,
        ));
        run.step(&announce(0, many(n), &[addr]));
    }
    run.step(&tick(1));
    let first = run.step(&tick(5000));
    let pings = |effects: &[Effect]| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Ping(_)))
            .count()
    };
    assert_eq!(pings(&first), MAX_CHECKS_IN_FLIGHT);
    assert_eq!(count(&run, "checks_deferred"), 6);
    // One answers: one place frees, one deferred check starts.
    run.step(&Step::Pinged(5100, 0, PingOutcome::Answered));
    assert_eq!(pings(&run.step(&tick(6000))), 1);
}

/// Rule 1 for a verified peer (issue 13, forged announcement): announced
/// addresses are candidates until the peer proves its key at one of them.
#[test]
fn a_verified_peers_new_addresses_are_candidates_until_proven() {
    const CANDIDATE: &[(&str, u64)] = &[("candidate_addresses", 1)];
    // P announced at A and verified there (greeting 0).
    let verified = || vec![announce(0, P, &[A]), Step::Greeted(10, 0, acked(A, true))];
    let then = |mut steps: Vec<Step>, more: Vec<Step>| {
        steps.extend(more);
        steps
    };
    run_table(vec![
        case(
            "an announcement at B: A kept and verified, B greeted",
            then(verified(), vec![announce(1000, P, &[B])]),
            &["upsert verified", "greet peer"],
            CANDIDATE,
        )
        .then(|name, run, effects| {
            let e = run.stored(name, P);
            assert_eq!(
                (e.addrs.as_slice(), e.verified),
                (&[A][..], true),
                "case {name:?}"
            );
            assert_eq!(the_greet(name, effects).addrs, [B], "case {name:?}");
        }),
        case(
            "proven at B: the entry moves to B, still verified",
            then(
                verified(),
                vec![
                    announce(1000, P, &[B]),
                    Step::Greeted(1100, 1, acked(B, true)),
                ],
            ),
            &["upsert verified", "updated", "acked verified"],
            &[],
        )
        .then(|name, run, _| assert_eq!(run.stored(name, P).addrs, [B], "case {name:?}")),
        case(
            "a plain ACK at B proves nothing: A kept",
            then(
                verified(),
                vec![
                    announce(1000, P, &[B]),
                    Step::Greeted(1100, 1, acked(B, false)),
                ],
            ),
            &["acked"],
            &[],
        )
        .then(|name, run, _| {
            let e = run.stored(name, P);
            assert_eq!(
                (e.addrs.as_slice(), e.verified),
                (&[A][..], true),
                "case {name:?}"
            );
        }),
        case(
            "nobody answers at B: A kept",
            then(
                verified(),
                vec![announce(1000, P, &[B]), Step::Greeted(1100, 1, failed(B))],
            ),
            &["failed"],
            &[],
        )
        .then(|name, run, _| assert_eq!(run.stored(name, P).addrs, [A], "case {name:?}")),
        case(
            "an unverified peer's announcement moves it at once (as before)",
            vec![announce(0, P, &[A]), announce(1000, P, &[B])],
            &["upsert", "updated", "greet peer"],
            &[],
        )
        .then(|name, run, _| assert_eq!(run.stored(name, P).addrs, [B], "case {name:?}")),
    ]);
}

/// Issue 13, probe hints as a reflector: hints leading to one address are
/// bounded in flight (one packet can name many fresh ids).
#[test]
fn at_most_4_hint_greetings_go_to_one_address() {
    let mut run = Run::new();
    for n in 0..MAX_HINTS_PER_SOURCE as u16 {
        let greets = run.step(&probe(u64::from(n), many(n), &[A]));
        assert_eq!(shape(&greets), ["greet hint @238"], "hint {n}");
    }
    let dropped = run.step(&probe(10, many(50), &[A]));
    assert!(shape(&dropped).is_empty(), "{:?}", shape(&dropped));
    assert_eq!(count(&run, "probe_hints_dropped"), 1);
    // Another address still gets its hint.
    assert_eq!(
        shape(&run.step(&probe(20, many(60), &[B]))),
        ["greet hint @238"]
    );
}
