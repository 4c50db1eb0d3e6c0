//! A health check as the dashboard shows it, built from the monitor's in-memory view only
//! (never a query per check), for the overview's tiles and the health list alike.

use chrono::{DateTime, Utc};
use opsdeck_core::health::Status;

use super::charts::{self, Sparkline};
use super::format;
use crate::health::{CheckView, HealthSnapshot};

/// One check, every figure already written out.
#[derive(Debug, Clone)]
pub struct CheckRow {
    pub name: String,
    pub href: String,
    pub kind: &'static str,
    pub target: String,
    pub critical: bool,
    /// `pass`, `warn`, `fail` or `none` (no result yet): the CSS class.
    pub class: &'static str,
    /// The same in words, shown next to the colour.
    pub word: &'static str,
    /// The latest result is older than the schedule allows.
    pub stale: bool,
    pub latency: String,
    pub uptime: String,
    pub observed: Option<String>,
    /// Since when the status has held, as an age (`5 min`).
    pub since: String,
    pub since_exact: String,
    pub checked: String,
    pub interval: String,
    /// What is wrong, for warn and fail; while flap damping holds a flip back, the
    /// results that would make it.
    pub output: Option<String>,
    pub spark: Option<Sparkline>,
}

impl CheckRow {
    pub fn new(view: &CheckView, now: DateTime<Utc>) -> Self {
        let recent: Vec<(Status, f64)> = view
            .recent
            .iter()
            .map(|r| (r.status, r.latency_ms))
            .collect();
        let ago = |at: Option<DateTime<Utc>>| {
            at.map_or_else(|| "—".to_owned(), |at| format::ago(at, now))
        };
        Self {
            name: view.name.to_string(),
            href: format!("/health/{}", view.name),
            kind: view.kind,
            target: view.target.clone(),
            critical: view.critical,
            class: charts::status_class(view.status),
            word: charts::status_word(view.status),
            stale: view.stale,
            latency: format::latency_opt(view.latency_ms),
            uptime: format::percent(view.uptime_24h),
            observed: format::measured(
                view.measurement,
                view.observed_value,
                view.observed_unit.as_deref(),
            ),
            since: ago(view.since),
            since_exact: view.since.map(format::time).unwrap_or_default(),
            checked: ago(view.checked_at),
            interval: format::interval(view.interval),
            output: view.shown_output(),
            spark: charts::sparkline(&recent),
        }
    }
}

/// The service's status and every check, for a page.
#[derive(Debug, Clone)]
pub struct Board {
    pub class: &'static str,
    /// The overall status in a sentence.
    pub headline: &'static str,
    pub counts: Vec<(&'static str, &'static str, usize)>,
    pub checks: Vec<CheckRow>,
    pub at: String,
}

impl Board {
    pub fn new(snapshot: &HealthSnapshot) -> Self {
        let checks: Vec<CheckRow> = snapshot
            .checks
            .iter()
            .map(|view| CheckRow::new(view, snapshot.at))
            .collect();
        let count = |class: &str| checks.iter().filter(|c| c.class == class).count();
        let counts = [
            ("fail", "failing"),
            ("warn", "warning"),
            ("pass", "passing"),
            ("none", "pending"),
        ]
        .into_iter()
        .map(|(class, label)| (class, label, count(class)))
        .filter(|(_, _, n)| *n > 0)
        .collect();
        Self {
            class: snapshot.status.as_str(),
            headline: match snapshot.status {
                Status::Pass => "All checks pass",
                Status::Warn => "Degraded: some checks warn",
                Status::Fail => "Failing: a critical check fails",
            },
            counts,
            checks,
            at: format::time(snapshot.at),
        }
    }
}
