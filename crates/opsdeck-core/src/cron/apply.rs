//! What one ping does to a monitor ([`apply_ping`]).
//!
//! - `start` opens a run, under the client's `rid` or a fresh id; a repeated start with an
//!   open `rid` is a client retry and opens nothing.
//! - A finish (success, `fail`, an exit status) with `rid` closes that run; without one it
//!   closes the latest open run; with nothing open it records a run that had no start.
//!   Each overlapping run is paired and timed on its own.
//! - `log` appends to the run named by `rid`, else the latest open run; with nothing open
//!   the text is kept in a run of its own, status `unknown`. Status is untouched.
//!
//! A start or finish answers the pending slot: the next slot expected is the first after
//! the ping. The run's `expected_at` is the slot the ping names, if it names one (opsdeck's
//! scheduler does), else the slot it answers. Results are judged against the thresholds unless the monitor is paused or a
//! failure falls in a maintenance window.

use chrono::{DateTime, Utc};

use super::evaluate::timeout_error;
use super::outcome::Step;
use super::run::new_run_id;
use super::span::delta;
use super::state::OPEN_RUNS_MAX;
use super::{
    MonitorSpec, MonitorState, OpenRun, Outcome, Ping, PingKind, Reason, Run, RunStatus, Schedule,
    error_snippet, log_excerpt,
};

/// Applies `ping`, received at `now`, to a monitor.
pub fn apply_ping(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    ping: &Ping,
    now: DateTime<Utc>,
) -> Outcome {
    let mut step = Step::new(state);
    state.last_ping_at = Some(now);
    match ping.kind.finish() {
        Some(succeeded) => finish(spec, state, ping, succeeded, now, &mut step),
        None if ping.kind == PingKind::Start => start(spec, state, ping, now, &mut step),
        None => log_only(spec, state, ping, now, &mut step),
    }
    step.settle(spec, state, now)
}

fn start(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    ping: &Ping,
    now: DateTime<Utc>,
    step: &mut Step,
) {
    if let Some(rid) = ping.rid
        && state.open_runs.iter().any(|open| open.run_id == rid)
    {
        step.log(rid, log_excerpt(&ping.body));
        return;
    }
    let expected_at = ping.slot.or_else(|| answered_slot(spec, state, now));
    heard_from(state, now);
    if state.open_runs.len() >= OPEN_RUNS_MAX {
        let oldest = state.open_runs.remove(0);
        if oldest.overdue.is_none() {
            step.write(Run {
                status: RunStatus::Unknown,
                error: Some(format!(
                    "never finished: more than {OPEN_RUNS_MAX} runs open"
                )),
                ..oldest.to_run(spec.slug())
            });
        }
    }
    let open = OpenRun {
        run_id: ping.rid.unwrap_or_else(|| new_run_id(now)),
        source: ping.source,
        started_at: now,
        expected_at,
        overdue: None,
        in_maintenance: false,
    };
    step.write(open.to_run(spec.slug()));
    step.log(open.run_id, log_excerpt(&ping.body));
    state.open_runs.push(open);
}

fn finish(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    ping: &Ping,
    succeeded: bool,
    now: DateTime<Utc>,
    step: &mut Step,
) {
    let paired = match ping.rid {
        Some(rid) => state.open_runs.iter().position(|open| open.run_id == rid),
        None => latest_open(state),
    };
    let expected_at = ping.slot.or_else(|| answered_slot(spec, state, now));
    heard_from(state, now);
    let mut run = match paired.map(|index| state.open_runs.remove(index)) {
        Some(open) => open.to_run(spec.slug()),
        None => Run {
            expected_at,
            started_at: ping.duration.and_then(|d| now.checked_sub_signed(delta(d))),
            ..Run::new(
                ping.rid.unwrap_or_else(|| new_run_id(now)),
                spec.slug(),
                RunStatus::Running,
                ping.source,
            )
        },
    };
    // A run already timed out keeps that verdict, which was judged and maybe alerted;
    // its late finish adds what is now known. One that went unknown is judged now.
    let judged = run.status == RunStatus::TimedOut;
    let duration = run.started_at.map(|started| now - started);
    run.finished_at = Some(now);
    run.duration_ms = duration.map(|d| u64::try_from(d.num_milliseconds()).unwrap_or(0));
    run.exit_code = ping.kind.exit_code();
    if !succeeded {
        run.error = Some(
            error_snippet(&ping.body).unwrap_or_else(|| match ping.kind {
                PingKind::Exit(code) => format!("exit status {code}"),
                _ => "the job reported failure".to_owned(),
            }),
        );
    } else if judged {
        run.error = spec.settings().max_runtime.map(timeout_error);
    }
    if !judged {
        run.status = if succeeded {
            RunStatus::Success
        } else {
            RunStatus::Failed
        };
        let min_runtime = spec.settings().min_runtime.map(delta);
        run.too_fast = succeeded && min_runtime.zip(duration).is_some_and(|(min, d)| d < min);
        run.in_maintenance = !succeeded
            && (spec.in_maintenance(now) || run.started_at.is_some_and(|s| spec.in_maintenance(s)));
        let reason = if succeeded {
            Reason::Succeeded
        } else {
            Reason::Failed
        };
        if !spec.is_paused() && !run.in_maintenance {
            step.judge(spec, state, reason, now, &run);
        }
    }
    step.log(run.run_id, log_excerpt(&ping.body));
    step.write(run);
}

fn log_only(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    ping: &Ping,
    now: DateTime<Utc>,
    step: &mut Step,
) {
    let target = ping
        .rid
        .or_else(|| latest_open(state).map(|index| state.open_runs[index].run_id));
    let run_id = match target {
        Some(run_id) => run_id,
        None => {
            // Nothing to attach it to, and the ping was acknowledged: keep it anyway.
            let run = Run {
                finished_at: Some(now),
                ..Run::new(
                    new_run_id(now),
                    spec.slug(),
                    RunStatus::Unknown,
                    ping.source,
                )
            };
            let run_id = run.run_id;
            step.write(run);
            run_id
        }
    };
    step.log(run_id, log_excerpt(&ping.body));
}

/// The index of the open run that started last.
fn latest_open(state: &MonitorState) -> Option<usize> {
    let runs = state.open_runs.iter().enumerate();
    runs.max_by_key(|(_, open)| open.started_at)
        .map(|(index, _)| index)
}

/// The slot a signal at `now` answers: for a cron schedule the latest slot since the
/// cursor, if one has come (an early or extra run answers none); for an interval, the
/// time it was due.
fn answered_slot(
    spec: &MonitorSpec,
    state: &MonitorState,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let cursor = state.cursor?;
    match spec.schedule() {
        Schedule::Cron(cron) => cron.last_at_or_before(now).filter(|slot| *slot > cursor),
        Schedule::Interval(_) => spec.schedule().next_after(cursor),
    }
}

/// A start or finish arrived: slots up to now are answered, and a stretch of misses ends.
fn heard_from(state: &mut MonitorState, now: DateTime<Utc>) {
    state.cursor = Some(state.cursor.map_or(now, |cursor| cursor.max(now)));
    state.open_miss = None;
}
