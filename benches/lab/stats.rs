//! Summary statistics and the raw CSV.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// One measured run.
pub struct Row {
    pub scenario: &'static str,
    pub n: usize,
    pub run: u32,
    pub ms: u64,
    pub ok: bool,
}

/// The raw CSV (`scenario,n,run,ms,ok`), flushed per row so that an
/// interrupted lab keeps what it measured.
pub struct Csv(File);

impl Csv {
    /// Creates (truncates) `path` and writes the header.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut f = File::create(path)?;
        writeln!(f, "scenario,n,run,ms,ok")?;
        Ok(Self(f))
    }

    /// Appends one row.
    pub fn write(&mut self, r: &Row) -> io::Result<()> {
        writeln!(self.0, "{},{},{},{},{}", r.scenario, r.n, r.run, r.ms, r.ok)?;
        self.0.flush()
    }
}

/// Prints min / median / p95 / max (ms, successful runs only) and the
/// success count for each scenario and N, in first-seen order.
pub fn print_summary(rows: &[Row]) {
    println!(
        "{:<8} {:>4} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "scenario", "n", "ok", "min", "median", "p95", "max"
    );
    let mut keys: Vec<(&str, usize)> = Vec::new();
    for r in rows {
        if !keys.contains(&(r.scenario, r.n)) {
            keys.push((r.scenario, r.n));
        }
    }
    for (scenario, n) in keys {
        let group: Vec<&Row> = rows
            .iter()
            .filter(|r| r.scenario == scenario && r.n == n)
            .collect();
        let mut ms: Vec<u64> = group.iter().filter(|r| r.ok).map(|r| r.ms).collect();
        ms.sort_unstable();
        let ok = format!("{}/{}", ms.len(), group.len());
        let cell = |q: f64| nearest_rank(&ms, q).map_or("-".to_owned(), |v| v.to_string());
        println!(
            "{scenario:<8} {n:>4} {ok:>7} {:>8} {:>8} {:>8} {:>8}",
            cell(0.0),
            cell(0.5),
            cell(0.95),
            cell(1.0)
        );
    }
}

/// Nearest-rank quantile `q` (0..=1) of sorted `v`; `None` when empty.
fn nearest_rank(v: &[u64], q: f64) -> Option<u64> {
    let last = v.len().checked_sub(1)?;
    // ceil(q·len) as a 1-based rank, clamped to 1..=len.
    let rank = (q * v.len() as f64).ceil() as usize;
    v.get(rank.saturating_sub(1).min(last)).copied()
}
