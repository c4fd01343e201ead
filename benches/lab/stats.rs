//! Summary statistics and the raw CSV.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// One measured value of one run.
pub(crate) struct Row {
    /// The scenario name, or for the `idle` scenario one of its measures:
    /// `idle_rss` (kB), `liveness` (checks per directed peer pair per
    /// minute) and `liveness_tcp_bytes` (TCP bytes per peer pair per
    /// minute while idle, when `nft` is installed).
    pub(crate) scenario: &'static str,
    pub(crate) n: usize,
    pub(crate) run: u32,
    pub(crate) value: f64,
    /// `ms`, `kB`, `per_peer_min` or `B_per_pair_min`.
    pub(crate) unit: &'static str,
    pub(crate) ok: bool,
}

/// The raw CSV (`scenario,n,run,value,unit,ok`), flushed per row so that
/// an interrupted lab keeps what it measured.
pub(crate) struct Csv(File);

impl Csv {
    /// Creates (truncates) `path` and writes the header.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        let mut f = File::create(path)?;
        writeln!(f, "scenario,n,run,value,unit,ok")?;
        Ok(Self(f))
    }

    /// Appends one row.
    pub(crate) fn write(&mut self, r: &Row) -> io::Result<()> {
        writeln!(
            self.0,
            "{},{},{},{},{},{}",
            r.scenario, r.n, r.run, r.value, r.unit, r.ok
        )?;
        self.0.flush()
    }
}

/// Reads a CSV written by [`Csv`] (for `--plot-from`). Rows whose scenario
/// or unit this lab does not write are skipped.
pub(crate) fn read_csv(path: &Path) -> io::Result<Vec<Row>> {
    const NAMES: [&str; 7] = [
        "burst",
        "join",
        "leave",
        "crash",
        "idle_rss",
        "liveness",
        "liveness_tcp_bytes",
    ];
    const UNITS: [&str; 4] = ["ms", "kB", "per_peer_min", "B_per_pair_min"];
    let text = std::fs::read_to_string(path)?;
    let rows = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let [scenario, n, run, value, unit, ok] = f.as_slice() else {
                return None;
            };
            Some(Row {
                scenario: NAMES.into_iter().find(|s| s == scenario)?,
                n: n.parse().ok()?,
                run: run.parse().ok()?,
                value: value.parse().ok()?,
                unit: UNITS.into_iter().find(|u| u == unit)?,
                ok: ok.parse().ok()?,
            })
        })
        .collect();
    Ok(rows)
}

/// Min / median / p95 / max of the successful runs of one scenario and N.
pub(crate) struct Summary {
    pub(crate) scenario: &'static str,
    pub(crate) n: usize,
    pub(crate) unit: &'static str,
    pub(crate) ok: usize,
    pub(crate) runs: usize,
    /// `[min, median, p95, max]`, `None` when no run succeeded.
    pub(crate) quantiles: Option<[f64; 4]>,
}

/// One [`Summary`] per scenario and N, in first-seen order.
pub(crate) fn summarize(rows: &[Row]) -> Vec<Summary> {
    let mut keys: Vec<(&'static str, usize)> = Vec::new();
    for r in rows {
        if !keys.contains(&(r.scenario, r.n)) {
            keys.push((r.scenario, r.n));
        }
    }
    keys.into_iter()
        .map(|(scenario, n)| {
            let group: Vec<&Row> = rows
                .iter()
                .filter(|r| r.scenario == scenario && r.n == n)
                .collect();
            let mut values: Vec<f64> = group.iter().filter(|r| r.ok).map(|r| r.value).collect();
            values.sort_by(f64::total_cmp);
            let q = |q| nearest_rank(&values, q);
            let quantiles = (|| Some([q(0.0)?, q(0.5)?, q(0.95)?, q(1.0)?]))();
            Summary {
                scenario,
                n,
                unit: group.first().map_or("", |r| r.unit),
                ok: values.len(),
                runs: group.len(),
                quantiles,
            }
        })
        .collect()
}

/// Prints min / median / p95 / max (successful runs only) and the success
/// count for each scenario and N.
pub(crate) fn print_summary(rows: &[Row]) {
    println!(
        "{:<18} {:>4} {:>7} {:>9} {:>9} {:>9} {:>9}  unit",
        "scenario", "n", "ok", "min", "median", "p95", "max"
    );
    for s in summarize(rows) {
        let ok = format!("{}/{}", s.ok, s.runs);
        let cells = s.quantiles.map_or_else(
            || {
                [
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                ]
            },
            |q| q.map(|v| format_value(v, s.unit)),
        );
        println!(
            "{:<18} {:>4} {ok:>7} {:>9} {:>9} {:>9} {:>9}  {}",
            s.scenario, s.n, cells[0], cells[1], cells[2], cells[3], s.unit
        );
    }
}

fn format_value(v: f64, unit: &str) -> String {
    if unit == "per_peer_min" {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Nearest-rank quantile `q` (0..=1) of sorted `v`; `None` when empty.
fn nearest_rank(v: &[f64], q: f64) -> Option<f64> {
    let last = v.len().checked_sub(1)?;
    // ceil(q·len) as a 1-based rank, clamped to 1..=len.
    let rank = (q * v.len() as f64).ceil() as usize;
    v.get(rank.saturating_sub(1).min(last)).copied()
}
