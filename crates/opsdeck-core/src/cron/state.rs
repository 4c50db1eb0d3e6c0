//! What opsdeck remembers of one monitor between signals ([`MonitorState`]): one row per
//! monitor, next to the runs table. It holds the slot cursor, the streaks behind the
//! thresholds, the runs still open and the stretch of misses still growing, so neither
//! [`evaluate`](super::evaluate) nor [`apply_ping`](super::apply_ping) reads the runs table.
//!
//! The status people see ([`MonitorStatus`]) is derived from it and the spec at a given
//! instant ([`derive_status`]); the alerting part ([`Health`]) only moves through the
//! thresholds.

// `fmt`, `FromStr` and `UnknownName` are named by what `named!` expands to.
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::span::plus;
use super::{MonitorSpec, Run, RunSource, RunStatus};
use crate::alert::{UnknownName, named};
use crate::ids::Slug;

/// How long an open run waits for its finish after its deadline (`max_runtime`, or its
/// start when it has none) before it is forgotten: healthchecks.io's 72 hours.
pub const PAIRING_WINDOW: Duration = Duration::from_secs(72 * 3600);
/// The most runs open at once; a start beyond it closes the oldest as unknown, so a job
/// that never sends finishes cannot grow the state without bound.
pub const OPEN_RUNS_MAX: usize = 64;

/// A monitor's status as shown: SPEC §4's new | up | running | late | down | paused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorStatus {
    /// Never heard from.
    #[default]
    New,
    Up,
    /// A run is open.
    Running,
    /// The expected time passed; grace has not yet.
    Late,
    Down,
    Paused,
}

named!(MonitorStatus, "monitor status", "new, up, running, late, down, paused", {
    New => "new",
    Up => "up",
    Running => "running",
    Late => "late",
    Down => "down",
    Paused => "paused",
});

/// The alerting state, moved only by thresholds: alerts are its flips.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No result judged yet.
    #[default]
    New,
    Up,
    Down,
}

/// A run that started and has not been paired with its finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRun {
    pub run_id: Uuid,
    pub source: RunSource,
    pub started_at: DateTime<Utc>,
    pub expected_at: Option<DateTime<Utc>>,
    /// Set once the run passed `max_runtime`: `TimedOut`, or `Unknown` when opsdeck was
    /// down meanwhile. The run stays here so a late finish still pairs with it.
    pub overdue: Option<RunStatus>,
    /// Whether the overdue verdict fell in a maintenance window.
    pub in_maintenance: bool,
}

impl OpenRun {
    /// The row of this open run as it stands.
    pub fn to_run(&self, slug: &Slug) -> Run {
        Run {
            expected_at: self.expected_at,
            started_at: Some(self.started_at),
            in_maintenance: self.in_maintenance,
            ..Run::new(
                self.run_id,
                slug,
                self.overdue.unwrap_or(RunStatus::Running),
                self.source,
            )
        }
    }
}

/// A stretch of consecutive missed (or unknown) slots, kept in one run row that grows
/// until the job is heard from again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenMiss {
    pub run_id: Uuid,
    /// `Missed`, or `Unknown` for slots that fell while opsdeck was down.
    pub status: RunStatus,
    pub first_slot: DateTime<Utc>,
    pub last_slot: DateTime<Utc>,
    pub slots: u32,
    pub in_maintenance: bool,
    pub error: String,
}

impl OpenMiss {
    pub fn to_run(&self, slug: &Slug) -> Run {
        Run {
            expected_at: Some(self.first_slot),
            missed_slots: self.slots,
            last_missed_at: Some(self.last_slot),
            in_maintenance: self.in_maintenance,
            error: Some(self.error.clone()),
            ..Run::new(self.run_id, slug, self.status, RunSource::Evaluator)
        }
    }
}

/// A time opsdeck itself was down (from its last heartbeat before, to when it was back):
/// signals due then may have been sent and lost, so the slots they answer are `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Outage {
    /// Whether the outage overlaps the span `[start, end]`.
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.from < end && start < self.until
    }
}

/// Whether any outage overlaps `[start, end]`.
pub(crate) fn blind(outages: &[Outage], start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    outages.iter().any(|o| o.overlaps(start, end))
}

/// One monitor's memory. `Default` is a monitor never heard from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    /// The status as last derived, what the dashboard shows.
    pub status: MonitorStatus,
    pub health: Health,
    /// Every slot at or before this instant is dealt with (answered, missed or skipped);
    /// the next one expected is the schedule's first after it. `None` until the first
    /// signal: like healthchecks.io, a monitor nobody ever pinged expects nothing.
    pub cursor: Option<DateTime<Utc>>,
    /// Consecutive failed, missed or timed-out slots (a stretch of misses counts each).
    pub failure_streak: u32,
    pub success_streak: u32,
    pub last_ping_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub open_runs: Vec<OpenRun>,
    pub open_miss: Option<OpenMiss>,
}

impl MonitorState {
    /// How many runs are running now: the open runs not yet past `max_runtime`. A run that
    /// timed out stays open only so a late finish still pairs with it.
    pub fn running(&self) -> usize {
        self.open_runs
            .iter()
            .filter(|run| run.overdue.is_none())
            .count()
    }

    /// The next slot expected, if the monitor expects one.
    pub fn pending_slot(&self, spec: &MonitorSpec) -> Option<DateTime<Utc>> {
        self.cursor.and_then(|c| spec.schedule().next_after(c))
    }

    /// The earliest instant after `now` at which [`evaluate`](super::evaluate) would
    /// change something (or `now`, when something is due already): the server keeps it in
    /// the monitor's row and evaluates the monitors whose instant has come, rather than
    /// all of them all the time.
    pub fn next_check_at(&self, spec: &MonitorSpec, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let max_runtime = spec.settings().max_runtime;
        let runs = self
            .open_runs
            .iter()
            .map(|run| match (run.overdue, max_runtime) {
                (None, Some(max)) => plus(run.started_at, max),
                _ => forget_at(run, max_runtime),
            });
        // Before the slot: it turns the monitor late; after it: grace running out.
        let slot = match self.pending_slot(spec) {
            _ if spec.is_paused() => None,
            Some(slot) if slot > now => Some(slot),
            Some(slot) => Some(plus(slot, spec.grace())),
            None => None,
        };
        runs.chain(slot).min().map(|at| at.max(now))
    }
}

/// When an open run is dropped from the state for good.
pub(crate) fn forget_at(run: &OpenRun, max_runtime: Option<Duration>) -> DateTime<Utc> {
    let deadline = plus(run.started_at, max_runtime.unwrap_or_default());
    plus(deadline, PAIRING_WINDOW)
}

/// The status to show at `now`: paused, then down, then running, then late, else what
/// health says.
pub fn derive_status(
    spec: &MonitorSpec,
    state: &MonitorState,
    now: DateTime<Utc>,
) -> MonitorStatus {
    if spec.is_paused() {
        return MonitorStatus::Paused;
    }
    if state.health == Health::Down {
        return MonitorStatus::Down;
    }
    if state.running() > 0 {
        return MonitorStatus::Running;
    }
    if state.pending_slot(spec).is_some_and(|slot| slot <= now) {
        return MonitorStatus::Late;
    }
    match state.health {
        Health::New => MonitorStatus::New,
        _ => MonitorStatus::Up,
    }
}
