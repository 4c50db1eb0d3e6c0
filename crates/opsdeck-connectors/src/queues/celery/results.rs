//! Failures from the result backend. Celery keeps each task's result as the string
//! `celery-task-meta-<id>` (JSON, expiring after `result_expires`), with no index by state or
//! queue, so finding failures means a `SCAN` of the backend's keyspace. Each poll advances
//! the scan by at most [`SCAN_CALLS`] calls of [`SCAN_COUNT`] keys (each call short however
//! large the keyspace), reads the results found with `MGET`, and keeps the failures in
//! memory ([`Sweep`]); when the cursor comes back to 0 a round is complete, and failures
//! not seen again in it (expired, forgotten) are dropped. Until a first round completes the
//! failures known are those of the part scanned so far.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::{CeleryConnector, unsupported};
use crate::queues::{PollCost, QueueError};

/// Keys one `SCAN` call looks at.
const SCAN_COUNT: usize = 1_000;
/// `SCAN` calls per poll: at most ten thousand keys looked at.
const SCAN_CALLS: usize = 10;
/// Failures kept; past it, the oldest are dropped.
const FAILURES_MAX: usize = 20_000;

/// A failed task as its result records it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Failure {
    pub id: String,
    /// Set with `result_extended = True`.
    pub queue: Option<String>,
    pub name: Option<String>,
    pub date_done: Option<DateTime<Utc>>,
    /// `exc_type: exc_message`, not yet redacted.
    pub error: String,
    pub traceback: Option<String>,
    pub args: Option<Value>,
    pub kwargs: Option<Value>,
    pub retries: Option<u32>,
}

/// The scan's place and what it found.
#[derive(Debug, Default)]
pub(super) struct Sweep {
    cursor: u64,
    failures: HashMap<String, Failure>,
    /// Failures seen in the round under way.
    seen: HashSet<String>,
    /// Rounds completed.
    pub rounds: u64,
}

impl Sweep {
    /// Whether the failures known are all there are: a round of the scan has completed and
    /// none was dropped for room.
    pub fn complete(&self) -> bool {
        self.rounds > 0 && self.failures.len() < FAILURES_MAX
    }

    /// The failures of `queue` (with those of no known queue when `first`), newest first.
    pub fn failures_of(&self, queue: &str, first: bool) -> Vec<Failure> {
        let mut out: Vec<Failure> = self
            .failures
            .values()
            .filter(|f| match &f.queue {
                Some(q) => q == queue,
                None => first,
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| b.date_done.cmp(&a.date_done).then(a.id.cmp(&b.id)));
        out
    }
}

pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|naive| Utc.from_utc_datetime(&naive))
        })
}

/// The failure a result records, `None` for another state; an error for a result opsdeck
/// does not recognise (not JSON: a pickle or msgpack `result_serializer`).
pub(super) fn failure_of(id: &str, raw: &[u8]) -> Result<Option<Failure>, QueueError> {
    let value: Value = serde_json::from_slice(raw).map_err(|_| {
        unsupported(&format!(
            "the result of task {id:?} is not JSON (result_serializer must be json)"
        ))
    })?;
    let Some(status) = value.get("status").and_then(Value::as_str) else {
        return Err(unsupported(&format!(
            "the result of task {id:?} has no status"
        )));
    };
    if status != "FAILURE" {
        return Ok(None);
    }
    let result = value.get("result");
    let exc_type = result
        .and_then(|r| r.get("exc_type"))
        .and_then(Value::as_str)
        .unwrap_or("Error");
    let message = match result.and_then(|r| r.get("exc_message")) {
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(Some(Failure {
        id: id.to_owned(),
        queue: text("queue"),
        name: text("name"),
        date_done: text("date_done").as_deref().and_then(parse_time),
        error: if message.is_empty() {
            exc_type.to_owned()
        } else {
            format!("{exc_type}: {message}")
        },
        traceback: text("traceback"),
        args: value.get("args").cloned(),
        kwargs: value.get("kwargs").cloned(),
        retries: value
            .get("retries")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok()),
    }))
}

/// `prefix*` as a `SCAN MATCH` pattern, glob characters of the prefix escaped.
fn pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

/// Advances the sweep by one bounded step, adding what it cost to `cost`.
pub(super) async fn step(
    connector: &CeleryConnector,
    cost: &mut PollCost,
) -> Result<(), QueueError> {
    let Some(backend) = &connector.backend else {
        return Ok(());
    };
    let mut cursor = connector
        .sweep
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .cursor;
    let pattern = pattern(&connector.result_prefix);
    let mut found: Vec<(String, Option<Failure>)> = Vec::new();
    let mut round_done = false;
    for _ in 0..SCAN_CALLS {
        let started = Instant::now();
        let (next, keys): (u64, Vec<String>) = backend
            .command(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT),
            )
            .await?;
        cost.commands += 1;
        if !keys.is_empty() {
            let values: Vec<Option<Vec<u8>>> =
                backend.command(redis::cmd("MGET").arg(&keys)).await?;
            cost.commands += 1;
            for (key, value) in keys.iter().zip(values) {
                let (Some(id), Some(raw)) = (key.strip_prefix(&connector.result_prefix), value)
                else {
                    continue;
                };
                found.push((id.to_owned(), failure_of(id, &raw)?));
            }
        }
        cost.elapsed += started.elapsed();
        cursor = next;
        if next == 0 {
            round_done = true;
            break;
        }
    }
    let mut sweep = connector.sweep.lock().unwrap_or_else(|p| p.into_inner());
    sweep.cursor = cursor;
    for (id, failure) in found {
        match failure {
            Some(failure) => {
                sweep.seen.insert(id.clone());
                sweep.failures.insert(id, failure);
            }
            None => {
                sweep.failures.remove(&id);
            }
        }
    }
    if round_done {
        let seen = std::mem::take(&mut sweep.seen);
        sweep.failures.retain(|id, _| seen.contains(id));
        sweep.rounds += 1;
    }
    if sweep.failures.len() > FAILURES_MAX {
        let mut dates: Vec<(Option<DateTime<Utc>>, String)> = sweep
            .failures
            .values()
            .map(|f| (f.date_done, f.id.clone()))
            .collect();
        dates.sort();
        let excess = dates.len() - FAILURES_MAX;
        for (_, id) in dates.into_iter().take(excess) {
            sweep.failures.remove(&id);
        }
    }
    cost.elapsed = cost.elapsed.max(Duration::from_nanos(1));
    Ok(())
}
