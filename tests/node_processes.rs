//! End to end, as processes: `node` examples on loopback find and greet each
//! other over real mDNS, a third joins, and a SIGTERMed one is removed.
//!
//! mDNS must never reach a real network, so this test refuses to run unless
//! loopback is the only interface with an address; run it through
//! `scripts/test.sh` (a private network namespace), or:
//! `unshare -n sh -c 'ip link set lo up; cargo test --test node_processes'`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tazcom_node::NodeEvent;

mod common;
use common::{random_service_type, require_private_network};

/// One event line from one node.
struct Line {
    node: usize,
    json: Value,
    /// The line read as a `NodeEvent` (`None` for the final `metrics` line).
    event: Option<NodeEvent>,
}

/// An event line of the `node` example: the event's JSON form and `t_ms`.
#[derive(serde::Deserialize)]
struct EventLine {
    #[allow(dead_code)] // present on every line; checked on the raw JSON
    t_ms: u64,
    #[serde(flatten)]
    event: NodeEvent,
}

impl Line {
    /// The event's name and the peer it is about (for `ready`, the node).
    fn name_and_peer(&self) -> (&'static str, String) {
        match &self.event {
            Some(NodeEvent::Ready { peer, .. }) => ("ready", peer.to_string()),
            Some(e) => (
                e.name(),
                e.peer().map(|p| p.to_string()).unwrap_or_default(),
            ),
            None => ("metrics", String::new()),
        }
    }
}

/// Node processes, killed when dropped (also when an assertion fails).
struct Nodes {
    children: Vec<Child>,
    peers: Vec<String>,
    tx: mpsc::Sender<Line>,
    rx: mpsc::Receiver<Line>,
    dir: tempfile::TempDir,
    service_type: String,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn node_binary() -> PathBuf {
    // target/debug/deps/<this test> → target/debug/examples/node
    let exe = std::env::current_exe().expect("test executable path");
    let debug = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = debug.join("examples").join("node");
    assert!(
        bin.exists(),
        "{} not built (cargo test builds examples)",
        bin.display()
    );
    bin
}

impl Nodes {
    fn new() -> Self {
        require_private_network();
        let (tx, rx) = mpsc::channel();
        Self {
            children: Vec::new(),
            peers: Vec::new(),
            tx,
            rx,
            dir: tempfile::tempdir().expect("temp dir"),
            service_type: random_service_type(),
        }
    }

    /// Starts node `i` (its index) and returns its peer id from `ready`.
    fn start(&mut self) -> usize {
        let i = self.children.len();
        let mut child = Command::new(node_binary())
            .args([
                "--interface",
                "lo",
                "--json",
                "--service-type",
                &self.service_type,
            ])
            .arg("--key")
            .arg(self.dir.path().join(format!("n{i}.key")))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node");
        let stdout = child.stdout.take().expect("stdout");
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let json: Value = serde_json::from_str(&line).expect("each stdout line is JSON");
                let event = (json["event"] != "metrics").then(|| {
                    let typed: EventLine = serde_json::from_value(json.clone())
                        .unwrap_or_else(|e| panic!("not a NodeEvent line ({e}): {line}"));
                    typed.event
                });
                if tx
                    .send(Line {
                        node: i,
                        json,
                        event,
                    })
                    .is_err()
                {
                    break;
                }
            }
        });
        self.children.push(child);
        let ready = self.wait_for(Duration::from_secs(10), |l| {
            l.node == i && l.name_and_peer().0 == "ready"
        });
        assert_eq!(ready.len(), 1);
        self.peers.push(ready[0].name_and_peer().1);
        i
    }

    /// Collects lines until `done` holds for the set seen so far.
    fn wait_until(&self, limit: Duration, mut done: impl FnMut(&Line) -> bool) -> bool {
        let start = Instant::now();
        loop {
            let left = limit.checked_sub(start.elapsed()).unwrap_or_default();
            match self.rx.recv_timeout(left) {
                Ok(line) if done(&line) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    fn wait_for(&self, limit: Duration, want: impl Fn(&Line) -> bool) -> Vec<Line> {
        let mut keep = None;
        let done = self.wait_until(limit, |l| {
            if want(l) {
                keep = Some(Line {
                    node: l.node,
                    json: l.json.clone(),
                    event: l.event.clone(),
                });
                true
            } else {
                false
            }
        });
        assert!(done, "no matching event within {limit:?}");
        keep.into_iter().collect()
    }

    /// Waits until every directed pair among `nodes` has `discovered` and
    /// `hello_acked`; `seen` holds every (node, event, peer) read so far.
    fn converge(
        &self,
        nodes: &[usize],
        seen: &mut HashSet<(usize, String, String)>,
        limit: Duration,
    ) {
        let mut needed = Vec::new();
        for &a in nodes {
            for &b in nodes.iter().filter(|&&b| b != a) {
                for ev in ["discovered", "hello_acked"] {
                    needed.push((a, ev.to_owned(), self.peers[b].clone()));
                }
            }
        }
        let done = |seen: &HashSet<_>| needed.iter().all(|k| seen.contains(k));
        if done(seen) {
            return;
        }
        let finished = self.wait_until(limit, |l| {
            let (ev, peer) = l.name_and_peer();
            seen.insert((l.node, ev.to_owned(), peer));
            done(seen)
        });
        let missing: Vec<_> = needed.iter().filter(|k| !seen.contains(*k)).collect();
        assert!(
            finished,
            "not converged within {limit:?}; missing (node, event, peer): {missing:?}"
        );
    }

    fn sigterm(&mut self, i: usize) {
        let pid = self.children[i].id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

#[test]
fn nodes_find_greet_join_and_leave() {
    let mut nodes = Nodes::new();
    let mut seen = HashSet::new();
    let (a, b) = (nodes.start(), nodes.start());
    nodes.converge(&[a, b], &mut seen, Duration::from_secs(5));

    let c = nodes.start();
    nodes.converge(&[a, b, c], &mut seen, Duration::from_secs(5));

    nodes.sigterm(a);
    let gone = nodes.peers[a].clone();
    let mut waiting: HashSet<usize> = [b, c].into();
    let mut stopped = false;
    let done = nodes.wait_until(Duration::from_secs(2), |l| {
        let (ev, peer) = l.name_and_peer();
        if ev == "removed" && peer == gone {
            waiting.remove(&l.node);
        }
        stopped |= l.node == a && ev == "stopped";
        waiting.is_empty() && stopped
    });
    assert!(
        done,
        "within 2 s of SIGTERM: still waiting for removal at {waiting:?}, stopped={stopped}"
    );
    let status = nodes.children[a].wait().expect("wait");
    assert!(status.success(), "SIGTERM is a clean exit: {status}");
    for line in nodes.rx.try_iter() {
        assert!(
            line.json["t_ms"].as_u64().is_some(),
            "every line carries t_ms"
        );
    }
}
