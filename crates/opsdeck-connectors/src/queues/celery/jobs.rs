//! Job lists and one job.
//!
//! - Waiting: the queue's lists in kombu's order of consumption (the queue, then priority
//!   steps 3, 6, 9), each from its consumer end (the right), so the next message to run comes
//!   first. A page is an `LRANGE` of negative indexes.
//! - Active: the broker's `unacked` messages sent to this queue, among the first
//!   [`UNACKED_MAX`] of them.
//! - Failed: the failures the result backend's sweep has found, newest first.
//! - Other states: Celery's broker keeps none.
//!
//! Arguments are never shown, only their shapes; errors and tracebacks are redacted and
//! bounded.

use chrono::{DateTime, Utc};
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{
    Attempt, JobDetail, JobFilter, JobState, JobSummary, PayloadShape, payload_shape,
};
use opsdeck_core::redact::truncate_redacted;
use serde_json::{Map, Value as Json, json};

use super::message::{self, Message};
use super::poll::routing_key_of;
use super::results::{Failure, failure_of, parse_time};
use super::{CeleryConnector, unsupported};
use crate::queues::paging::matches;
use crate::queues::{JobPage, JobQuery, QueueError};

/// Messages a search reads before it answers what it found.
const SCAN_MAX: u64 = 5_000;
/// Messages read per `LRANGE` while searching.
const BATCH: u64 = 200;
/// Unacknowledged messages read for the active list.
const UNACKED_MAX: usize = 1_000;
/// Waiting messages looked through for one job's page.
const FIND_MAX: u64 = 1_000;
const ERROR_MAX_BYTES: usize = 200;
const STACK_MAX_BYTES: usize = 4_000;
const REPR_MAX_BYTES: usize = 300;

/// Where a page starts: the part (list) and the offset in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cursor {
    part: usize,
    offset: u64,
}

impl Cursor {
    fn parse(text: Option<&str>) -> Result<Self, QueueError> {
        let Some(text) = text else {
            return Ok(Self::default());
        };
        let bad = || QueueError::NotFound("no such page: pass back the `next` of a page".into());
        let (part, offset) = text.split_once(':').ok_or_else(bad)?;
        Ok(Self {
            part: part.parse().map_err(|_| bad())?,
            offset: offset.parse().map_err(|_| bad())?,
        })
    }

    fn text(self) -> String {
        format!("{}:{}", self.part, self.offset)
    }
}

fn error_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    truncate_redacted(line, ERROR_MAX_BYTES)
}

impl CeleryConnector {
    fn tenant_of(&self, job: &Json) -> Option<opsdeck_core::ids::TenantId> {
        self.context
            .tenant_path
            .as_ref()
            .and_then(|path| path.tenant_of(job))
    }

    fn message_summary(
        &self,
        queue: &QueueName,
        state: JobState,
        message: &Message,
    ) -> Option<JobSummary> {
        Some(JobSummary {
            id: JobId::parse(&message.id).ok()?,
            queue: queue.clone(),
            state,
            name: Some(truncate_redacted(&message.task, 200)),
            attempts: message
                .headers
                .get("retries")
                .and_then(Json::as_u64)
                .and_then(|n| u32::try_from(n + 1).ok()),
            max_attempts: None,
            created_at: None,
            at: message
                .headers
                .get("eta")
                .and_then(Json::as_str)
                .and_then(parse_time),
            error: None,
            tenant_id: self.tenant_of(&message.as_job()),
        })
    }

    fn failure_summary(&self, queue: &QueueName, failure: &Failure) -> Option<JobSummary> {
        let job = json!({
            "id": failure.id,
            "task": failure.name,
            "headers": {},
            "args": failure.args,
            "kwargs": failure.kwargs,
        });
        Some(JobSummary {
            id: JobId::parse(&failure.id).ok()?,
            queue: queue.clone(),
            state: JobState::Failed,
            name: failure.name.as_deref().map(|n| truncate_redacted(n, 200)),
            attempts: failure.retries.map(|r| r + 1),
            max_attempts: None,
            created_at: None,
            at: failure.date_done,
            error: Some(error_line(&failure.error)),
            tenant_id: self.tenant_of(&job),
        })
    }

    /// Up to `count` messages of list `key` from `offset`, counted from its consumer end.
    async fn messages(
        &self,
        key: &str,
        offset: u64,
        count: u64,
    ) -> Result<Vec<Message>, QueueError> {
        let stop = -1 - i64::try_from(offset).unwrap_or(i64::MAX - 1);
        let start = stop - i64::try_from(count).unwrap_or(0) + 1;
        let mut raw: Vec<Vec<u8>> = self
            .broker
            .command(redis::cmd("LRANGE").arg(key).arg(start).arg(stop))
            .await?;
        raw.reverse();
        raw.iter()
            .map(|r| message::parse(r).map_err(|why| unsupported(why.describe())))
            .collect()
    }
}

/// A page from a list of summaries already in memory.
fn page_of(all: Vec<JobSummary>, filter: &JobFilter, cursor: Cursor, limit: usize) -> JobPage {
    let offset = usize::try_from(cursor.offset).unwrap_or(usize::MAX);
    let matching: Vec<JobSummary> = all.into_iter().filter(|j| matches(j, filter)).collect();
    let scanned = matching.len() as u64;
    let end = offset.saturating_add(limit).min(matching.len());
    let jobs = matching
        .get(offset.min(end)..end)
        .map(<[JobSummary]>::to_vec)
        .unwrap_or_default();
    JobPage {
        jobs,
        next: (end < matching.len()).then(|| {
            Cursor {
                part: 0,
                offset: end as u64,
            }
            .text()
        }),
        scanned,
        partial: false,
    }
}

pub(super) async fn list(
    connector: &CeleryConnector,
    queue: &QueueName,
    query: &JobQuery,
) -> Result<JobPage, QueueError> {
    let filter = &query.filter;
    let limit = query.limit.max(1) as usize;
    let cursor = Cursor::parse(query.cursor.as_deref())?;
    match filter.state {
        JobState::Waiting => waiting(connector, queue, filter, cursor, limit).await,
        JobState::Active => {
            let jobs = unacked(connector, queue)
                .await?
                .iter()
                .filter_map(|m| connector.message_summary(queue, JobState::Active, m))
                .collect();
            Ok(page_of(jobs, filter, cursor, limit))
        }
        JobState::Failed => {
            let first = connector.first_queue() == Some(queue);
            let (failures, complete) = {
                let sweep = connector.sweep.lock().unwrap_or_else(|p| p.into_inner());
                (sweep.failures_of(queue.as_str(), first), sweep.complete())
            };
            let jobs = failures
                .iter()
                .filter_map(|f| connector.failure_summary(queue, f))
                .collect();
            // Until the result backend's scan has gone round once, more failures may exist.
            let mut page = page_of(jobs, filter, cursor, limit);
            page.partial = !complete;
            Ok(page)
        }
        _ => Ok(JobPage {
            jobs: Vec::new(),
            next: None,
            scanned: 0,
            partial: false,
        }),
    }
}

async fn waiting(
    connector: &CeleryConnector,
    queue: &QueueName,
    filter: &JobFilter,
    mut cursor: Cursor,
    limit: usize,
) -> Result<JobPage, QueueError> {
    let lists = connector.lists(queue);
    let searching = filter.q.is_some() || filter.tenant_id.is_some();
    let mut jobs = Vec::new();
    let mut scanned = 0u64;
    while let Some(key) = lists.get(cursor.part) {
        let want = if searching {
            BATCH
        } else {
            (limit - jobs.len()) as u64
        };
        let messages = connector.messages(key, cursor.offset, want).await?;
        scanned += messages.len() as u64;
        for (index, message) in messages.iter().enumerate() {
            let Some(job) = connector.message_summary(queue, JobState::Waiting, message) else {
                continue;
            };
            if matches(&job, filter) {
                jobs.push(job);
            }
            if jobs.len() == limit {
                let next = Cursor {
                    part: cursor.part,
                    offset: cursor.offset + index as u64 + 1,
                };
                return Ok(JobPage {
                    jobs,
                    next: Some(next.text()),
                    scanned,
                    partial: false,
                });
            }
        }
        if messages.len() as u64 == want {
            cursor.offset += want;
            if searching && scanned >= SCAN_MAX {
                return Ok(JobPage {
                    jobs,
                    next: Some(cursor.text()),
                    scanned,
                    partial: true,
                });
            }
        } else {
            cursor = Cursor {
                part: cursor.part + 1,
                offset: 0,
            };
        }
    }
    Ok(JobPage {
        jobs,
        next: None,
        scanned,
        partial: false,
    })
}

/// The shapes of a task's arguments, never their values.
fn arguments_shape(args: Option<&Json>, kwargs: Option<&Json>) -> Option<PayloadShape> {
    if args.is_none() && kwargs.is_none() {
        return None;
    }
    let mut map = Map::new();
    if let Some(Json::Array(args)) = args {
        for (index, value) in args.iter().enumerate() {
            map.insert(format!("args[{index}]"), value.clone());
        }
    }
    if let Some(Json::Object(kwargs)) = kwargs {
        for (key, value) in kwargs {
            map.insert(key.clone(), value.clone());
        }
    }
    Some(payload_shape(&Json::Object(map)))
}

/// One task: its result in the backend (failed, or finished), else a waiting message among
/// the first [`FIND_MAX`] of its queue.
pub(super) async fn get(
    connector: &CeleryConnector,
    queue: &QueueName,
    id: &JobId,
) -> Result<Option<JobDetail>, QueueError> {
    if let Some(backend) = &connector.backend {
        let raw: Option<Vec<u8>> = backend
            .command(redis::cmd("GET").arg(format!("{}{id}", connector.result_prefix)))
            .await?;
        if let Some(raw) = raw {
            if let Some(failure) = failure_of(id.as_str(), &raw)? {
                let first = connector.first_queue() == Some(queue);
                let ours = failure
                    .queue
                    .as_deref()
                    .map_or(first, |q| q == queue.as_str());
                if !ours {
                    return Ok(None);
                }
                return Ok(failure_detail(connector, queue, &failure));
            }
            let value: Json = serde_json::from_slice(&raw).unwrap_or(Json::Null);
            if value.get("queue").and_then(Json::as_str) == Some(queue.as_str())
                && let Some(detail) = result_detail(queue, id, &value)
            {
                return Ok(Some(detail));
            }
        }
    }
    for key in connector.lists(queue) {
        let mut offset = 0;
        while offset < FIND_MAX {
            let messages = connector.messages(&key, offset, BATCH).await?;
            if let Some(message) = messages.iter().find(|m| m.id == id.as_str()) {
                return Ok(message_detail(connector, queue, message, JobState::Waiting));
            }
            if (messages.len() as u64) < BATCH {
                break;
            }
            offset += BATCH;
        }
    }
    for message in unacked(connector, queue).await? {
        if message.id == id.as_str() {
            return Ok(message_detail(connector, queue, &message, JobState::Active));
        }
    }
    Ok(None)
}

/// The messages of `queue` a worker holds, among the first [`UNACKED_MAX`] of the broker.
async fn unacked(
    connector: &CeleryConnector,
    queue: &QueueName,
) -> Result<Vec<Message>, QueueError> {
    let (_, pairs): (u64, Vec<Vec<u8>>) = connector
        .broker
        .command(
            redis::cmd("HSCAN")
                .arg(connector.unacked_key())
                .arg(0)
                .arg("COUNT")
                .arg(UNACKED_MAX),
        )
        .await?;
    let mut out = Vec::new();
    for value in pairs.iter().skip(1).step_by(2) {
        if routing_key_of(value).as_deref() != Some(queue.as_str()) {
            continue;
        }
        let entry: Json = serde_json::from_slice(value)
            .map_err(|_| unsupported(message::NotRead::NotJson.describe()))?;
        let message = entry
            .get(0)
            .ok_or(message::NotRead::NotProtocol2)
            .and_then(message::from_value)
            .map_err(|why| unsupported(why.describe()))?;
        out.push(message);
    }
    Ok(out)
}

fn failure_detail(
    connector: &CeleryConnector,
    queue: &QueueName,
    failure: &Failure,
) -> Option<JobDetail> {
    let summary = connector.failure_summary(queue, failure)?;
    Some(JobDetail {
        summary,
        attempts: vec![Attempt {
            at: failure.date_done,
            error: Some(truncate_redacted(&failure.error, STACK_MAX_BYTES)),
            stack: failure
                .traceback
                .as_deref()
                .map(|t| truncate_redacted(t, STACK_MAX_BYTES)),
        }],
        payload: arguments_shape(failure.args.as_ref(), failure.kwargs.as_ref()),
        options: vec![("status".to_owned(), "FAILURE".to_owned())],
    })
}

/// A task the backend has in another state (SUCCESS, STARTED, RETRY, REVOKED).
fn result_detail(queue: &QueueName, id: &JobId, value: &Json) -> Option<JobDetail> {
    let status = value.get("status").and_then(Json::as_str)?;
    let state = match status {
        "SUCCESS" => JobState::Completed,
        "STARTED" => JobState::Active,
        "RETRY" => JobState::Retrying,
        "REVOKED" => JobState::Dead,
        _ => JobState::Waiting,
    };
    let at: Option<DateTime<Utc>> = value
        .get("date_done")
        .and_then(Json::as_str)
        .and_then(parse_time);
    Some(JobDetail {
        summary: JobSummary {
            id: id.clone(),
            queue: queue.clone(),
            state,
            name: value
                .get("name")
                .and_then(Json::as_str)
                .map(|n| truncate_redacted(n, 200)),
            attempts: None,
            max_attempts: None,
            created_at: None,
            at,
            error: None,
            tenant_id: None,
        },
        attempts: Vec::new(),
        payload: arguments_shape(value.get("args"), value.get("kwargs")),
        options: vec![("status".to_owned(), truncate_redacted(status, 40))],
    })
}

fn message_detail(
    connector: &CeleryConnector,
    queue: &QueueName,
    message: &Message,
    state: JobState,
) -> Option<JobDetail> {
    let summary = connector.message_summary(queue, state, message)?;
    let mut options = Vec::new();
    for key in [
        "argsrepr",
        "kwargsrepr",
        "eta",
        "expires",
        "root_id",
        "parent_id",
    ] {
        if let Some(value) = message.headers.get(key).filter(|v| !v.is_null()) {
            let text = match value {
                Json::String(text) => text.clone(),
                other => other.to_string(),
            };
            options.push((key.to_owned(), truncate_redacted(&text, REPR_MAX_BYTES)));
        }
    }
    Some(JobDetail {
        summary,
        attempts: Vec::new(),
        payload: arguments_shape(message.args.as_ref(), message.kwargs.as_ref()),
        options,
    })
}
