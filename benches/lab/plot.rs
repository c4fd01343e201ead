//! The PNG plot: time vs N, one line per timed scenario (median), with the
//! p95 of each point drawn as a small cross above it.

use std::path::Path;

use plotters::prelude::*;

use crate::stats::Summary;

/// The TrueType font for labels (Debian package `fonts-dejavu-core`).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// Draws the `ms` summaries into `path` (800×500 PNG, log-scale time axis).
pub(crate) fn draw(summaries: &[Summary], path: &Path) -> Result<(), String> {
    let timed: Vec<&Summary> = summaries
        .iter()
        .filter(|s| s.unit == "ms" && s.quantiles.is_some())
        .collect();
    if timed.is_empty() {
        return Err("no successful timed run to plot".into());
    }
    register_font()?;
    let max_n = timed.iter().map(|s| s.n).max().unwrap_or(2) as f64;
    let max_ms = timed
        .iter()
        .filter_map(|s| s.quantiles.map(|q| q[2]))
        .fold(10.0, f64::max);
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "TAZCOM discovery lab: median (line) and p95 (x) vs N",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_n + 1.0, (1.0..max_ms * 2.0).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("N (nodes)")
        .y_desc("ms")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|e| e.to_string())?;
    let mut scenarios: Vec<&str> = Vec::new();
    for s in &timed {
        if !scenarios.contains(&s.scenario) {
            scenarios.push(s.scenario);
        }
    }
    for (i, scenario) in scenarios.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64, f64)> = timed
            .iter()
            .filter(|s| s.scenario == *scenario)
            .filter_map(|s| {
                s.quantiles
                    .map(|q| (s.n as f64, q[1].max(1.0), q[2].max(1.0)))
            })
            .collect();
        let median = points.iter().map(|&(n, m, _)| (n, m));
        chart
            .draw_series(LineSeries::new(median.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(*scenario)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(median.map(|p| Circle::new(p, 4, color.filled())))
            .map_err(|e| e.to_string())?;
        let p95 = points.iter().map(|&(n, _, p)| Cross::new((n, p), 5, color));
        chart.draw_series(p95).map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Registers [`FONT`] as `sans-serif` (plotters' `ab_glyph` text needs one).
fn register_font() -> Result<(), String> {
    let bytes = std::fs::read(FONT)
        .map_err(|e| format!("cannot read {FONT} (install fonts-dejavu-core): {e}"))?;
    // plotters keeps fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{FONT} is not a font plotters can read"))
}
