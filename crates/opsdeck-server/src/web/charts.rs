//! The geometry of the server-rendered charts: sparklines of recent latencies, status
//! timelines and latency lines. Only coordinates are computed here; the templates draw the
//! SVG elements, so pages need no script and no chart library to show history.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::health::{Sample, Status, StatusChange, downsample};

/// The CSS class of a status (`pass`, `warn`, `fail`), or `none` before any result.
pub fn status_class(status: Option<Status>) -> &'static str {
    status.map_or("none", Status::as_str)
}

/// The word shown with a status colour, so colour is never the only signal.
pub fn status_word(status: Option<Status>) -> &'static str {
    match status {
        Some(Status::Pass) => "pass",
        Some(Status::Warn) => "warn",
        Some(Status::Fail) => "fail",
        None => "pending",
    }
}

/// A point in a chart's own coordinates, already written with one decimal.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: String,
    pub y: String,
}

fn point(x: f64, y: f64) -> Point {
    Point {
        x: format!("{x:.1}"),
        y: format!("{y:.1}"),
    }
}

/// A tile's sparkline, in a 100 × 24 view box.
#[derive(Debug, Clone)]
pub struct Sparkline {
    pub points: String,
    /// Results that failed, marked on the line.
    pub fails: Vec<Point>,
    /// What the line shows, for screen readers.
    pub label: String,
}

pub const SPARK_WIDTH: f64 = 100.0;
pub const SPARK_HEIGHT: f64 = 24.0;

/// The line through recent latencies (oldest first), scaled to the largest.
pub fn sparkline(recent: &[(Status, f64)]) -> Option<Sparkline> {
    if recent.is_empty() {
        return None;
    }
    let max = recent.iter().map(|(_, ms)| *ms).fold(0.0_f64, f64::max);
    let scale = if max > 0.0 { max } else { 1.0 };
    let step = if recent.len() > 1 {
        SPARK_WIDTH / (recent.len() - 1) as f64
    } else {
        0.0
    };
    // A 2-unit margin keeps the stroke inside the box at both extremes.
    let y_of = |ms: f64| SPARK_HEIGHT - 2.0 - (ms / scale) * (SPARK_HEIGHT - 4.0);
    let mut points = Vec::with_capacity(recent.len());
    let mut fails = Vec::new();
    for (i, (status, ms)) in recent.iter().enumerate() {
        let p = point(i as f64 * step, y_of(*ms));
        points.push(format!("{},{}", p.x, p.y));
        if *status == Status::Fail {
            fails.push(p);
        }
    }
    Some(Sparkline {
        points: points.join(" "),
        label: format!(
            "latency of the last {} results, up to {}",
            recent.len(),
            super::format::latency_ms(max)
        ),
        fails,
    })
}

/// One stretch of a status timeline, in a 1000-wide view box.
#[derive(Debug, Clone)]
pub struct Band {
    pub x: String,
    pub width: String,
    pub class: &'static str,
    pub title: String,
}

pub const TIMELINE_WIDTH: f64 = 1000.0;

/// The status held over `[start, end)` as bands, from the check's status changes (any
/// order). Before its first known change a check has no status ("no data").
pub fn timeline(
    changes: &[StatusChange],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    current: Option<Status>,
) -> Vec<Band> {
    let mut ordered: Vec<&StatusChange> = changes.iter().collect();
    ordered.sort_by_key(|c| c.at);
    let before = ordered.iter().rev().find(|c| c.at < start);
    let within: Vec<&&StatusChange> = ordered
        .iter()
        .filter(|c| c.at >= start && c.at < end)
        .collect();
    let mut status = match (before, within.first()) {
        (Some(change), _) => Some(change.to),
        (None, Some(first)) => first.from,
        // Nothing changed in the whole history we were given: the current status held.
        (None, None) => current,
    };
    let span = (end - start).num_milliseconds().max(1) as f64;
    let x_of = |at: DateTime<Utc>| ((at - start).num_milliseconds() as f64 / span) * TIMELINE_WIDTH;
    // Each change ends the band before it; the window's end closes the last one.
    let cuts = within
        .iter()
        .map(|c| (c.at, Some(c.to)))
        .chain(std::iter::once((end, None)));
    let mut bands = Vec::new();
    let mut from = start;
    for (at, next) in cuts {
        if at > from {
            let (x0, x1) = (x_of(from), x_of(at));
            bands.push(Band {
                x: format!("{x0:.1}"),
                width: format!("{:.1}", (x1 - x0).max(0.5)),
                class: status_class(status),
                title: format!(
                    "{} from {} to {}",
                    status_word(status),
                    super::format::time(from),
                    super::format::time(at)
                ),
            });
        }
        from = at;
        if next.is_some() {
            status = next;
        }
    }
    bands
}

/// A latency chart over a window, in a 1000 × 160 view box: the mean and the worst latency
/// of each stretch, and marks where probes failed.
#[derive(Debug, Clone)]
pub struct LatencyChart {
    /// SVG path data of the mean latency; breaks where there was no sample for a while.
    pub mean: String,
    pub max: String,
    pub fails: Vec<Point>,
    /// The latency at the top of the chart.
    pub top_label: String,
    pub samples: usize,
}

pub const CHART_WIDTH: f64 = 1000.0;
pub const CHART_HEIGHT: f64 = 160.0;
/// At most this many points per line: a day of 1-second probes would otherwise make a
/// page of megabytes.
const CHART_POINTS: u32 = 288;

pub fn latency_chart(
    samples: &[Sample],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<LatencyChart> {
    if samples.is_empty() {
        return None;
    }
    let window = (end - start).to_std().unwrap_or(Duration::from_secs(1));
    let buckets = downsample(
        samples,
        (window / CHART_POINTS).max(Duration::from_millis(1)),
    );
    let top = buckets
        .iter()
        .map(|s| s.max.as_secs_f64() * 1000.0)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let span = (end - start).num_milliseconds().max(1) as f64;
    let x_of = |at: DateTime<Utc>| ((at - start).num_milliseconds() as f64 / span) * CHART_WIDTH;
    let y_of = |d: Duration| CHART_HEIGHT - (d.as_secs_f64() * 1000.0 / top) * (CHART_HEIGHT - 8.0);
    // A stretch longer than three buckets without a sample is drawn as a gap, not a line.
    let gap = chrono::Duration::from_std(window / CHART_POINTS * 3).unwrap_or_default();
    let mut mean = String::new();
    let mut max = String::new();
    let mut fails = Vec::new();
    let mut last: Option<DateTime<Utc>> = None;
    for sample in &buckets {
        let verb = match last {
            Some(prev) if sample.at - prev <= gap => "L",
            _ => "M",
        };
        let x = x_of(sample.at);
        mean.push_str(&format!("{verb}{x:.1} {:.1} ", y_of(sample.mean())));
        max.push_str(&format!("{verb}{x:.1} {:.1} ", y_of(sample.max)));
        if sample.failed > 0 {
            fails.push(point(x, CHART_HEIGHT - 2.0));
        }
        last = Some(sample.at);
    }
    Some(LatencyChart {
        mean: mean.trim_end().to_owned(),
        max: max.trim_end().to_owned(),
        fails,
        top_label: super::format::latency_ms(top),
        samples: samples.iter().map(|s| s.count as usize).sum(),
    })
}
