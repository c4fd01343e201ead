//! The `node` example processes of one run, one per lab host, and the events
//! they print (`--json`: one `NodeEvent` per line, with `t_ms`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tazcom_node::{NodeEvent, PeerId};

use crate::net::Net;
use crate::{stop_requested, LabError};

/// How long a SIGTERMed node may take to exit before it is SIGKILLed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One event line: which node printed it, its kind, its peer, its `t_ms`
/// (unix ms, the node's clock, which is this machine's clock), and the
/// whole object for `metrics` lines.
struct Event {
    node: usize,
    kind: String,
    peer: Option<String>,
    t_ms: u64,
    metrics: Option<Value>,
}

/// How to start a node: the binary, where keys go, extra arguments.
pub(crate) struct NodeCommand {
    pub(crate) bin: PathBuf,
    pub(crate) key_dir: PathBuf,
    pub(crate) extra: Vec<String>,
}

/// Node processes of one run; SIGKILLed and reaped when dropped.
pub(crate) struct Nodes<'a> {
    command: &'a NodeCommand,
    service_type: String,
    children: Vec<Option<Child>>,
    /// Peer id of each node, from its `ready` event.
    ids: Vec<Option<String>>,
    /// Every time node `i` reported `kind` about `peer`, in arrival order.
    seen: HashMap<(usize, String, String), Vec<u64>>,
    /// The `metrics` line each node printed as it stopped.
    metrics: HashMap<usize, Value>,
    tx: mpsc::Sender<Event>,
    rx: mpsc::Receiver<Event>,
}

impl<'a> Nodes<'a> {
    /// No process yet; `service_type` should be unique to the run so that
    /// nothing left from an earlier run is ever seen.
    pub(crate) fn new(command: &'a NodeCommand, service_type: String) -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            command,
            service_type,
            children: Vec::new(),
            ids: Vec::new(),
            seen: HashMap::new(),
            metrics: HashMap::new(),
            tx,
            rx,
        }
    }

    /// Starts the next node (index = number started so far) on host
    /// `net.host(index)`; its stdout is read by a thread of its own.
    pub(crate) fn spawn(&mut self, net: &Net) -> Result<usize, LabError> {
        let i = self.children.len();
        let key = self.command.key_dir.join(format!("h{}.key", i + 1));
        let mut child = Command::new("ip")
            .args(["netns", "exec", net.host(i)])
            .arg(&self.command.bin)
            .args(["--json", "--interface", "eth0", "--service-type"])
            .arg(&self.service_type)
            .arg("--key")
            .arg(&key)
            .args(&self.command.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| LabError::Failed(format!("cannot start node {i}: {e}")))?;
        let stdout = child.stdout.take();
        self.children.push(Some(child));
        self.ids.push(None);
        if let Some(stdout) = stdout {
            let tx = self.tx.clone();
            std::thread::spawn(move || read_events(i, stdout, &tx));
        }
        Ok(i)
    }

    /// Sends SIGTERM (graceful: the node says goodbye) to node `i`.
    pub(crate) fn terminate(&mut self, i: usize) -> Result<(), LabError> {
        let Some(child) = self.children.get(i).and_then(Option::as_ref) else {
            return Err(LabError::Failed(format!("node {i} is not running")));
        };
        let status = Command::new("kill")
            .args(["-s", "TERM", &child.id().to_string()])
            .status()
            .map_err(|e| LabError::Failed(format!("cannot run kill: {e}")))?;
        if !status.success() {
            return Err(LabError::Failed(format!("kill -TERM node {i} failed")));
        }
        Ok(())
    }

    /// Sends SIGKILL (a crash: no goodbye) to node `i` and reaps it.
    pub(crate) fn crash(&mut self, i: usize) -> Result<(), LabError> {
        let Some(mut child) = self.children.get_mut(i).and_then(Option::take) else {
            return Err(LabError::Failed(format!("node {i} is not running")));
        };
        let _ = child.kill();
        let _ = child.wait();
        Ok(())
    }

    /// Peak resident set size (`VmHWM`, kB) of node `i`, from
    /// `/proc/<pid>/status` (`ip netns exec` execs the node, same pid).
    pub(crate) fn vm_hwm_kb(&self, i: usize) -> Result<u64, LabError> {
        let child = self
            .children
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| LabError::Failed(format!("node {i} is not running")))?;
        let path = format!("/proc/{}/status", child.id());
        let status = std::fs::read_to_string(&path)
            .map_err(|e| LabError::Failed(format!("cannot read {path}: {e}")))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| LabError::Failed(format!("no VmHWM in {path}")))
    }

    /// Sum of the counter `name` over the `metrics` lines of every node that
    /// printed one, and how many did.
    pub(crate) fn metric_sum(&self, name: &str) -> (u64, usize) {
        let sum = self.metrics.values().filter_map(|m| m[name].as_u64()).sum();
        (sum, self.metrics.len())
    }

    /// Stops every node: SIGTERM, then SIGKILL after [`STOP_GRACE`]; then
    /// reads what they printed on the way out (their `metrics` lines).
    pub(crate) fn stop_all(&mut self) {
        for i in 0..self.children.len() {
            let _ = self.terminate(i);
        }
        let deadline = Instant::now() + STOP_GRACE;
        for slot in &mut self.children {
            let Some(mut child) = slot.take() else {
                continue;
            };
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // The readers end once the exited nodes' stdout is drained.
        while let Ok(event) = self.rx.recv_timeout(Duration::from_millis(200)) {
            self.record(event);
        }
    }

    /// Latest time at which every ordered pair (a, b) in `pairs` has both
    /// `discovered` and `hello_acked` (first occurrence of each), if all have.
    pub(crate) fn pairs_done(&self, pairs: &[(usize, usize)]) -> Option<u64> {
        let mut latest = 0;
        for &(a, b) in pairs {
            for kind in ["discovered", "hello_acked"] {
                latest = latest.max(self.first(a, kind, b, 0)?);
            }
        }
        Some(latest)
    }

    /// Latest time at which each of `others` reported `removed` for `gone`
    /// at or after `since_ms`, if all have.
    pub(crate) fn removed_done(&self, gone: usize, others: &[usize], since_ms: u64) -> Option<u64> {
        let mut latest = 0;
        for &a in others {
            latest = latest.max(self.first(a, "removed", gone, since_ms)?);
        }
        Some(latest)
    }

    /// First time at or after `since_ms` node `a` reported `kind` about node `b`.
    fn first(&self, a: usize, kind: &str, b: usize, since_ms: u64) -> Option<u64> {
        let peer = self.ids.get(b)?.clone()?;
        let times = self.seen.get(&(a, kind.to_owned(), peer))?;
        times.iter().copied().find(|&t| t >= since_ms)
    }

    /// Reads events until `done` returns a time (`Ok(Some)`), the deadline
    /// passes (`Ok(None)`) or a stop is requested (`Err(Interrupted)`).
    pub(crate) fn wait_for(
        &mut self,
        timeout: Duration,
        done: impl Fn(&Self) -> Option<u64>,
    ) -> Result<Option<u64>, LabError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(t) = done(self) {
                return Ok(Some(t));
            }
            if stop_requested() {
                return Err(LabError::Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(event) => self.record(event),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
            }
            while let Ok(event) = self.rx.try_recv() {
                self.record(event);
            }
        }
    }

    fn record(&mut self, event: Event) {
        if let Some(metrics) = event.metrics {
            self.metrics.insert(event.node, metrics);
            return;
        }
        let Some(peer) = event.peer else { return };
        if event.kind == "ready" {
            if let Some(id) = self.ids.get_mut(event.node) {
                *id = Some(peer);
            }
            return;
        }
        self.seen
            .entry((event.node, event.kind, peer))
            .or_default()
            .push(event.t_ms);
    }
}

impl Drop for Nodes<'_> {
    fn drop(&mut self) {
        for mut child in self.children.iter_mut().filter_map(Option::take) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Forwards node `node`'s JSON lines until its stdout closes. Event lines
/// are read as `NodeEvent`s (the schema of `docs/node.md`), so a renamed
/// event or field fails loudly here; lines that are not JSON are skipped.
fn read_events(node: usize, stdout: impl std::io::Read, tx: &mpsc::Sender<Event>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let event = if v["event"] == "metrics" {
            let Some(t_ms) = v["t_ms"].as_u64() else {
                continue;
            };
            Event {
                node,
                kind: "metrics".to_owned(),
                peer: None,
                t_ms,
                metrics: Some(v),
            }
        } else {
            match serde_json::from_value::<Line>(v) {
                Ok(l) => Event {
                    node,
                    kind: l.event.name().to_owned(),
                    peer: subject(&l.event).map(|p| p.to_string()),
                    t_ms: l.t_ms,
                    metrics: None,
                },
                Err(e) => {
                    eprintln!("lab: node {node} printed an event outside the schema ({e}): {line}");
                    continue;
                }
            }
        };
        if tx.send(event).is_err() {
            break;
        }
    }
}

/// One event line of the `node` example: `t_ms` and the event.
#[derive(serde::Deserialize)]
struct Line {
    t_ms: u64,
    #[serde(flatten)]
    event: NodeEvent,
}

/// The peer an event is about; for `ready`, the node itself.
fn subject(event: &NodeEvent) -> Option<PeerId> {
    match event {
        NodeEvent::Ready { peer, .. } => Some(*peer),
        other => other.peer(),
    }
}
