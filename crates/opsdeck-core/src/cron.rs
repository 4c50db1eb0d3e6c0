//! Cron monitoring (SPEC §4, issue 5), the pure part: what a monitor is ([`MonitorSpec`]:
//! [`Slug`], [`Schedule`], grace, runtime bounds, thresholds, [`MaintenanceWindow`]s),
//! what a job reports ([`Ping`]), what is kept of each run ([`Run`]), what opsdeck remembers
//! per monitor ([`MonitorState`]) and the two steps that move it: [`apply_ping`] when a
//! signal arrives and [`evaluate`] when time passes. Both take `now` (the clock is the
//! caller's), change the state in place and return an [`Outcome`]: run rows to write, log
//! text to append, a [`Transition`] to record and an [`AlertIntent`] to send.
//!
//! Receiving pings, storing rows, scheduling evaluations and sending alerts belong to the
//! server and the store; this module only decides.
//!
//! # The model
//!
//! A monitor expects its job at *slots*: the times of its cron schedule, or one interval
//! after the last signal. A start or finish answers every slot up to its arrival; a slot
//! unanswered when its grace runs out is *missed*. A started run has its own deadline,
//! `max_runtime`, apart from grace. Consecutive failed, missed and timed-out results count
//! towards `failure_threshold` and turn the monitor *down* (one alert); consecutive
//! successes count towards `recovery_threshold` and bring it back *up* (one alert).
//! A monitor never heard from expects nothing and stays *new*, as on healthchecks.io, so
//! adding monitors to the config does not page anyone before their jobs are wired up.
//!
//! # Decisions
//!
//! - **Maintenance windows** record everything and judge successes only: a failure, miss
//!   or timeout whose start or verdict falls in a window is stored with `in_maintenance`
//!   and left out of the streaks entirely, so it neither turns the monitor down nor breaks
//!   a run of successes towards recovery. A job that only ever runs inside its window
//!   therefore never alerts for failures there — the point of the window.
//! - **Collapse**: consecutive misses grow one row ([`OpenMiss`], `missed_slots`) until
//!   the job is heard from, whether they pile up over months of evaluator steps or arrive
//!   at once after opsdeck was off. Each slot still counts towards the threshold.
//! - **Self-outage guard**: the server passes the times opsdeck itself was down
//!   ([`Outage`], from its own heartbeat) to [`evaluate`]. A slot whose waiting time
//!   (expected time to grace deadline), or a run whose time to `max_runtime`, overlaps one
//!   is recorded `unknown`: its signal may have been sent to nobody. Unknown counts for
//!   nothing, so it neither alerts nor breaks a streak. The outages are input, not state,
//!   because they belong to the instance, not to any monitor.
//! - **Paused** monitors record runs but expect and judge nothing; on resume, slots of the
//!   pause are skipped. A ping does not resume a monitor (unlike healthchecks.io): pausing
//!   is an operator's decision.

mod apply;
mod evaluate;
mod headline;
pub mod import;
mod outcome;
mod patch;
mod ping;
mod record;
mod run;
mod schedule;
mod span;
mod spec;
mod state;

pub use apply::apply_ping;
pub use evaluate::{SLOTS_PER_STEP, evaluate};
pub use headline::{HEADLINE_MAX_CHARS, error_headline};
pub use outcome::{AlertIntent, Outcome, Reason, Transition};
pub use patch::{SettingsPatch, SpecPatch};
pub use ping::{Ping, PingError, PingKind, parse_rid};
pub use record::{
    InvalidDocument, InvalidRunCursor, LastRun, MONITOR_PAGE_MAX, MonitorCounts, MonitorFilter,
    MonitorPage, MonitorRecord, MonitorSource, RunCount, RunCursor, RunPage, StateWrite, Upserted,
    spec_from_json, spec_json, state_from_json, state_json,
};
pub use run::{
    ERROR_MAX_BYTES, LOG_MAX_BYTES, LogAppend, Run, RunSource, RunStatus, append_log,
    error_snippet, log_excerpt,
};
pub use schedule::{CronSchedule, INTERVAL_MAX, INTERVAL_MIN, Interval, Schedule, ScheduleError};
pub use spec::{
    DEFAULT_GRACE, DURATION_MAX, DURATION_MIN, MaintenanceWindow, MonitorSettings, MonitorSpec,
    THRESHOLD_MAX, WINDOW_MAX, WINDOWS_MAX,
};
pub use state::{
    Health, MonitorState, MonitorStatus, OPEN_RUNS_MAX, OpenMiss, OpenRun, Outage, PAIRING_WINDOW,
    derive_status,
};

#[cfg(test)]
mod tests;
