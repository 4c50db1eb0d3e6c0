//! The Queues pages of the dashboard (SPEC §5 and §7, issue 13 item 9): every queue of every
//! source (`list`), one queue with its counts, 24-hour charts, job lists and the operators'
//! bulk, pause and resume forms (`detail`, `chart`), one job (`job`), the forms' handlers
//! (`actions`, with the bulk confirmation page) and the overview's queue widget (`widget`).
//! Every figure comes from [`crate::ops::queues`], as the JSON API's does, so the dashboard
//! and `/ops/queues` never disagree; this file owns how a source and a queue are written out.

pub mod actions;
mod chart;
pub mod detail;
pub mod job;
pub mod list;
pub mod widget;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::Page;
use super::format;
use super::shell::{Section, Shell};
use crate::ops::queues::{QueueView, SourceView};

/// One path segment, percent-encoded: queue names and job ids may hold `/`, spaces or `?`.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The page of a queue.
pub fn queue_href(source: &str, queue: &str) -> String {
    format!("/queues/{}/{}", segment(source), segment(queue))
}

/// The page of a job.
pub fn job_href(source: &str, queue: &str, id: &str) -> String {
    format!("{}/jobs/{}", queue_href(source, queue), segment(id))
}

/// `42 s`, `5 min`, `3 h`: a number of seconds written as the pages write ages.
pub fn age(seconds: f64) -> String {
    let start = DateTime::<Utc>::UNIX_EPOCH;
    let millis = (seconds * 1000.0).clamp(0.0, 1e12) as i64;
    format::ago(start, start + chrono::Duration::milliseconds(millis))
}

/// A source as the pages show it.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub name: String,
    pub system: &'static str,
    pub target: String,
    pub version: String,
    pub stale: bool,
    /// `ok` or `stale`, and its CSS class.
    pub status: &'static str,
    pub class: &'static str,
    pub error: Option<String>,
    /// Since the last successful poll or snapshot (`never`).
    pub last_success: String,
    pub last_success_at: String,
    pub read_only: bool,
    /// `(action, why)` for each action the source cannot take.
    pub unavailable: Vec<(&'static str, String)>,
}

impl SourceRow {
    pub fn new(view: &SourceView, now: DateTime<Utc>) -> Self {
        let stale = view.status == "stale";
        Self {
            name: view.name.clone(),
            system: view.system,
            target: view.target.clone(),
            version: view.version.clone().unwrap_or_else(|| "—".to_owned()),
            stale,
            status: view.status,
            class: if stale { "fail" } else { "pass" },
            error: view.error.clone(),
            last_success: view.last_success_at.map_or_else(
                || "never".to_owned(),
                |at| format!("{} ago", format::ago(at, now)),
            ),
            last_success_at: view.last_success_at.map(format::time).unwrap_or_default(),
            read_only: view.read_only,
            unavailable: view
                .unavailable
                .iter()
                .map(|(action, why)| (*action, why.clone()))
                .collect(),
        }
    }

    /// Why `action` cannot be taken on this source, if it cannot.
    pub fn why_not(&self, action: &str) -> Option<&str> {
        self.unavailable
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, why)| why.as_str())
    }
}

/// One count of a queue and how old it is.
#[derive(Debug, Clone)]
pub struct CountCell {
    pub state: &'static str,
    pub count: u64,
    /// `12 s` since it was taken, and when exactly.
    pub age: String,
    pub at: String,
}

/// A queue as the pages show it, every figure written out.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub source: String,
    pub queue: String,
    pub system: &'static str,
    pub href: String,
    pub counts: Vec<CountCell>,
    pub backlog: u64,
    pub oldest: String,
    pub failures: String,
    /// `paused`, `running`, or `—` where the system has no pause.
    pub paused: &'static str,
    pub is_paused: bool,
    pub polled: String,
    pub polled_at: String,
    pub stale: bool,
}

impl QueueRow {
    pub fn new(view: &QueueView, now: DateTime<Utc>) -> Self {
        let counts = opsdeck_core::queues::JobState::ALL
            .iter()
            .filter_map(|state| {
                view.counts.get(state.as_str()).map(|c| CountCell {
                    state: state.as_str(),
                    count: c.count,
                    age: format::ago(c.as_of, now),
                    at: format::time(c.as_of),
                })
            })
            .collect();
        Self {
            source: view.source.clone(),
            queue: view.queue.clone(),
            system: view.system,
            href: queue_href(&view.source, &view.queue),
            counts,
            backlog: view.backlog,
            oldest: view
                .oldest_waiting_seconds
                .map_or_else(|| "—".to_owned(), age),
            failures: view
                .failures_last_hour
                .map_or_else(|| "—".to_owned(), |n| n.to_string()),
            paused: match view.paused {
                Some(true) => "paused",
                Some(false) => "running",
                None => "—",
            },
            is_paused: view.paused == Some(true),
            polled: format::ago(view.polled_at, now),
            polled_at: format::time(view.polled_at),
            stale: view.stale,
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

/// The dashboard's 404 page for a source, queue or job that is not there.
pub fn not_found(shell: Shell, message: String) -> Response {
    message_page(shell, StatusCode::NOT_FOUND, "Not found", message)
}

/// The page of a source that cannot answer now (not reachable, or a layout it refuses):
/// the status and the reason, in the dashboard's frame rather than as JSON.
pub fn unavailable(shell: Shell, err: &crate::error::ApiError) -> Response {
    message_page(
        shell,
        err.status(),
        "Source unavailable",
        err.message().to_owned(),
    )
}

fn message_page(shell: Shell, status: StatusCode, title: &str, message: String) -> Response {
    Page::with_status(
        MessagePage {
            shell: shell.at(Section::Queues),
            title: title.to_owned(),
            message,
        },
        status,
    )
    .into_response()
}
