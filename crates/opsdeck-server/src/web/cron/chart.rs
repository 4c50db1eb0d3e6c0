//! The geometry of a monitor's duration chart: one bar per recent run, as tall as the run
//! took and coloured by its status, newest on the right. Runs without a duration (missed,
//! still running, unknown) get a short marker so a gap in the job's history shows too.
//! Only coordinates are computed here; `cron_monitor.html` draws the SVG, in the same
//! 1000 × 160 view box as the health page's latency chart.

use opsdeck_core::cron::Run;

use super::{duration_ms, run_class, run_word};
use crate::web::charts::{CHART_HEIGHT, CHART_WIDTH};
use crate::web::format;

/// Bars are at most this wide (in view-box units), so a monitor with three runs does not
/// draw three slabs across the chart.
const MIN_SLOTS: usize = 40;
/// The height of the marker of a run without a duration.
const MARKER_HEIGHT: f64 = 6.0;

/// One run's bar.
#[derive(Debug, Clone)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// The run's status class (`pass`, `fail`, `run`, `none`), plus `marker` for a run
    /// without a duration.
    pub class: String,
    /// What the bar stands for, shown on hover and read by screen readers.
    pub title: String,
}

/// The chart of a monitor's recent runs.
#[derive(Debug, Clone)]
pub struct DurationChart {
    pub bars: Vec<Bar>,
    /// The duration at the top of the chart.
    pub top_label: String,
    pub runs: usize,
    pub failed: usize,
}

/// The chart of `runs` (newest first, as the store lists them); `None` without runs.
pub fn duration_chart(runs: &[Run]) -> Option<DurationChart> {
    if runs.is_empty() {
        return None;
    }
    let top = runs
        .iter()
        .filter_map(|run| run.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = CHART_WIDTH / runs.len().max(MIN_SLOTS) as f64;
    let width = (slot * 0.7).max(1.0);
    let usable = CHART_HEIGHT - 8.0;
    let bars = runs
        .iter()
        .rev()
        .enumerate()
        .map(|(i, run)| {
            // Right-aligned: the newest run sits at the right edge, as on a timeline.
            let x = CHART_WIDTH - (runs.len() - i) as f64 * slot + (slot - width) / 2.0;
            let status = run.status.as_str();
            let (height, class) = match run.duration_ms {
                Some(ms) => (
                    (ms as f64 / top as f64 * usable).max(1.5),
                    run_class(status).to_owned(),
                ),
                None => (MARKER_HEIGHT, format!("{} marker", run_class(status))),
            };
            let when = run
                .started_at
                .or(run.expected_at)
                .or(run.finished_at)
                .map(format::time)
                .unwrap_or_default();
            let took = run
                .duration_ms
                .map_or_else(|| "no duration".to_owned(), duration_ms);
            Bar {
                x: format!("{x:.1}"),
                y: format!("{:.1}", CHART_HEIGHT - height),
                width: format!("{width:.1}"),
                height: format!("{height:.1}"),
                class,
                title: format!("{} · {took} · {when}", run_word(status)),
            }
        })
        .collect();
    Some(DurationChart {
        bars,
        top_label: duration_ms(top),
        runs: runs.len(),
        failed: runs.iter().filter(|r| r.status.is_failure()).count(),
    })
}
