//! The measured scenarios. Each run starts fresh node processes with a
//! service type of its own and stops them all at the end.

use std::time::Duration;

use crate::net::Net;
use crate::nodes::{NodeCommand, Nodes};
use crate::{unix_ms, LabError};

/// Bound on convergence and on the burst, join and leave measurements.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the crash measurement (without liveness checks removal waits
/// for the 120 s SRV TTL).
const CRASH_TIMEOUT: Duration = Duration::from_secs(150);

/// What one run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// N nodes started back to back; from the last spawn until all N(N−1)
    /// directed pairs have `discovered` and `hello_acked`.
    Burst,
    /// N−1 converged, one more starts; until all pairs with it are done.
    Join,
    /// One of N converged nodes gets SIGTERM; until every other node
    /// reports `removed` for it.
    Leave,
    /// As `Leave`, with SIGKILL (no goodbye).
    Crash,
    /// N nodes converge, then idle: each node's peak RSS (`VmHWM`), and the
    /// liveness PINGs sent per peer per minute.
    Idle,
}

impl Scenario {
    /// Parses `burst`, `join`, `leave` or `crash`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s {
            "burst" => Ok(Self::Burst),
            "join" => Ok(Self::Join),
            "leave" => Ok(Self::Leave),
            "crash" => Ok(Self::Crash),
            "idle" => Ok(Self::Idle),
            other => Err(format!(
                "unknown scenario {other:?} (burst, join, leave, crash, idle)"
            )),
        }
    }

    /// The name used in flags and in the CSV.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Burst => "burst",
            Self::Join => "join",
            Self::Leave => "leave",
            Self::Crash => "crash",
            Self::Idle => "idle",
        }
    }
}

/// One value a run measured: a time in ms (until the timeout when `ok` is
/// false), or for `idle` a size or a rate.
pub(crate) struct Measure {
    pub(crate) name: &'static str,
    pub(crate) value: f64,
    pub(crate) unit: &'static str,
    pub(crate) ok: bool,
}

/// Runs `scenario` once with `n` nodes on `net`; `idle` is how long the
/// `idle` scenario waits after convergence.
pub(crate) fn run_once(
    scenario: Scenario,
    net: &Net,
    n: usize,
    node: &NodeCommand,
    service_type: String,
    idle: Duration,
) -> Result<Vec<Measure>, LabError> {
    let mut nodes = Nodes::new(node, service_type);
    let timed = |o: Result<Outcome, LabError>| {
        o.map(|o| {
            vec![Measure {
                name: scenario.name(),
                value: o.ms as f64,
                unit: "ms",
                ok: o.ok,
            }]
        })
    };
    let measures = match scenario {
        Scenario::Burst => timed(burst(&mut nodes, net, n)),
        Scenario::Join => timed(join(&mut nodes, net, n)),
        Scenario::Leave | Scenario::Crash => timed(departure(&mut nodes, net, n, scenario)),
        Scenario::Idle => return idle_run(&mut nodes, net, n, idle),
    };
    nodes.stop_all();
    measures
}

/// Milliseconds measured (the timeout when `ok` is false).
struct Outcome {
    ms: u64,
    ok: bool,
}

fn burst(nodes: &mut Nodes, net: &Net, n: usize) -> Result<Outcome, LabError> {
    for _ in 0..n {
        nodes.spawn(net)?;
    }
    let t0 = unix_ms();
    let pairs = all_pairs(0..n);
    let done = nodes.wait_for(TIMEOUT, |s| s.pairs_done(&pairs))?;
    Ok(outcome(t0, done, TIMEOUT))
}

fn join(nodes: &mut Nodes, net: &Net, n: usize) -> Result<Outcome, LabError> {
    converge(nodes, net, n - 1)?;
    let new = nodes.spawn(net)?;
    let t0 = unix_ms();
    let pairs: Vec<_> = (0..new).flat_map(|i| [(i, new), (new, i)]).collect();
    let done = nodes.wait_for(TIMEOUT, |s| s.pairs_done(&pairs))?;
    Ok(outcome(t0, done, TIMEOUT))
}

fn departure(
    nodes: &mut Nodes,
    net: &Net,
    n: usize,
    scenario: Scenario,
) -> Result<Outcome, LabError> {
    converge(nodes, net, n)?;
    let gone = n - 1;
    let others: Vec<usize> = (0..gone).collect();
    let t0 = unix_ms();
    let timeout = if scenario == Scenario::Crash {
        nodes.crash(gone)?;
        CRASH_TIMEOUT
    } else {
        nodes.terminate(gone)?;
        TIMEOUT
    };
    let done = nodes.wait_for(timeout, |s| s.removed_done(gone, &others, t0))?;
    Ok(outcome(t0, done, timeout))
}

/// Converges `n` nodes, idles for `idle`, then reads the largest `VmHWM`
/// among them; from the `metrics` lines they print as they stop, the
/// liveness checks per directed peer pair per minute (TCP PINGs and
/// keep-alives over sessions); and, when `nft` is installed, the TCP bytes
/// (IP and TCP headers included) all nodes sent while idle, per unordered
/// peer pair per minute.
fn idle_run(
    nodes: &mut Nodes,
    net: &Net,
    n: usize,
    idle: Duration,
) -> Result<Vec<Measure>, LabError> {
    // The rate counts every check since the spawns (convergence included).
    let spawned = std::time::Instant::now();
    let converged = converge(nodes, net, n);
    let measured = converged.and_then(|()| {
        let counting = net.count_tcp()?;
        let idle_from = std::time::Instant::now();
        while idle_from.elapsed() < idle {
            if crate::stop_requested() {
                return Err(LabError::Interrupted);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let idle_minutes = idle_from.elapsed().as_secs_f64() / 60.0;
        let bytes = match counting {
            true => Some((0..n).map(|i| net.tcp_bytes(i)).sum::<Result<u64, _>>()?),
            false => None,
        };
        let peak = (0..n)
            .map(|i| nodes.vm_hwm_kb(i))
            .try_fold(0, |max, kb| Ok(max.max(kb?)))?;
        Ok((peak, bytes.map(|b| (b, idle_minutes))))
    });
    let minutes = spawned.elapsed().as_secs_f64() / 60.0;
    nodes.stop_all();
    let (peak_kb, bytes) = measured?;
    let (pings, reported) = nodes.metric_sum("pings_sent");
    let (keepalives, _) = nodes.metric_sum("keepalives_sent");
    let pairs = (n * (n - 1)) as f64;
    let mut measures = vec![
        Measure {
            name: "idle_rss",
            value: peak_kb as f64,
            unit: "kB",
            ok: true,
        },
        Measure {
            name: "liveness",
            value: (pings + keepalives) as f64 / pairs / minutes,
            unit: "per_peer_min",
            ok: reported == n,
        },
    ];
    if let Some((bytes, idle_minutes)) = bytes {
        measures.push(Measure {
            name: "liveness_tcp_bytes",
            value: bytes as f64 / (pairs / 2.0) / idle_minutes,
            unit: "B_per_pair_min",
            ok: true,
        });
    }
    Ok(measures)
}

/// Starts `count` nodes and waits until every pair has greeted; a run whose
/// set-up does not converge is an error for that run.
fn converge(nodes: &mut Nodes, net: &Net, count: usize) -> Result<(), LabError> {
    for _ in 0..count {
        nodes.spawn(net)?;
    }
    let pairs = all_pairs(0..count);
    match nodes.wait_for(TIMEOUT, |s| s.pairs_done(&pairs))? {
        Some(_) => Ok(()),
        None => Err(LabError::Failed(format!(
            "{count} nodes did not converge within {} s",
            TIMEOUT.as_secs()
        ))),
    }
}

fn all_pairs(range: std::ops::Range<usize>) -> Vec<(usize, usize)> {
    let r2 = range.clone();
    range
        .flat_map(|a| r2.clone().filter(move |&b| b != a).map(move |b| (a, b)))
        .collect()
}

fn outcome(t0: u64, done: Option<u64>, timeout: Duration) -> Outcome {
    match done {
        Some(t) => Outcome {
            ms: t.saturating_sub(t0),
            ok: true,
        },
        None => Outcome {
            ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            ok: false,
        },
    }
}
