//! A monitor's runs as its page shows them: the rows of the run table ([`RunRow`], with
//! what a row alone does not say: missed slots, maintenance, too fast; its error as the
//! one line that says what failed) and the log excerpt and whole error of one run
//! ([`LogPanel`]).

use chrono::{DateTime, Utc};
use opsdeck_core::cron::{Run, RunStatus, error_headline};
use opsdeck_core::ids::Slug;
use uuid::Uuid;

use super::{duration_ms, run_class, run_word};
use crate::error::ApiError;
use crate::ops::{Caller, cron};
use crate::state::AppState;
use crate::web::format;

/// One row of the run table.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: String,
    pub word: String,
    pub class: &'static str,
    pub started: String,
    pub finished: String,
    pub duration: String,
    pub exit_code: String,
    pub source: &'static str,
    /// The line of its error that says what failed; the log panel has all of it.
    pub error: String,
    /// What else is worth knowing: missed slots, maintenance, too fast.
    pub notes: Vec<String>,
    pub log_href: String,
    pub selected: bool,
}

/// The log excerpt shown under the table.
#[derive(Debug, Clone, Default)]
pub struct LogPanel {
    /// Which run, in words; empty when no run is selected.
    pub heading: String,
    /// The run's whole (redacted) error, unless its log already holds it.
    pub error: Option<String>,
    pub text: Option<String>,
    /// Why there is nothing to show.
    pub note: Option<String>,
}

fn time_or_dash(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), format::time)
}

/// The row of `run` on the page `href`; its log link keeps the page's cursor.
pub fn run_row(run: &Run, href: &str, query_cursor: &str, selected: Option<Uuid>) -> RunRow {
    let mut notes = Vec::new();
    if matches!(run.status, RunStatus::Missed | RunStatus::Unknown) {
        if let Some(expected) = run.expected_at {
            notes.push(format!("expected {}", format::time(expected)));
        }
        if run.missed_slots > 1 {
            let last = run.last_missed_at.map(format::time).unwrap_or_default();
            notes.push(format!(
                "{} slots in a row, the last {last}",
                run.missed_slots
            ));
        }
    }
    if run.in_maintenance {
        notes.push("in a maintenance window: did not count".to_owned());
    }
    if run.too_fast {
        notes.push("faster than its minimum runtime".to_owned());
    }
    let mut log_href = format!("{href}?run={}", run.run_id);
    if !query_cursor.is_empty() {
        log_href.push_str(&format!("&cursor={query_cursor}"));
    }
    log_href.push_str("#log");
    RunRow {
        id: run.run_id.to_string(),
        word: run_word(run.status.as_str()),
        class: run_class(run.status.as_str()),
        started: time_or_dash(run.started_at),
        finished: time_or_dash(run.finished_at),
        duration: run.duration_ms.map_or_else(|| "—".to_owned(), duration_ms),
        exit_code: run
            .exit_code
            .map_or_else(|| "—".to_owned(), |c| c.to_string()),
        source: run.source.as_str(),
        error: run
            .error
            .as_deref()
            .and_then(error_headline)
            .unwrap_or_default(),
        notes,
        log_href,
        selected: selected == Some(run.run_id),
    }
}

/// The log excerpt of the run named by `wanted` (a run id; empty: the `latest` run),
/// looked up among the runs already `listed` before asking the store.
pub async fn log_panel(
    state: &AppState,
    caller: &Caller,
    slug: &Slug,
    wanted: &str,
    latest: Option<&Run>,
    listed: &[&Run],
) -> Result<LogPanel, ApiError> {
    let run = match wanted.trim() {
        "" => latest.cloned(),
        text => {
            let Ok(id) = Uuid::parse_str(text) else {
                return Ok(LogPanel {
                    note: Some("That is not a run id.".to_owned()),
                    ..LogPanel::default()
                });
            };
            match listed.iter().find(|r| r.run_id == id) {
                Some(run) => Some((*run).clone()),
                None => cron::get_run(state, caller, slug, id).await?,
            }
        }
    };
    let Some(run) = run else {
        let note = if wanted.trim().is_empty() {
            "No runs yet."
        } else {
            "This monitor has no such run (it may have been deleted by retention)."
        };
        return Ok(LogPanel {
            note: Some(note.to_owned()),
            ..LogPanel::default()
        });
    };
    let when = run
        .started_at
        .or(run.finished_at)
        .or(run.expected_at)
        .map(format::time)
        .unwrap_or_default();
    let text = cron::get_run_log(state, caller, slug, run.run_id).await?;
    // A failure report's error is the tail of its body, which the log holds too.
    let error = run.error.filter(|error| {
        let tail = error.rsplit('…').next().unwrap_or(error).trim();
        text.as_deref().is_none_or(|log| !log.contains(tail))
    });
    Ok(LogPanel {
        error,
        heading: format!(
            "{} run of {when} ({})",
            run_word(run.status.as_str()),
            run.run_id
        ),
        note: text
            .is_none()
            .then(|| "This run sent no output.".to_owned()),
        text,
    })
}
