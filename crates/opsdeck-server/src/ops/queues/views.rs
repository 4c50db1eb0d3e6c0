//! The queue views: every queue from memory, one queue with its 24 hours of history, and a
//! queue's jobs and one job read live through the source's connector.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opsdeck_connectors::queues::{Capabilities, JobPage, JobQuery};
use opsdeck_core::auth::Permission;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{JobDetail, JobFilter, QueueSample, QueueStats, SourceStatus};
use serde::Serialize;
use utoipa::ToSchema;

use super::{connector, queue_of, source_error, source_of};
use crate::error::ApiError;
use crate::ops::Caller;
use crate::queues::Source;
use crate::state::AppState;

/// A source as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    pub name: String,
    /// The source's system: `bullmq`, `graphile-worker` or `push`.
    pub system: &'static str,
    /// What it connects to, without credentials.
    pub target: String,
    /// The system's version as last found.
    pub version: Option<String>,
    /// `ok`, or `stale` when its last poll failed or none succeeded lately: its numbers are
    /// then the last known, not the current ones.
    pub status: &'static str,
    /// Why the last poll failed (redacted).
    pub error: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Every action is off for this source.
    pub read_only: bool,
    /// Why an action is not available, per action (`retry`, `discard`, `pause`, `bulk`);
    /// absent when it is. Empty until this replica has connected to the source.
    pub unavailable: BTreeMap<&'static str, String>,
}

/// One count and when it was taken.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountView {
    pub count: u64,
    pub as_of: DateTime<Utc>,
}

/// A queue as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueView {
    pub source: String,
    pub queue: String,
    pub system: &'static str,
    /// By state (waiting, scheduled, active, retrying, failed, dead, completed): only the
    /// states the system keeps, each with the time it was counted.
    pub counts: BTreeMap<&'static str, CountView>,
    /// Jobs waiting to run.
    pub backlog: u64,
    pub oldest_waiting_seconds: Option<f64>,
    pub failures_last_hour: Option<u64>,
    /// Null where the system has no pause.
    pub paused: Option<bool>,
    pub polled_at: DateTime<Utc>,
    /// The source did not answer lately: these are its last known numbers.
    pub stale: bool,
}

impl QueueView {
    pub fn new(stats: &QueueStats, stale: bool) -> Self {
        Self {
            source: stats.source.to_string(),
            queue: stats.queue.to_string(),
            system: stats.system.as_str(),
            counts: stats
                .counts
                .iter()
                .map(|(state, c)| {
                    (
                        state.as_str(),
                        CountView {
                            count: c.value,
                            as_of: c.at,
                        },
                    )
                })
                .collect(),
            backlog: stats.backlog(),
            oldest_waiting_seconds: stats.oldest_waiting_seconds,
            failures_last_hour: stats.failures_last_hour,
            paused: stats.paused,
            polled_at: stats.polled_at,
            stale,
        }
    }
}

/// Every source and every queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuesOverview {
    pub sources: Vec<SourceView>,
    pub queues: Vec<QueueView>,
}

fn unavailable(
    capabilities: Option<Capabilities>,
    read_only: bool,
) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for action in ["retry", "discard", "pause", "bulk"] {
        if read_only {
            out.insert(action, "the source is read_only".to_owned());
        }
    }
    if let Some(c) = capabilities {
        for (action, allowed) in [
            ("retry", c.retry),
            ("discard", c.discard),
            ("pause", c.pause),
            ("bulk", c.bulk),
        ] {
            if let Err(why) = allowed {
                out.entry(action).or_insert_with(|| why.to_owned());
            }
        }
    }
    out
}

fn source_view(source: &Source, status: Option<&SourceStatus>, now: DateTime<Utc>) -> SourceView {
    let stale = status.is_none_or(|s| s.is_stale(now, source.stale_after()));
    SourceView {
        name: source.name.to_string(),
        system: source.system.as_str(),
        target: source.target(),
        version: status.and_then(|s| s.version.clone()),
        status: if stale { "stale" } else { "ok" },
        error: status.and_then(|s| s.error.clone()),
        last_success_at: status.and_then(|s| s.last_success_at),
        last_attempt_at: status.and_then(|s| s.last_attempt_at),
        read_only: source.read_only,
        unavailable: unavailable(source.capabilities(), source.read_only),
    }
}

/// Every source and every queue, from memory.
pub fn list_queues(state: &AppState, caller: &Caller) -> Result<QueuesOverview, ApiError> {
    caller.require(Permission::ReadOps)?;
    let queues = state.queues();
    let view = queues.view();
    let now = state.clock().now();
    let sources: Vec<SourceView> = queues
        .sources()
        .iter()
        .map(|source| source_view(source, view.status(&source.name), now))
        .collect();
    let stale_of = |name: &str| {
        sources
            .iter()
            .any(|s| s.name == name && s.status == "stale")
    };
    let queues = view
        .queues
        .iter()
        .filter(|q| queues.source(&q.source).is_some())
        .map(|q| QueueView::new(q, stale_of(q.source.as_str())))
        .collect();
    Ok(QueuesOverview { sources, queues })
}

/// One queue: its numbers, its source, and its history over the last 24 hours.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueDetail {
    /// The source's own state (`source` is its name, as on every queue).
    #[serde(rename = "source_detail")]
    pub source: SourceView,
    #[serde(flatten)]
    pub queue: QueueView,
    /// Points at most a minute apart, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<QueueSample>,
}

/// One queue; 404 for an unknown source, or a queue no poll has seen.
pub async fn get_queue(
    state: &AppState,
    caller: &Caller,
    source: &str,
    queue: &str,
) -> Result<QueueDetail, ApiError> {
    caller.require(Permission::ReadOps)?;
    let source = source_of(state, source)?;
    let queue = queue_of(queue)?;
    let view = state.queues().view();
    let now = state.clock().now();
    let source_view = source_view(source, view.status(&source.name), now);
    let stats = view
        .queue(&source.name, &queue)
        .ok_or_else(|| no_queue(source, &queue))?;
    let key = Some(format!("queues.history {} {queue}", source.name));
    let since = now - chrono::Duration::hours(24);
    let history = state
        .last_good()
        .read(
            key,
            now,
            state.store().queue_samples(&source.name, &queue, since),
        )
        .await?;
    Ok(QueueDetail {
        queue: QueueView::new(stats, source_view.status == "stale"),
        source: source_view,
        history,
    })
}

pub(super) fn no_queue(source: &Source, queue: &QueueName) -> ApiError {
    ApiError::not_found(format!(
        "source {} reports no queue named \"{queue}\"",
        source.name
    ))
}

/// What a job list asks for.
#[derive(Debug, Clone)]
pub struct JobListQuery {
    pub filter: JobFilter,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// A page of a queue's jobs, read live from the source.
pub async fn list_jobs(
    state: &AppState,
    caller: &Caller,
    source: &str,
    queue: &str,
    query: JobListQuery,
) -> Result<JobPage, ApiError> {
    caller.require(Permission::ReadOps)?;
    let source = source_of(state, source)?;
    let queue = queue_of(queue)?;
    let connector = connector(source).await?;
    let query = JobQuery {
        filter: query.filter,
        cursor: query.cursor,
        limit: query.limit,
    };
    connector
        .list_jobs(&queue, &query)
        .await
        .map_err(|err| source_error(source, err))
}

/// One job, read live from the source; 404 when it does not exist.
pub async fn get_job(
    state: &AppState,
    caller: &Caller,
    source: &str,
    queue: &str,
    id: &str,
) -> Result<JobDetail, ApiError> {
    caller.require(Permission::ReadOps)?;
    let source = source_of(state, source)?;
    let queue = queue_of(queue)?;
    let id = JobId::parse(id).map_err(|_| ApiError::not_found("no job with that id"))?;
    let connector = connector(source).await?;
    connector
        .get_job(&queue, &id)
        .await
        .map_err(|err| source_error(source, err))?
        .ok_or_else(|| ApiError::not_found(format!("no job {id} in {}/{queue}", source.name)))
}
