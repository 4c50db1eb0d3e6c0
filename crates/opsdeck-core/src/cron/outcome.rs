//! What a step of the domain asks the server to do ([`Outcome`]): run rows to write, log
//! text to append, the status change to record ([`Transition`]) and the alert to send
//! ([`AlertIntent`]). Also the thresholds: how a judged result moves the streaks and,
//! through them, [`Health`].

// `fmt`, `FromStr` and `UnknownName` are named by what `named!` expands to.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::state::derive_status;
use super::{Health, LogAppend, MonitorSpec, MonitorState, MonitorStatus, Run};
use crate::alert::{AlertEvent, AlertKind, AlertSource, UnknownName, named};

/// Why a monitor went down or came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The job reported failure (`/fail`, a non-zero exit status).
    Failed,
    /// No signal for an expected slot within grace.
    Missed,
    /// A run passed `max_runtime` without finishing.
    TimedOut,
    /// Enough successes in a row (`recovery_threshold`).
    Succeeded,
}

named!(Reason, "reason", "failed, missed, timed_out, succeeded", {
    Failed => "failed",
    Missed => "missed",
    TimedOut => "timed_out",
    Succeeded => "succeeded",
});

/// The shown status changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: MonitorStatus,
    pub to: MonitorStatus,
    pub at: DateTime<Utc>,
}

/// Something to tell people: the monitor went down or recovered. Never raised for a
/// first success (`new` to `up`), a pause or a resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertIntent {
    /// [`AlertKind::Down`] or [`AlertKind::Recovered`].
    pub kind: AlertKind,
    pub from: MonitorStatus,
    pub to: MonitorStatus,
    pub reason: Reason,
    /// When the deciding result happened: a missed slot's deadline, a run's timeout, the
    /// ping's arrival. Earlier than `now` when the evaluator catches up.
    pub at: DateTime<Utc>,
    /// The run that tipped the balance.
    pub run_id: Option<Uuid>,
    /// Its redacted error snippet.
    pub error: Option<String>,
}

impl AlertIntent {
    /// The event the alert dispatcher sends, linking to the monitor's dashboard page.
    pub fn event(&self, spec: &MonitorSpec) -> AlertEvent {
        let slug = spec.slug().as_str();
        let summary = match (self.kind, self.reason) {
            (AlertKind::Recovered, _) => format!("cron monitor {slug} has recovered"),
            (_, Reason::Missed) => format!("cron monitor {slug} missed its run"),
            (_, Reason::TimedOut) => format!("cron monitor {slug} timed out"),
            _ => format!("cron monitor {slug} failed"),
        };
        let link = format!("/cron/{slug}");
        let event = AlertEvent::new(
            AlertSource::Cron,
            slug,
            self.kind,
            self.to.as_str(),
            &summary,
            link,
            self.at,
        )
        .with_from(self.from.as_str());
        match &self.error {
            Some(error) => event.with_detail(error),
            None => event,
        }
    }
}

/// What to apply after [`evaluate`](super::evaluate) or [`apply_ping`](super::apply_ping),
/// in one transaction with the new [`MonitorState`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Rows to write, keyed by `run_id` (insert, or replace the row with that id).
    pub runs: Vec<Run>,
    pub logs: Vec<LogAppend>,
    pub transition: Option<Transition>,
    pub alert: Option<AlertIntent>,
}

impl Outcome {
    pub fn is_empty(&self) -> bool {
        self == &Outcome::default()
    }
}

/// A health flip found while judging, waiting for the final status to become an alert.
#[derive(Debug)]
struct Flip {
    kind: AlertKind,
    reason: Reason,
    at: DateTime<Utc>,
    run_id: Option<Uuid>,
    error: Option<String>,
}

/// One step in progress: collects writes and the flip, then settles the status.
#[derive(Debug)]
pub(crate) struct Step {
    before: MonitorStatus,
    out: Outcome,
    flip: Option<Flip>,
}

impl Step {
    pub(crate) fn new(state: &MonitorState) -> Self {
        Self {
            before: state.status,
            out: Outcome::default(),
            flip: None,
        }
    }

    /// Writes `run`, replacing an earlier write of the same run in this step.
    pub(crate) fn write(&mut self, run: Run) {
        match self.out.runs.iter_mut().find(|r| r.run_id == run.run_id) {
            Some(earlier) => *earlier = run,
            None => self.out.runs.push(run),
        }
    }

    pub(crate) fn log(&mut self, run_id: Uuid, text: String) {
        if !text.is_empty() {
            self.out.logs.push(LogAppend { run_id, text });
        }
    }

    /// Counts a judged result (one run, or one slot of a stretch of misses) towards the
    /// thresholds and flips health when a streak completes. Callers leave out results in maintenance, while paused,
    /// and unknown ones: those judge nothing.
    pub(crate) fn judge(
        &mut self,
        spec: &MonitorSpec,
        state: &mut MonitorState,
        reason: Reason,
        at: DateTime<Utc>,
        run: &Run,
    ) {
        let settings = spec.settings();
        let flip = |kind| Flip {
            kind,
            reason,
            at,
            run_id: Some(run.run_id),
            error: run.error.clone(),
        };
        if reason == Reason::Succeeded {
            state.success_streak = state.success_streak.saturating_add(1);
            state.failure_streak = 0;
            match state.health {
                // A first success is no news: nobody was told anything was wrong.
                Health::New => state.health = Health::Up,
                Health::Down if state.success_streak >= settings.recovery_threshold => {
                    state.health = Health::Up;
                    self.flip = Some(flip(AlertKind::Recovered));
                }
                Health::Up | Health::Down => {}
            }
        } else {
            state.failure_streak = state.failure_streak.saturating_add(1);
            state.success_streak = 0;
            if state.health != Health::Down && state.failure_streak >= settings.failure_threshold {
                state.health = Health::Down;
                self.flip = Some(flip(AlertKind::Down));
            }
        }
    }

    /// Derives the status at `now`, and turns a change into a transition and a flip into
    /// an alert.
    pub(crate) fn settle(
        mut self,
        spec: &MonitorSpec,
        state: &mut MonitorState,
        now: DateTime<Utc>,
    ) -> Outcome {
        state.status = derive_status(spec, state, now);
        if state.status != self.before {
            self.out.transition = Some(Transition {
                from: self.before,
                to: state.status,
                at: now,
            });
        }
        self.out.alert = self.flip.map(|flip| AlertIntent {
            kind: flip.kind,
            from: self.before,
            to: state.status,
            reason: flip.reason,
            at: flip.at,
            run_id: flip.run_id,
            error: flip.error,
        });
        self.out
    }
}
