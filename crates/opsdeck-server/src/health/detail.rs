//! One check in depth (`GET /ops/health/checks/{name}` and its dashboard page): status
//! changes, recent samples, uptime and latency percentiles over 24 hours and 7 days.

use chrono::Duration;
use opsdeck_core::StoreResult;
use opsdeck_core::health::{Sample, StatusChange, latency_percentile};
use opsdeck_core::ids::CheckName;
use serde::Serialize;

use super::monitor::{HealthMonitor, window_uptime};
use super::view::CheckView;

/// Uptime and latency over one window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowStats {
    /// `24h` or `7d`.
    pub label: &'static str,
    /// Fraction (0–1) of the window in pass or warn; `None` when nothing is known.
    pub uptime: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// How many probe results the percentiles are drawn from.
    pub results: u64,
}

/// A check, its recent history and its figures.
#[derive(Debug, Clone, Serialize)]
pub struct CheckDetail {
    pub check: CheckView,
    /// The last 7 days of status changes, newest first.
    pub changes: Vec<StatusChange>,
    /// The last 24 hours of samples, oldest first (raw, or downsampled beyond the raw
    /// retention).
    pub samples: Vec<Sample>,
    pub windows: Vec<WindowStats>,
}

/// The detail of `name`, or `None` for an unknown check.
pub async fn check_detail(
    monitor: &HealthMonitor,
    name: &CheckName,
) -> StoreResult<Option<CheckDetail>> {
    let Some(check) = monitor.view(name) else {
        return Ok(None);
    };
    let store = monitor.store().as_ref();
    let now = monitor.clock().now();
    let day_ago = now - Duration::hours(24);
    let week_ago = now - Duration::days(7);
    let week_samples = store.check_samples(name, week_ago, now).await?;
    let samples: Vec<Sample> = week_samples
        .iter()
        .filter(|sample| sample.at >= day_ago)
        .cloned()
        .collect();
    let mut windows = Vec::with_capacity(2);
    for (label, since, window) in [("24h", day_ago, &samples), ("7d", week_ago, &week_samples)] {
        let ms = |p: f64| latency_percentile(window, p).map(|d| d.as_secs_f64() * 1000.0);
        windows.push(WindowStats {
            label,
            uptime: window_uptime(store, name, since, now).await?,
            p50_ms: ms(50.0),
            p95_ms: ms(95.0),
            results: window.iter().map(|s| u64::from(s.count)).sum(),
        });
    }
    let mut changes = store.status_changes(name, week_ago, now).await?;
    changes.reverse();
    Ok(Some(CheckDetail {
        check,
        changes,
        samples,
        windows,
    }))
}
