//! Discovery lab: N `node` example processes, each in a network namespace of
//! its own on a namespace-only bridge, measuring how long discovery takes.
//!
//! Does nothing unless given `--run` (so a plain `cargo bench` is harmless).
//! Needs root (`ip netns`). See docs/lab.md for what it creates and how it
//! tears down, and docs/performance.md ("Discovery lab") for figures.
//!
//! ```sh
//! cargo build --release --example node
//! cargo bench --bench lab -- --run --n 2,8 --runs 5 --scenarios burst,leave
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;

#[path = "lab/net.rs"]
mod net;
#[path = "lab/nodes.rs"]
mod nodes;
#[path = "lab/plot.rs"]
mod plot;
#[path = "lab/scenarios.rs"]
mod scenarios;
#[path = "lab/stats.rs"]
mod stats;

use scenarios::Scenario;
use stats::{Csv, Row};

/// Discovery lab: times discovery between `node` processes in network
/// namespaces (root only; see docs/lab.md).
#[derive(Debug, Parser)]
#[command(name = "lab")]
struct Args {
    /// Actually build the lab and measure (without it: print usage, exit 0).
    #[arg(long)]
    run: bool,
    /// Numbers of nodes, comma separated (each ≥ 2).
    #[arg(long, value_delimiter = ',', default_value = "2,8,16")]
    n: Vec<usize>,
    /// Runs per scenario and N.
    #[arg(long, default_value_t = 20)]
    runs: u32,
    /// Scenarios, comma separated: burst, join, leave, crash, idle.
    #[arg(long, value_delimiter = ',', default_value = "burst,join,leave,crash",
          value_parser = Scenario::parse)]
    scenarios: Vec<Scenario>,
    /// Instead of measuring: summarize this CSV of an earlier run and draw
    /// its plot next to it (no root needed).
    #[arg(long, value_name = "CSV")]
    plot_from: Option<PathBuf>,
    /// How long the `idle` scenario lets converged nodes idle (s).
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    /// Directory for the raw CSV (created if missing).
    #[arg(long, default_value = "target/lab")]
    out: PathBuf,
    /// The `node` example binary (default: $TAZCOM_NODE_BIN, else
    /// <target dir>/release/examples/node if built, else the debug one).
    #[arg(long)]
    node: Option<PathBuf>,
    /// An extra argument for every node (repeatable), e.g.
    /// `--node-arg=--no-probe-hints`.
    #[arg(long = "node-arg", value_name = "ARG", allow_hyphen_values = true)]
    node_args: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Benchmark name filters passed by `cargo bench`; ignored.
    #[arg(hide = true)]
    filters: Vec<String>,
}

/// Why the lab stopped early.
#[derive(Debug)]
pub enum LabError {
    /// Not allowed to create namespaces; carries `ip`'s message.
    NotRoot(String),
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// Anything else, described.
    Failed(String),
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRoot(msg) => write!(
                f,
                "the lab needs root to create network namespaces ({msg}); run it as root"
            ),
            Self::Interrupted => write!(f, "interrupted; lab torn down"),
            Self::Failed(msg) => f.write_str(msg),
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

/// True once Ctrl-C or SIGTERM has been received.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Now, in unix milliseconds (the clock the nodes' `t_ms` uses).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(csv) = &args.plot_from {
        return replot(csv);
    }
    if !args.run {
        println!("lab: nothing to do without --run (root only; see docs/lab.md)\n");
        println!(
            "{}",
            <Args as clap::CommandFactory>::command().render_help()
        );
        return ExitCode::SUCCESS;
    }
    match lab(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--plot-from`: the summary and the PNG of a CSV written earlier.
fn replot(csv: &Path) -> ExitCode {
    let rows = match stats::read_csv(csv) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("lab: cannot read {}: {e}", csv.display());
            return ExitCode::FAILURE;
        }
    };
    stats::print_summary(&rows);
    let png = csv.with_extension("png");
    match plot::draw(&stats::summarize(&rows), &png) {
        Ok(()) => {
            println!("plot: {}", png.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lab: no plot: {e}");
            ExitCode::FAILURE
        }
    }
}

fn lab(args: &Args) -> Result<(), LabError> {
    if !is_root() {
        return Err(LabError::NotRoot("effective uid is not 0".into()));
    }
    if let Some(&n) = args.n.iter().find(|&&n| n < 2) {
        return Err(LabError::Failed(format!("--n values must be ≥ 2, got {n}")));
    }
    let bin = node_binary(args)?;
    install_stop_handler()?;
    let key_dir = tempfile::tempdir()
        .map_err(|e| LabError::Failed(format!("cannot create a temp dir: {e}")))?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| LabError::Failed(format!("cannot create {}: {e}", args.out.display())))?;
    let csv_path = args.out.join(format!("lab-{}.csv", unix_ms() / 1000));
    let mut csv = Csv::create(&csv_path)
        .map_err(|e| LabError::Failed(format!("cannot write {}: {e}", csv_path.display())))?;
    let prefix = format!("tzl{}", std::process::id());
    let mut rows = Vec::new();
    eprintln!("lab: node binary {}", bin.display());
    let result = measure(args, &prefix, &bin, key_dir.path(), &mut csv, &mut rows);
    stats::print_summary(&rows);
    println!("raw values: {}", csv_path.display());
    let png = csv_path.with_extension("png");
    match plot::draw(&stats::summarize(&rows), &png) {
        Ok(()) => println!("plot: {}", png.display()),
        Err(e) => eprintln!("lab: no plot: {e}"),
    }
    result
}

/// Every scenario for every N, one lab network per N.
fn measure(
    args: &Args,
    prefix: &str,
    bin: &Path,
    key_dir: &Path,
    csv: &mut Csv,
    rows: &mut Vec<Row>,
) -> Result<(), LabError> {
    let mut run_id = 0u32;
    for &n in &args.n {
        eprintln!("lab: creating {n} hosts ({prefix}-h1..h{n}, 10.78.0.0/24)");
        let net = net::Net::create(prefix, n)?;
        for &scenario in &args.scenarios {
            for run in 1..=args.runs {
                run_id += 1;
                // Unique per run (≤ 15 characters): no run sees another's records.
                let service_type = format!("_tzl{:x}x{run_id:x}._tcp.local.", std::process::id());
                let idle = Duration::from_secs(args.idle_secs);
                let node = nodes::NodeCommand {
                    bin: bin.to_owned(),
                    key_dir: key_dir.to_owned(),
                    extra: args.node_args.clone(),
                };
                let measures =
                    match scenarios::run_once(scenario, &net, n, &node, service_type, idle) {
                        Ok(measures) => measures,
                        Err(LabError::Failed(msg)) => {
                            eprintln!("lab: {} n={n} run {run}: {msg}", scenario.name());
                            vec![scenarios::Measure {
                                name: scenario.name(),
                                value: 0.0,
                                unit: "ms",
                                ok: false,
                            }]
                        }
                        Err(e) => return Err(e),
                    };
                for m in measures {
                    let row = Row {
                        scenario: m.name,
                        n,
                        run,
                        value: m.value,
                        unit: m.unit,
                        ok: m.ok,
                    };
                    eprintln!(
                        "lab: {} n={n} run {run}/{}: {:.1} {}{}",
                        row.scenario,
                        args.runs,
                        row.value,
                        row.unit,
                        if row.ok { "" } else { " (FAILED)" }
                    );
                    csv.write(&row)
                        .map_err(|e| LabError::Failed(format!("cannot write the CSV: {e}")))?;
                    rows.push(row);
                }
            }
        }
    }
    Ok(())
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `--node`, else `$TAZCOM_NODE_BIN`, else `<target>/release/examples/node`
/// if it exists, else `<target>/debug/examples/node`, `<target>` being
/// found from this binary's path (`<target>/<profile>/deps/lab-<hash>`).
fn node_binary(args: &Args) -> Result<PathBuf, LabError> {
    let bin = match (&args.node, std::env::var_os("TAZCOM_NODE_BIN")) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => PathBuf::from(p),
        (None, None) => {
            let target = std::env::current_exe()
                .ok()
                .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_owned()))
                .ok_or_else(|| {
                    LabError::Failed("cannot locate the target dir; use --node".into())
                })?;
            let release = target.join("release").join("examples").join("node");
            if release.is_file() {
                release
            } else {
                target.join("debug").join("examples").join("node")
            }
        }
    };
    if !bin.is_file() {
        return Err(LabError::Failed(format!(
            "{} not found: run `cargo build --release --example node` first, or pass --node",
            bin.display()
        )));
    }
    // `ip netns exec` runs it after changing namespaces, not directories.
    bin.canonicalize()
        .map_err(|e| LabError::Failed(format!("{}: {e}", bin.display())))
}

/// Turns Ctrl-C / SIGTERM into [`stop_requested`], so that the running
/// scenario returns and the guards tear the lab down. A second signal exits
/// at once (namespaces may then be left; docs/lab.md says how to remove them).
fn install_stop_handler() -> Result<(), LabError> {
    use tokio::signal::unix::{signal, SignalKind};
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return drop(ready_tx.send(Err(e.to_string()))),
        };
        rt.block_on(async {
            let (mut int, mut term) = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(i), Ok(t)) => (i, t),
                (Err(e), _) | (_, Err(e)) => return drop(ready_tx.send(Err(e.to_string()))),
            };
            let _ = ready_tx.send(Ok(()));
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if STOP.swap(true, Ordering::Relaxed) {
                    eprintln!("lab: second signal: exiting without teardown");
                    std::process::exit(130);
                }
                eprintln!("lab: stopping; tearing the lab down");
            }
        });
    });
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(LabError::Failed(format!("cannot watch signals: {e}"))),
        Err(_) => Err(LabError::Failed("signal thread died".into())),
    }
}
