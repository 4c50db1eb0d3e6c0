//! The Cron pages of the dashboard (SPEC §7, issue 5 item 11): the monitor list with its
//! filters (`list`), one monitor with its runs, duration chart and log excerpt (`detail`,
//! `runs`, `chart`), the operators' pause, resume and trigger forms (`actions`), the
//! admins' monitor form and delete confirmation (`edit`, `form`, `delete`), and the
//! overview's cron widget (`widget`). Everything a page shows of a monitor comes from
//! [`MonitorView`], as the JSON API's does, so the dashboard and `/ops/cron` never disagree on a status; this file
//! owns how such a view is written out for a page ([`MonitorRow`]).

pub mod actions;
pub mod chart;
pub mod delete;
pub mod detail;
pub mod edit;
mod form;
pub mod list;
mod runs;
pub mod widget;
mod words;

use std::time::Duration;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use opsdeck_core::cron::error_headline;

use super::Page;
use super::format;
use super::shell::{Section, Shell};
use crate::ops::cron::MonitorView;

pub use words::{duration_ms, schedule_words};

/// The CSS class (`st-…`) of a monitor status as the API writes it.
pub fn monitor_class(status: &str) -> &'static str {
    match status {
        "up" => "pass",
        "late" => "warn",
        "down" => "fail",
        "running" => "run",
        "paused" => "paused",
        _ => "none",
    }
}

/// The CSS class of a run status as the API writes it.
pub fn run_class(status: &str) -> &'static str {
    match status {
        "success" => "pass",
        "failed" | "timed_out" | "missed" => "fail",
        "running" => "run",
        _ => "none",
    }
}

/// A run status in words (`timed_out` → `timed out`).
pub fn run_word(status: &str) -> String {
    status.replace('_', " ")
}

/// A duration of settings (grace, runtimes) as people write it: `5m`, `1h 30m`.
fn span(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

/// The latest run with a verdict, written out.
#[derive(Debug, Clone)]
pub struct LastRunRow {
    pub word: String,
    pub class: &'static str,
    pub duration: String,
    /// How long ago it finished (`5 min`), and when exactly.
    pub ago: String,
    pub at: String,
    /// The line of its error that says what failed; the run's page has all of it.
    pub error: Option<String>,
}

/// One monitor as the pages show it, every figure already written out.
#[derive(Debug, Clone)]
pub struct MonitorRow {
    pub slug: String,
    pub name: String,
    pub href: String,
    /// new, up, running, late, down or paused.
    pub status: String,
    pub class: &'static str,
    /// The schedule in words where that is easy, else as written.
    pub schedule: String,
    /// The cron expression as written, shown beside its words.
    pub expr: Option<String>,
    pub tz: Option<String>,
    pub last: Option<LastRunRow>,
    /// When the next run is expected, as a distance (`in 5 min`, `3 min ago` when late).
    pub next: String,
    pub next_at: String,
    pub streak: u32,
    pub running: usize,
    pub tags: Vec<String>,
    pub since: String,
    pub since_at: String,
    /// What is wrong, for a monitor that is down or late: the line of the last run's
    /// (redacted) error that says what failed, else what is missing.
    pub problem: Option<String>,
}

impl MonitorRow {
    pub fn new(view: &MonitorView, now: DateTime<Utc>) -> Self {
        let (schedule, expr) = match (&view.schedule, view.interval_seconds) {
            (Some(expr), _) => (
                schedule_words(expr).unwrap_or_else(|| expr.clone()),
                Some(expr.clone()),
            ),
            (None, Some(seconds)) => (
                format!("every {}", format::interval(Duration::from_secs(seconds))),
                None,
            ),
            (None, None) => ("no schedule".to_owned(), None),
        };
        let last = view.last_run.as_ref().map(|run| LastRunRow {
            word: run_word(&run.status),
            class: run_class(&run.status),
            duration: run.duration_ms.map(duration_ms).unwrap_or_default(),
            ago: run
                .finished_at
                .map(|at| format::ago(at, now))
                .unwrap_or_default(),
            at: run.finished_at.map(format::time).unwrap_or_default(),
            error: run.error.as_deref().and_then(error_headline),
        });
        let next = match view.next_expected_at {
            None if view.paused => "paused".to_owned(),
            None => "after its first ping".to_owned(),
            Some(at) if at > now => format!("in {}", format::ago(now, at)),
            Some(at) => format!("{} ago", format::ago(at, now)),
        };
        let failing = matches!(view.status.as_str(), "down" | "late");
        let problem = failing
            .then(|| {
                let error = view
                    .last_run
                    .as_ref()
                    .and_then(|run| run.error.as_deref())
                    .and_then(error_headline);
                error.or_else(|| match view.status.as_str() {
                    "late" => Some(format!("expected {next}, not heard from yet")),
                    _ => None,
                })
            })
            .flatten();
        Self {
            slug: view.slug.clone(),
            name: view.name.clone(),
            href: format!("/cron/{}", view.slug),
            class: monitor_class(&view.status),
            status: view.status.clone(),
            schedule,
            expr,
            tz: view.tz.clone().filter(|tz| tz != "UTC"),
            last,
            next,
            next_at: view.next_expected_at.map(format::time).unwrap_or_default(),
            streak: view.failure_streak,
            running: view.running,
            tags: view.tags.clone(),
            since: view
                .status_since
                .map(|at| format::ago(at, now))
                .unwrap_or_default(),
            since_at: view.status_since.map(format::time).unwrap_or_default(),
            problem,
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    shell: Shell,
    title: String,
    message: String,
}

/// The dashboard's 404 page for a slug that names no monitor.
pub fn unknown_monitor(shell: Shell, slug: &str) -> Response {
    let message = match opsdeck_core::ids::Slug::parse(slug) {
        Ok(slug) => format!("There is no cron monitor \"{slug}\"."),
        Err(_) => "There is no cron monitor with that slug.".to_owned(),
    };
    Page::with_status(
        MessagePage {
            shell: shell.at(Section::Cron),
            title: "No such monitor".to_owned(),
            message,
        },
        StatusCode::NOT_FOUND,
    )
    .into_response()
}
