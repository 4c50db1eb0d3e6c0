//! What the store keeps of a monitor and what the cron store traits take and give: the
//! stored monitor ([`MonitorRecord`]) with where it came from ([`MonitorSource`]), one
//! atomic step of its state ([`StateWrite`]), a page of runs ([`RunPage`], [`RunCursor`]).
//!
//! The spec and the state are stored as JSON documents whose form is defined in `doc`
//! ([`spec_json`], [`state_json`] and their readers), so both backends write the same
//! documents and a change of form is made once.

mod doc;

// `fmt`, `FromStr` and `UnknownName` are named by what `named!` expands to.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{MonitorSpec, MonitorState, MonitorStatus, Outcome, Run, RunStatus};
use crate::alert::{UnknownName, named};
use crate::ids::{Slug, TenantId};

pub use doc::{InvalidDocument, spec_from_json, spec_json, state_from_json, state_json};

/// Where a monitor's definition came from: for an upserted monitor, its latest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorSource {
    /// `[[cron.monitors]]` or `[[cron.jobs]]`, upserted at start.
    Config,
    /// The admin API.
    Api,
    /// A ping with `create=1`.
    Ping,
    /// `opsdeck cron import --apply`.
    Import,
    /// A JSON check-in carrying a monitor config.
    Checkin,
}

named!(MonitorSource, "monitor source", "config, api, ping, import, checkin", {
    Config => "config",
    Api => "api",
    Ping => "ping",
    Import => "import",
    Checkin => "checkin",
});

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    /// The spec or source differed and was replaced.
    Updated,
    /// Everything was as given; nothing was written.
    Unchanged,
}

/// The latest run with a verdict (any status but running), as the ops list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    pub run_id: Uuid,
    pub status: RunStatus,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
}

impl LastRun {
    fn of(run: &Run) -> Self {
        Self {
            run_id: run.run_id,
            status: run.status,
            finished_at: run.finished_at,
            duration_ms: run.duration_ms,
            error: run.error.clone(),
        }
    }
}

/// One monitor as stored: its spec, its state, and what the ops list reads without
/// looking at runs. Times are kept to the millisecond (the state document keeps its own
/// exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRecord {
    pub spec: MonitorSpec,
    pub source: MonitorSource,
    pub created_at: DateTime<Utc>,
    /// The last change of the spec (update, upsert, pause, resume).
    pub updated_at: DateTime<Utc>,
    pub state: MonitorState,
    /// Moves on every write of spec or state; [`StateWrite::version`] must match it.
    pub version: u64,
    /// When the evaluator should look at the monitor next; `None` expects nothing.
    pub next_check_at: Option<DateTime<Utc>>,
    /// When the shown status last changed (the last [`Transition`](super::Transition)).
    pub status_since: Option<DateTime<Utc>>,
    /// The run most recently written with a verdict.
    pub last_run: Option<LastRun>,
    /// When the latest successful run finished.
    pub last_success_at: Option<DateTime<Utc>>,
}

/// Which monitors a list returns: every condition set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorFilter {
    /// The listed status: `paused` for a paused monitor, else the status as last derived by
    /// a step (the evaluator's steps keep it current within a tick).
    pub status: Option<MonitorStatus>,
    /// Carries this tag, exactly.
    pub tag: Option<String>,
    pub tenant_id: Option<TenantId>,
    /// The slug or the name contains this text, ignoring ASCII case.
    pub text: Option<String>,
}

impl MonitorFilter {
    /// The same filter without its status: what counts by status are taken over.
    pub fn any_status(&self) -> Self {
        Self {
            status: None,
            ..self.clone()
        }
    }
}

/// The most monitors one page of a monitor list holds.
pub const MONITOR_PAGE_MAX: u32 = 500;

/// One page of a monitor list, by slug, and the slug the next page starts after (`None` on
/// the last page). Pages are keyed by slug, which never changes, so paging with each
/// page's `next` lists every monitor the filter selects throughout exactly once, whatever
/// their statuses do meanwhile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorPage {
    pub monitors: Vec<MonitorRecord>,
    pub next: Option<Slug>,
}

/// How many monitors a filter selects in each listed status (see
/// [`MonitorFilter::status`]), statuses without monitors included as 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorCounts {
    counts: [u64; MonitorStatus::ALL.len()],
}

impl MonitorCounts {
    pub fn add(&mut self, status: MonitorStatus, count: u64) {
        if let Some(i) = MonitorStatus::ALL.iter().position(|s| *s == status) {
            self.counts[i] += count;
        }
    }

    pub fn get(&self, status: MonitorStatus) -> u64 {
        MonitorStatus::ALL
            .iter()
            .position(|s| *s == status)
            .map_or(0, |i| self.counts[i])
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// One step of a monitor ([`apply_ping`](super::apply_ping) or
/// [`evaluate`](super::evaluate)) to commit atomically: the new state and what the step's
/// [`Outcome`] asks to write. Only `runs` and `logs` of the outcome are stored; the
/// transition sets [`MonitorRecord::status_since`], the alert is the caller's to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub slug: Slug,
    /// The version the state was read at; a monitor written since is a conflict.
    pub version: u64,
    pub state: MonitorState,
    /// [`MonitorState::next_check_at`] of the new state.
    pub next_check_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    /// When the step happened (the ping's arrival, the evaluation's instant).
    pub now: DateTime<Utc>,
}

impl StateWrite {
    /// The run the ops list shows after this write, if it changes: the last one written
    /// with a verdict.
    pub fn last_run(&self) -> Option<LastRun> {
        let runs = self.outcome.runs.iter().rev();
        runs.filter(|run| run.status != RunStatus::Running)
            .map(LastRun::of)
            .next()
    }

    /// When the latest success of this write finished.
    pub fn last_success_at(&self) -> Option<DateTime<Utc>> {
        let runs = self.outcome.runs.iter();
        runs.filter(|run| run.status == RunStatus::Success)
            .filter_map(|run| run.finished_at)
            .max()
    }

    /// A run of another monitor among the outcome's, which no store writes: a step only
    /// ever writes runs of its own monitor.
    pub fn stray_run(&self) -> Option<&Run> {
        self.outcome.runs.iter().find(|run| run.slug != self.slug)
    }

    /// Where `run` sits in its monitor's run list: when it started, else the slot it
    /// answers, else when it finished, else when this step happened. The store keeps the
    /// position of a run's first write, so a run never moves in the list.
    pub fn list_position(&self, run: &Run) -> DateTime<Utc> {
        run.started_at
            .or(run.expected_at)
            .or(run.finished_at)
            .unwrap_or(self.now)
    }
}

/// A position in a monitor's run list, newest first: runs placed before `at`, or at the
/// same millisecond with a lower id. Written `<unix ms>-<uuid>`, opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCursor {
    pub at: DateTime<Utc>,
    pub run_id: Uuid,
}

/// The text is not a cursor a run list handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: pass the `next` value of a previous page")]
pub struct InvalidRunCursor;

impl fmt::Display for RunCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.at.timestamp_millis(), self.run_id)
    }
}

impl FromStr for RunCursor {
    type Err = InvalidRunCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (millis, id) = s.split_once('-').ok_or(InvalidRunCursor)?;
        let millis: i64 = millis.parse().map_err(|_| InvalidRunCursor)?;
        Ok(RunCursor {
            at: DateTime::from_timestamp_millis(millis).ok_or(InvalidRunCursor)?,
            run_id: Uuid::parse_str(id).map_err(|_| InvalidRunCursor)?,
        })
    }
}

/// One page of a run list, newest first, and where the next page starts (`None` on the
/// last page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunPage {
    pub runs: Vec<Run>,
    pub next: Option<RunCursor>,
}

/// How many stored runs of one monitor have one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCount {
    pub slug: Slug,
    pub status: RunStatus,
    pub count: u64,
}

#[cfg(test)]
mod tests;
