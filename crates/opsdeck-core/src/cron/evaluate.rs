//! The evaluator's step for one monitor ([`evaluate`]): what the passing of time alone
//! decides. Runs past `max_runtime` time out, each on its own clock; slots whose grace ran
//! out unanswered are missed; the monitor turns late, and down when a streak completes.
//!
//! Three rules keep it from paging people for nothing:
//! - a stretch of consecutive misses fills one run row that grows ([`OpenMiss`]), so a job
//!   dead for a month is one row counting its slots, not thousands, however long the
//!   evaluator itself was away;
//! - a slot or run whose waiting time overlaps an [`Outage`] of opsdeck itself is recorded
//!   `unknown`: its signal may have been sent while nobody listened. Unknown judges
//!   nothing, so it neither alerts nor breaks a streak;
//! - a miss or timeout inside a maintenance window is recorded, flagged, and not counted.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::outcome::Step;
use super::run::new_run_id;
use super::span::{human, plus};
use super::state::{blind, forget_at};
use super::{
    MonitorSpec, MonitorState, MonitorStatus, OpenMiss, Outage, Outcome, Reason, Run, RunStatus,
};

/// The most slots one step looks at. A monitor further behind (opsdeck was off for a
/// week, a per-minute job) is caught up over several steps, each bounded, each growing
/// the same row; [`MonitorState::next_check_at`] says it is still due.
pub const SLOTS_PER_STEP: usize = 1000;

/// Moves one monitor to `now`. `outages` are the times opsdeck itself was down that may
/// still matter (the server keeps them from its heartbeat: the gap between the last
/// heartbeat before a restart and the restart); an empty slice is the normal case.
pub fn evaluate(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    now: DateTime<Utc>,
    outages: &[Outage],
) -> Outcome {
    let mut step = Step::new(state);
    close_overdue_runs(spec, state, now, outages, &mut step);
    if spec.is_paused() || state.status == MonitorStatus::Paused {
        // Paused, nothing is expected; just resumed, the slots of the pause were not
        // expected either. Either way the next slot expected is the first after now.
        if let Some(cursor) = state.cursor {
            state.cursor = Some(cursor.max(now));
        }
        state.open_miss = None;
    }
    if !spec.is_paused() {
        record_missed_slots(spec, state, now, outages, &mut step);
    }
    step.settle(spec, state, now)
}

/// Times out open runs past `max_runtime` and forgets runs past their pairing window.
fn close_overdue_runs(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    now: DateTime<Utc>,
    outages: &[Outage],
    step: &mut Step,
) {
    let max_runtime = spec.settings().max_runtime;
    let mut kept = Vec::with_capacity(state.open_runs.len());
    for mut open in std::mem::take(&mut state.open_runs) {
        if let (None, Some(max)) = (open.overdue, max_runtime) {
            let deadline = plus(open.started_at, max);
            if deadline <= now {
                let status = if blind(outages, open.started_at, deadline) {
                    RunStatus::Unknown
                } else {
                    RunStatus::TimedOut
                };
                open.overdue = Some(status);
                open.in_maintenance =
                    spec.in_maintenance(open.started_at) || spec.in_maintenance(deadline);
                let run = Run {
                    error: Some(timeout_error(max)),
                    ..open.to_run(spec.slug())
                };
                if status == RunStatus::TimedOut && !open.in_maintenance && !spec.is_paused() {
                    step.judge(spec, state, Reason::TimedOut, deadline, &run);
                }
                step.write(run);
            }
        }
        if forget_at(&open, max_runtime) <= now {
            if open.overdue.is_none() {
                // No max_runtime, no finish for days: nobody can say how it went.
                step.write(Run {
                    status: RunStatus::Unknown,
                    error: Some("no finish ping within 72h".to_owned()),
                    ..open.to_run(spec.slug())
                });
            }
            continue;
        }
        kept.push(open);
    }
    state.open_runs = kept;
}

/// Records each slot whose grace ran out unanswered, growing the open stretch of misses.
fn record_missed_slots(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    now: DateTime<Utc>,
    outages: &[Outage],
    step: &mut Step,
) {
    let Some(mut cursor) = state.cursor else {
        return;
    };
    let grace = spec.grace();
    for _ in 0..SLOTS_PER_STEP {
        let Some(slot) = spec.schedule().next_after(cursor) else {
            break;
        };
        let deadline = plus(slot, grace);
        if deadline > now {
            break;
        }
        cursor = slot;
        let status = if blind(outages, slot, deadline) {
            RunStatus::Unknown
        } else {
            RunStatus::Missed
        };
        let in_maintenance = spec.in_maintenance(slot) || spec.in_maintenance(deadline);
        let run = extend_miss(spec, state, slot, status, in_maintenance, now);
        if status == RunStatus::Missed && !in_maintenance {
            step.judge(spec, state, Reason::Missed, deadline, &run);
        }
        step.write(run);
    }
    state.cursor = Some(cursor);
}

/// Adds `slot` to the open stretch of misses when it is of the same kind, else opens a
/// new stretch; returns the stretch's row.
fn extend_miss(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    slot: DateTime<Utc>,
    status: RunStatus,
    in_maintenance: bool,
    now: DateTime<Utc>,
) -> Run {
    let miss = match &mut state.open_miss {
        Some(miss) if miss.status == status && miss.in_maintenance == in_maintenance => {
            miss.slots = miss.slots.saturating_add(1);
            miss.last_slot = slot;
            miss
        }
        open_miss => open_miss.insert(OpenMiss {
            run_id: new_run_id(now),
            status,
            first_slot: slot,
            last_slot: slot,
            slots: 1,
            in_maintenance,
            error: String::new(),
        }),
    };
    miss.error = miss_error(miss, spec.grace());
    miss.to_run(spec.slug())
}

/// The error of a run that passed `max_runtime`.
pub(crate) fn timeout_error(max_runtime: Duration) -> String {
    format!("no finish within max_runtime {}", human(max_runtime))
}

fn miss_error(miss: &OpenMiss, grace: Duration) -> String {
    let first = miss.first_slot.to_rfc3339();
    match (miss.status, miss.slots) {
        (RunStatus::Unknown, _) => {
            format!("opsdeck was down while the run expected at {first} was due")
        }
        (_, 1) => format!(
            "no ping within {} grace of the run expected at {first}",
            human(grace)
        ),
        (_, n) => format!("{n} expected runs missed, the first at {first}"),
    }
}
