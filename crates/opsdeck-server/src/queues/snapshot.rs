//! Snapshots a `push` source's application posts (`POST /api/v1/queues/{queue}/snapshot`):
//! checked field by field, their failures redacted and cut to one readable line, then stored
//! and put in the view at once. The answer comes after the commit, so an acknowledged
//! snapshot is never lost.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opsdeck_core::cron::error_headline;
use opsdeck_core::ids::{JobId, QueueName, TenantId};
use opsdeck_core::queues::{Count, JobState, JobSummary, QueueStats, SourceStatus, System};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Connection, Queues, Source};
use crate::error::ApiError;

/// Failures one snapshot may report at most.
pub const FAILURES_MAX: usize = 100;
/// Longest error text kept per failure before it is cut to a snippet.
const ERROR_MAX_BYTES: usize = 16 * 1024;

/// What the application reports of one queue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The push source it belongs to; may be left out while only one push source is
    /// configured.
    pub source: Option<String>,
    /// Jobs by state: waiting, scheduled, active, retrying, failed, dead, completed (report
    /// the states the queue keeps).
    pub counts: BTreeMap<String, u64>,
    pub oldest_waiting_seconds: Option<f64>,
    pub failures_last_hour: Option<u64>,
    pub paused: Option<bool>,
    /// Recent failures, newest first, at most 100.
    #[serde(default)]
    pub failures: Vec<Failure>,
}

/// One failed job as the application reports it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The job's id in the application's queue: what its retry webhook receives.
    pub id: String,
    /// What runs (a task or worker name).
    pub name: Option<String>,
    /// The error; what is kept is its telling line (the exception, not the frames), redacted.
    pub error: Option<String>,
    /// When it failed.
    pub at: Option<DateTime<Utc>>,
    pub attempts: Option<u32>,
    pub max_attempts: Option<u32>,
    pub tenant_id: Option<String>,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_field", format!("field `{field}`: {message}"))
}

/// The push source a snapshot names, or the only one.
fn push_source<'a>(queues: &'a Queues, named: Option<&str>) -> Result<&'a Source, ApiError> {
    let push: Vec<&Source> = queues
        .sources()
        .iter()
        .filter(|s| matches!(s.connection, Connection::Push(_)))
        .collect();
    match named {
        Some(name) => push
            .into_iter()
            .find(|s| s.name.as_str() == name)
            .ok_or_else(|| invalid("source", "no push source of that name is configured")),
        None => match push.as_slice() {
            [only] => Ok(only),
            [] => Err(ApiError::not_found(
                "no push source is configured: add a [[queues.sources]] entry with type = \"push\"",
            )),
            _ => Err(invalid(
                "source",
                "several push sources are configured: name the one this snapshot belongs to",
            )),
        },
    }
}

/// Checks and records a snapshot of `queue`; answers the source it was recorded for.
pub async fn record_snapshot(
    queues: &Queues,
    queue: &str,
    snapshot: Snapshot,
) -> Result<opsdeck_core::ids::SourceName, ApiError> {
    let source = push_source(queues, snapshot.source.as_deref())?;
    let queue = QueueName::parse(queue).map_err(|e| invalid("queue", e))?;
    let now = queues.clock().now();
    let mut counts = BTreeMap::new();
    for (state, value) in &snapshot.counts {
        let state = state
            .parse::<JobState>()
            .map_err(|e| invalid(&format!("counts.{state}"), e))?;
        counts.insert(
            state,
            Count {
                value: *value,
                at: now,
            },
        );
    }
    if let Some(age) = snapshot.oldest_waiting_seconds
        && !(age.is_finite() && age >= 0.0)
    {
        return Err(invalid(
            "oldest_waiting_seconds",
            "a number of seconds, 0 or more",
        ));
    }
    if snapshot.failures.len() > FAILURES_MAX {
        return Err(invalid(
            "failures",
            format!("at most {FAILURES_MAX}: report the newest"),
        ));
    }
    let jobs = snapshot
        .failures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            failure(&queue, f).map_err(|(field, e)| invalid(&format!("failures[{i}].{field}"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stats = QueueStats {
        source: source.name.clone(),
        queue,
        system: System::Push,
        counts,
        oldest_waiting_seconds: snapshot.oldest_waiting_seconds,
        failures_last_hour: snapshot.failures_last_hour,
        paused: snapshot.paused,
        polled_at: now,
    };
    let status = SourceStatus {
        source: source.name.clone(),
        system: System::Push,
        version: None,
        last_success_at: Some(now),
        last_attempt_at: Some(now),
        error: None,
    };
    queues
        .store()
        .record_queue_push(&status, &stats, &jobs)
        .await?;
    queues.put_queue(status, stats);
    Ok(source.name.clone())
}

fn failure(queue: &QueueName, f: &Failure) -> Result<JobSummary, (&'static str, String)> {
    let id = JobId::parse(&f.id).map_err(|e| ("id", e.to_string()))?;
    let tenant_id = f
        .tenant_id
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .map_err(|e| ("tenant_id", e.to_string()))?;
    let name = f
        .name
        .as_deref()
        .map(|n| opsdeck_core::redact::truncate_redacted(n, 200));
    let error = f.error.as_deref().and_then(|text| {
        let text = &text[..floor_char_boundary(text, ERROR_MAX_BYTES)];
        let redacted = opsdeck_core::redact::redact_text(text);
        error_headline(&redacted)
    });
    Ok(JobSummary {
        id,
        queue: queue.clone(),
        state: JobState::Failed,
        name,
        attempts: f.attempts,
        max_attempts: f.max_attempts,
        created_at: None,
        at: f.at,
        error,
        tenant_id,
    })
}

/// The largest char boundary at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}
