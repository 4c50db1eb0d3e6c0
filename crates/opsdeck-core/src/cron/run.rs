//! Run tracking (SPEC §4): one [`Run`] row per run of a job, or per stretch of missed
//! slots, with its [`RunStatus`] and where it came from ([`RunSource`]). Log output is kept
//! apart ([`LogAppend`]) because it is large and only appended to.
//!
//! Text from the job (its output, its error) is redacted and bounded here, when the value
//! is built, so the store never sees it raw. Both keep the *tail*: a failing job prints
//! its error last.

// `fmt`, `FromStr` and `UnknownName` are named by what `named!` expands to.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::{NoContext, Timestamp, Uuid};

use super::headline::headline_line;
use crate::alert::{UnknownName, named};
use crate::ids::Slug;
use crate::redact::redact_text;

/// The largest error snippet kept, in bytes.
pub const ERROR_MAX_BYTES: usize = 1024;
/// The largest log excerpt kept per run, in bytes; also a sensible `Ping-Body-Limit`.
pub const LOG_MAX_BYTES: usize = 100 * 1024;
/// How far above the end of a failure report its headline is looked for.
const HEADLINE_WINDOW_BYTES: usize = 16 * 1024;
/// The most of a headline line kept in front of an error's tail.
const HEADLINE_KEPT_BYTES: usize = 320;
/// Extra text redacted in front of a kept tail, so a label cut off by the limit
/// (`password=` just before the cut) still masks the value after it.
const REDACT_SLACK: usize = 512;
/// Marks text that was cut.
const ELLIPSIS: &str = "…";

/// What became of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started, not finished yet.
    Running,
    Success,
    /// Reported failure: `/fail` or a non-zero exit status.
    Failed,
    /// Ran longer than `max_runtime` without finishing.
    TimedOut,
    /// No signal for an expected slot within grace.
    Missed,
    /// Nobody can tell: opsdeck itself was down when the signal was due, or a run was
    /// never finished, or a log arrived with no run to attach it to.
    Unknown,
}

named!(RunStatus, "run status", "running, success, failed, timed_out, missed, unknown", {
    Running => "running",
    Success => "success",
    Failed => "failed",
    TimedOut => "timed_out",
    Missed => "missed",
    Unknown => "unknown",
});

impl RunStatus {
    /// Failed, timed out and missed runs count towards `failure_threshold`.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            RunStatus::Failed | RunStatus::TimedOut | RunStatus::Missed
        )
    }
}

/// Who reported a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunSource {
    /// The healthchecks.io-style ping URLs.
    Ping,
    /// `opsdeck exec` wrapping a command.
    Exec,
    /// opsdeck's own HTTP scheduler firing the job.
    Scheduler,
    /// The JSON check-in API for SDKs.
    Checkin,
    /// The evaluator itself: missed and unknown slots, nobody reported them.
    Evaluator,
}

named!(RunSource, "run source", "ping, exec, scheduler, checkin, evaluator", {
    Ping => "ping",
    Exec => "exec",
    Scheduler => "scheduler",
    Checkin => "checkin",
    Evaluator => "evaluator",
});

/// One row of the runs table. The store keeps it by `run_id`: writing a run whose id
/// exists replaces every field of that row (the log excerpt is not a field: see
/// [`LogAppend`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// A client's `rid`/`check_in_id`, or a UUIDv7 opsdeck made (ordered by time).
    pub run_id: Uuid,
    pub slug: Slug,
    pub status: RunStatus,
    pub source: RunSource,
    /// The slot this run answers (the first one, for a stretch of misses); `None` for a
    /// run nobody expected, such as the first ever or an extra one.
    pub expected_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub exit_code: Option<u8>,
    /// Redacted, at most [`ERROR_MAX_BYTES`].
    pub error: Option<String>,
    /// For missed (and unknown) slots: how many consecutive slots this row stands for.
    /// A job that stays silent for a week fills one row, not thousands. 0 for real runs.
    pub missed_slots: u32,
    /// The last slot of a stretch of misses.
    pub last_missed_at: Option<DateTime<Utc>>,
    /// The run failed or was missed inside a maintenance window, so it did not count
    /// towards `down`.
    pub in_maintenance: bool,
    /// A success faster than `min_runtime`: suspicious, worth a look.
    pub too_fast: bool,
}

impl Run {
    /// A run with nothing known about it yet but who reported it.
    pub(crate) fn new(run_id: Uuid, slug: &Slug, status: RunStatus, source: RunSource) -> Self {
        Self {
            run_id,
            slug: slug.clone(),
            status,
            source,
            expected_at: None,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            exit_code: None,
            error: None,
            missed_slots: 0,
            last_missed_at: None,
            in_maintenance: false,
            too_fast: false,
        }
    }
}

/// Text to append to a run's log excerpt. The store appends with [`append_log`], which
/// keeps the tail within [`LOG_MAX_BYTES`]; a run it does not know is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogAppend {
    pub run_id: Uuid,
    /// Already redacted, at most [`LOG_MAX_BYTES`].
    pub text: String,
}

/// The error snippet for a failure report: the redacted tail of `text`, at most
/// [`ERROR_MAX_BYTES`]; `None` when there is no text. When the line that says what
/// failed ([`error_headline`](super::error_headline)) sits above the tail — a Java root
/// cause above its frames, a Node error above npm's report — it is kept in front of a
/// shorter tail, so the lists that show one line per job still find it.
pub fn error_snippet(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let window = redacted_tail(text, HEADLINE_WINDOW_BYTES);
    let tail = keep_tail(&window, ERROR_MAX_BYTES, false);
    let Some(line) = headline_line(&window).filter(|line| !tail.contains(*line)) else {
        return Some(tail);
    };
    let line = keep_head(line.trim(), HEADLINE_KEPT_BYTES);
    let rest = keep_tail(&window, ERROR_MAX_BYTES - line.len() - 1, true);
    Some(format!("{line}\n{rest}"))
}

/// The redacted tail of a ping body or command output, at most [`LOG_MAX_BYTES`].
pub fn log_excerpt(text: &str) -> String {
    redacted_tail(text, LOG_MAX_BYTES)
}

/// `stored` followed by `more`, cut from the front to [`LOG_MAX_BYTES`]. Both are
/// already redacted.
pub fn append_log(stored: &str, more: &str) -> String {
    let joined = [stored, more].concat();
    keep_tail(&joined, LOG_MAX_BYTES, false)
}

/// Redacts the last `max` bytes of `text` (and a little before them), then keeps the
/// last `max` bytes of the result; cut text starts with `…`.
fn redacted_tail(text: &str, max: usize) -> String {
    let start = text.ceil_char_boundary(text.len().saturating_sub(max + REDACT_SLACK));
    let redacted = redact_text(&text[start..]);
    keep_tail(&redacted, max, start > 0)
}

/// The end of `text` within `max` bytes, on a char boundary, marked with `…` when
/// anything was dropped (here or, when `cut`, before).
fn keep_tail(text: &str, max: usize, cut: bool) -> String {
    if text.len() <= max && !cut {
        return text.to_owned();
    }
    let budget = max.saturating_sub(ELLIPSIS.len());
    let start = text.ceil_char_boundary(text.len().saturating_sub(budget));
    [ELLIPSIS, &text[start..]].concat()
}

/// The start of `text` within `max` bytes, on a char boundary, marked with `…` when cut.
fn keep_head(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = text.floor_char_boundary(max.saturating_sub(ELLIPSIS.len()));
    [&text[..end], ELLIPSIS].concat()
}

/// A fresh run id, a UUIDv7 stamped with `now` (the injected clock, not the system's),
/// so ids sort by creation like the runs they name.
pub(crate) fn new_run_id(now: DateTime<Utc>) -> Uuid {
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    Uuid::new_v7(Timestamp::from_unix(
        NoContext,
        seconds,
        now.timestamp_subsec_nanos(),
    ))
}
