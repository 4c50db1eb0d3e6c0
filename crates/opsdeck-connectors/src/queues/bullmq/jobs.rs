//! Job lists, one job, and a bulk action's selection.
//!
//! A state is one or more of the queue's lists and sorted sets (waiting is `wait`, a legacy
//! `paused` list and `prioritized`), read a page at a time by the read-only `list.lua`, which
//! also reads each job's fields. The cursor names the part, the offset and the last job
//! shown: a sorted set resumes after that job while it is still there (`ZREVRANK`, O(log n)),
//! so failures added since do not repeat a page and a deep page costs what the first does.
//! A search by text or tenant reads jobs a batch at a time and stops after [`SCAN_MAX`].

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{Attempt, JobDetail, JobFilter, JobState, JobSummary, payload_shape};
use opsdeck_core::redact::{redact_json, truncate_redacted};
use redis::Value;
use serde_json::{Value as Json, json};

use super::client::{LIST, reply};
use super::{BullmqConnector, unsupported};
use crate::queues::paging::{self, Cursor, Order, Pages, matches};
use crate::queues::{JobPage, JobQuery, QueueError};

/// Jobs a search reads before it answers what it found (`partial`).
pub(super) const SCAN_MAX: u64 = 5_000;
/// Jobs a bulk dry run's search reads at most.
const SELECT_SCAN_MAX: u64 = 200_000;
/// Jobs read per script while searching: a few milliseconds of Redis each.
const BATCH: usize = 200;
/// Ids read per script for an unfiltered selection.
const ID_BATCH: usize = 5_000;
/// A list's error: one line.
const ERROR_MAX_BYTES: usize = 200;
/// A job page's error and each stack.
const STACK_MAX_BYTES: usize = 4_000;
/// Stacks shown of a job (BullMQ keeps one per failed attempt, up to its stackTraceLimit).
const ATTEMPTS_MAX: usize = 10;
/// Option values shown.
const OPTION_MAX_BYTES: usize = 200;

/// The keys a state's jobs are in, in the order they are listed.
fn parts(state: JobState) -> &'static [(&'static str, Order)] {
    match state {
        JobState::Waiting => &[
            ("wait", Order::List),
            ("paused", Order::List),
            ("prioritized", Order::Asc),
        ],
        JobState::Scheduled => &[("delayed", Order::Rev)],
        JobState::Active => &[("active", Order::List)],
        JobState::Failed => &[("failed", Order::Rev)],
        JobState::Completed => &[("completed", Order::Rev)],
        // BullMQ has no such states: a job with attempts left waits in `delayed` or `wait`.
        JobState::Retrying | JobState::Dead => &[],
    }
}

/// A job as `list.lua` read it.
#[derive(Debug, Default)]
struct Row {
    id: String,
    score: Option<f64>,
    name: Option<String>,
    timestamp: Option<i64>,
    attempts: Option<u32>,
    reason: Option<String>,
    finished_on: Option<i64>,
    processed_on: Option<i64>,
    opts: Option<String>,
    data: Option<String>,
}

fn row_of(value: &Value) -> Option<Row> {
    let f = reply::array(value);
    let text = |i: usize| f.get(i).and_then(reply::text);
    let int = |i: usize| f.get(i).and_then(reply::int);
    Some(Row {
        id: text(0)?,
        score: f.get(1).and_then(reply::float),
        name: text(2),
        timestamp: int(3),
        attempts: int(4).and_then(|n| u32::try_from(n).ok()),
        reason: text(5),
        finished_on: int(6),
        processed_on: int(7),
        opts: text(8),
        data: text(9),
    })
}

fn time_of(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// The first line of an error that says something, redacted and short.
fn error_line(reason: &str) -> String {
    let line = reason
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    truncate_redacted(line, ERROR_MAX_BYTES)
}

fn parse_json(text: Option<&str>) -> Json {
    match text {
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_owned())),
        None => Json::Null,
    }
}

impl BullmqConnector {
    fn summary(&self, queue: &QueueName, state: JobState, row: &Row) -> Option<JobSummary> {
        let id = JobId::parse(&row.id).ok()?;
        let opts = parse_json(row.opts.as_deref());
        let tenant_id = self.context.tenant_path.as_ref().and_then(|path| {
            let job = json!({
                "id": row.id,
                "name": row.name,
                "data": parse_json(row.data.as_deref()),
                "opts": opts,
            });
            path.tenant_of(&job)
        });
        let at = match state {
            // A delayed job's score is its due time in ms times 4096, plus a sequence.
            JobState::Scheduled => row.score.map(|s| (s / 4096.0) as i64),
            JobState::Active => row.processed_on,
            _ => row.finished_on,
        };
        Some(JobSummary {
            id,
            queue: queue.clone(),
            state,
            name: row.name.as_deref().map(|n| truncate_redacted(n, 200)),
            attempts: row.attempts.or(Some(0)),
            max_attempts: opts
                .get("attempts")
                .and_then(Json::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .map_or(Some(1), |n| Some(n.max(1))),
            created_at: row.timestamp.and_then(time_of),
            at: at.and_then(time_of),
            error: row.reason.as_deref().map(error_line),
            tenant_id,
        })
    }

    /// One `list.lua` call: where it started and its rows.
    async fn page(
        &self,
        queue: &QueueName,
        key: &str,
        order: Order,
        cursor: &Cursor,
        count: usize,
        mode: &str,
    ) -> Result<(u64, Vec<Row>), QueueError> {
        let base = self.base(queue);
        let value = self
            .client
            .script(
                LIST,
                vec![format!("{base}{key}")],
                vec![
                    base,
                    order.as_str().to_owned(),
                    cursor.offset.to_string(),
                    cursor.after.clone().unwrap_or_default(),
                    count.to_string(),
                    mode.to_owned(),
                ],
            )
            .await?;
        if let Some(version) = reply::refusal(&value) {
            return Err(unsupported(queue, &version));
        }
        let items = reply::array(&value);
        let start = items
            .first()
            .and_then(reply::int)
            .map_or(0, |n| u64::try_from(n).unwrap_or(0));
        Ok((start, items.iter().skip(1).filter_map(row_of).collect()))
    }

    fn wants_data(&self, filter: &JobFilter) -> &'static str {
        if filter.tenant_id.is_some() || self.context.tenant_path.is_some() {
            "data"
        } else {
            "fields"
        }
    }
}

/// A page of `query.filter.state`'s jobs, from `query.cursor`.
pub(super) async fn list(
    connector: &BullmqConnector,
    queue: &QueueName,
    query: &JobQuery,
) -> Result<JobPage, QueueError> {
    let filter = &query.filter;
    let pages = Listed {
        connector,
        queue,
        state: filter.state,
        mode: connector.wants_data(filter),
    };
    paging::list(&pages, parts(filter.state), query, BATCH, SCAN_MAX).await
}

/// One list's reads, for [`paging::list`].
struct Listed<'a> {
    connector: &'a BullmqConnector,
    queue: &'a QueueName,
    state: JobState,
    mode: &'a str,
}

impl Pages for Listed<'_> {
    type Row = Row;

    async fn read(
        &self,
        part: &str,
        order: Order,
        cursor: &Cursor,
        count: usize,
    ) -> Result<(u64, Vec<Row>), QueueError> {
        self.connector
            .page(self.queue, part, order, cursor, count, self.mode)
            .await
    }

    fn summary(&self, row: &Row) -> Option<JobSummary> {
        self.connector.summary(self.queue, self.state, row)
    }

    fn member<'r>(&self, row: &'r Row) -> &'r str {
        &row.id
    }
}

/// For a bulk action: the ids of the failed jobs `filter` matches, newest first, at most
/// `limit + 1`.
pub(super) async fn select(
    connector: &BullmqConnector,
    queue: &QueueName,
    filter: &JobFilter,
    limit: usize,
) -> Result<Vec<JobId>, QueueError> {
    if filter.state != JobState::Failed {
        return Err(QueueError::NotPossible(format!(
            "BullMQ keeps no {} jobs: bulk actions take its failed jobs",
            filter.state
        )));
    }
    let searching = filter.q.is_some() || filter.tenant_id.is_some();
    let wanted = limit.saturating_add(1);
    let mode = if searching {
        connector.wants_data(filter)
    } else {
        "ids"
    };
    let mut cursor = Cursor::default();
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut scanned = 0u64;
    loop {
        let want = if searching { BATCH } else { ID_BATCH };
        let (start, rows) = connector
            .page(queue, "failed", Order::Rev, &cursor, want, mode)
            .await?;
        scanned += rows.len() as u64;
        for row in &rows {
            let keep = if searching {
                connector
                    .summary(queue, JobState::Failed, row)
                    .is_some_and(|job| matches(&job, filter))
            } else {
                true
            };
            if keep
                && seen.insert(row.id.clone())
                && let Ok(id) = JobId::parse(&row.id)
            {
                ids.push(id);
                if ids.len() == wanted {
                    return Ok(ids);
                }
            }
        }
        if rows.len() < want {
            return Ok(ids);
        }
        if scanned >= SELECT_SCAN_MAX {
            return Err(QueueError::NotPossible(format!(
                "the search read the newest {SELECT_SCAN_MAX} failed jobs without reaching the end: act on all failed jobs or narrow the search"
            )));
        }
        cursor = Cursor {
            part: 0,
            offset: start + rows.len() as u64,
            after: rows.last().map(|r| r.id.clone()),
        };
    }
}

/// A job's fields, its score in `failed`, `completed`, `delayed` and `prioritized`, and its
/// place in `active`.
type Found = (
    Vec<(String, String)>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<i64>,
);

/// One job, with the state it is in.
pub(super) async fn get(
    connector: &BullmqConnector,
    queue: &QueueName,
    id: &JobId,
) -> Result<Option<JobDetail>, QueueError> {
    let base = connector.base(queue);
    let version: Option<String> = connector
        .client
        .command(redis::cmd("HGET").arg(format!("{base}meta")).arg("version"))
        .await?;
    let version = version.unwrap_or_default();
    if !(version.starts_with("bullmq:5.") || version.starts_with("bullmq:6.")) {
        return Err(unsupported(queue, &version));
    }
    let job_key = format!("{base}{id}");
    let mut pipe = redis::pipe();
    pipe.cmd("HGETALL").arg(&job_key);
    for set in ["failed", "completed", "delayed", "prioritized"] {
        pipe.cmd("ZSCORE")
            .arg(format!("{base}{set}"))
            .arg(id.as_str());
    }
    pipe.cmd("LPOS")
        .arg(format!("{base}active"))
        .arg(id.as_str());
    let (fields, failed, completed, delayed, prioritized, active): Found =
        connector.client.query(&pipe).await?;
    if fields.is_empty() {
        return Ok(None);
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (state, score) = if failed.is_some() {
        (JobState::Failed, failed)
    } else if completed.is_some() {
        (JobState::Completed, completed)
    } else if delayed.is_some() {
        (JobState::Scheduled, delayed)
    } else if prioritized.is_some() {
        (JobState::Waiting, prioritized)
    } else if active.is_some() {
        (JobState::Active, None)
    } else {
        (JobState::Waiting, None)
    };
    let int = |name: &str| field(name).and_then(|v| v.parse::<i64>().ok());
    let row = Row {
        id: id.to_string(),
        score,
        name: field("name").map(str::to_owned),
        timestamp: int("timestamp"),
        attempts: int("atm").and_then(|n| u32::try_from(n).ok()),
        reason: field("failedReason").map(str::to_owned),
        finished_on: int("finishedOn"),
        processed_on: int("processedOn"),
        opts: field("opts").map(str::to_owned),
        data: field("data").map(str::to_owned),
    };
    let Some(summary) = connector.summary(queue, state, &row) else {
        return Ok(None);
    };
    let stacks: Vec<String> = field("stacktrace")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let mut attempts = Vec::new();
    let mut newest_first = stacks.iter().rev();
    if row.reason.is_some() {
        attempts.push(Attempt {
            at: row.finished_on.and_then(time_of),
            error: row
                .reason
                .as_deref()
                .map(|r| truncate_redacted(r, STACK_MAX_BYTES)),
            stack: newest_first
                .next()
                .map(|s| truncate_redacted(s, STACK_MAX_BYTES)),
        });
    }
    attempts.extend(newest_first.take(ATTEMPTS_MAX).map(|stack| Attempt {
        at: None,
        error: Some(error_line(stack)),
        stack: Some(truncate_redacted(stack, STACK_MAX_BYTES)),
    }));
    attempts.truncate(ATTEMPTS_MAX);
    let payload = row
        .data
        .as_deref()
        .map(|data| payload_shape(&parse_json(Some(data))));
    let mut opts = parse_json(row.opts.as_deref());
    redact_json(&mut opts);
    let mut options: Vec<(String, String)> = match opts {
        Json::Object(map) => map
            .iter()
            .take(30)
            .map(|(key, value)| {
                let shown = match value {
                    Json::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (
                    truncate_redacted(key, 64),
                    truncate_redacted(&shown, OPTION_MAX_BYTES),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    if let Some(priority) = int("priority").filter(|p| *p > 0)
        && !options.iter().any(|(k, _)| k == "priority")
    {
        options.push(("priority".to_owned(), priority.to_string()));
    }
    Ok(Some(JobDetail {
        summary,
        attempts,
        payload,
        options,
    }))
}
