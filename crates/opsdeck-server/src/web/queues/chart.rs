//! The geometry of a queue's two charts over the last 24 hours: its backlog (jobs waiting)
//! and its failures (failures in the last hour where the system reports them, else the
//! failed count), from the history samples. Only coordinates are computed here;
//! `queue.html` draws the SVG in the same 1000 × 160 view box as the other charts.

use chrono::{DateTime, Utc};
use opsdeck_core::queues::QueueSample;

use crate::web::charts::{CHART_HEIGHT, CHART_WIDTH};
use crate::web::format;

/// A line of samples.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// The SVG path: a gap in the history is a gap in the line.
    pub path: String,
    /// The value at the top of the chart.
    pub top: u64,
    pub samples: usize,
    /// When the first sample was taken.
    pub since: String,
}

/// Samples further apart than this many minutes are drawn with a gap between them: a
/// point is kept a minute, but a slow source is polled every few minutes.
const GAP_MINUTES: i64 = 30;

fn line(
    points: &[(DateTime<Utc>, u64)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<LineChart> {
    let first = points.first()?;
    let top = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let span = (end - start).num_milliseconds().max(1) as f64;
    let x_of = |at: DateTime<Utc>| {
        (((at - start).num_milliseconds() as f64 / span) * CHART_WIDTH).clamp(0.0, CHART_WIDTH)
    };
    let y_of = |v: u64| CHART_HEIGHT - 4.0 - (v as f64 / top as f64) * (CHART_HEIGHT - 8.0);
    let mut path = String::new();
    let mut last: Option<DateTime<Utc>> = None;
    for (at, value) in points {
        let verb = match last {
            Some(prev) if (*at - prev).num_minutes() <= GAP_MINUTES => "L",
            _ => "M",
        };
        path.push_str(&format!("{verb}{:.1} {:.1} ", x_of(*at), y_of(*value)));
        last = Some(*at);
    }
    // A single sample is drawn as a short level stroke ending at it, so it shows.
    if points.len() == 1 {
        let x = x_of(first.0);
        path = format!(
            "M{:.1} {y:.1} L{x:.1} {y:.1}",
            (x - 12.0).max(0.0),
            y = y_of(first.1)
        );
    }
    Some(LineChart {
        path: path.trim_end().to_owned(),
        top,
        samples: points.len(),
        since: format::time(first.0),
    })
}

/// The backlog chart and the failure chart of `history` (oldest first) over `[start, end]`.
pub fn charts(
    history: &[QueueSample],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (Option<LineChart>, Option<LineChart>) {
    let mut samples: Vec<&QueueSample> = history.iter().filter(|s| s.at >= start).collect();
    samples.sort_by_key(|s| s.at);
    let backlog: Vec<(DateTime<Utc>, u64)> = samples.iter().map(|s| (s.at, s.waiting)).collect();
    let failures: Vec<(DateTime<Utc>, u64)> = samples
        .iter()
        .map(|s| (s.at, s.failures_last_hour.unwrap_or(s.failed)))
        .collect();
    (line(&backlog, start, end), line(&failures, start, end))
}
