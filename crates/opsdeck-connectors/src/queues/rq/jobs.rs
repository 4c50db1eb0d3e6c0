//! Job lists, one job, and a bulk action's selection.
//!
//! A state is one or more of the queue's keys: waiting is the queue list (oldest first, as
//! workers take them), active the `wip` registry, failed the `failed` registry (highest
//! expiry first: the newest failures when the failure TTL is the same for all), scheduled
//! the `scheduled` then the `deferred` registry, completed `finished`, dead `canceled`. A
//! page reads the ids, then each job's fields and, for failures, the newest entry of its
//! result stream, in one pipeline. A sorted set's page resumes after the last job shown
//! while it is still there (`ZREVRANK`), so a deep page costs what a first one does.

use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{
    Attempt, JobDetail, JobFilter, JobState, JobSummary, PayloadShape, payload_shape,
};
use opsdeck_core::redact::truncate_redacted;
use serde_json::{Map, Value as Json, json};

use super::record::{Row, error_line, time_of_seconds};
use super::{RqConnector, call};
use crate::queues::paging::{self, Cursor, Order, Pages, matches};
use crate::queues::{JobPage, JobQuery, QueueError};

/// Jobs a search reads before it answers what it found (`partial`).
const SCAN_MAX: u64 = 5_000;
/// Jobs a bulk dry run's search reads at most.
const SELECT_SCAN_MAX: u64 = 200_000;
/// Jobs read per pipeline while searching.
const BATCH: usize = 200;
/// Ids read per command for an unfiltered selection.
const ID_BATCH: usize = 5_000;
/// A job page's error and each traceback.
const STACK_MAX_BYTES: usize = 4_000;
/// Result stream entries read for a job's page (RQ keeps 10).
const ATTEMPTS_MAX: usize = 10;
/// The description shown on a job's page.
const DESCRIPTION_MAX_BYTES: usize = 300;

/// The keys (`<prefix>:<kind>:<queue>`) a state's jobs are in, in the order listed.
fn parts(state: JobState) -> &'static [(&'static str, Order)] {
    match state {
        JobState::Waiting => &[("queue", Order::List)],
        JobState::Scheduled => &[("scheduled", Order::Asc), ("deferred", Order::Asc)],
        JobState::Active => &[("wip", Order::Asc)],
        JobState::Failed => &[("failed", Order::Rev)],
        JobState::Completed => &[("finished", Order::Rev)],
        JobState::Dead => &[("canceled", Order::Rev)],
        // A failed RQ job with retries left is scheduled or queued again at once.
        JobState::Retrying => &[],
    }
}

impl RqConnector {
    /// A page of members of `<prefix>:<kind>:<queue>` from `cursor`: where it started and
    /// the members with their scores.
    async fn members(
        &self,
        queue: &QueueName,
        kind: &str,
        order: Order,
        cursor: &Cursor,
        count: usize,
    ) -> Result<(u64, Vec<(String, Option<f64>)>), QueueError> {
        let key = self.key(kind, queue.as_str());
        let count = count.max(1) as u64;
        if order == Order::List {
            let ids: Vec<String> = self
                .client
                .command(
                    redis::cmd("LRANGE")
                        .arg(&key)
                        .arg(cursor.offset)
                        .arg(cursor.offset + count - 1),
                )
                .await?;
            return Ok((
                cursor.offset,
                ids.into_iter().map(|id| (id, None)).collect(),
            ));
        }
        let (rank_cmd, range_cmd) = match order {
            Order::Rev => ("ZREVRANK", "ZREVRANGE"),
            _ => ("ZRANK", "ZRANGE"),
        };
        let mut start = cursor.offset;
        if let Some(after) = &cursor.after {
            let rank: Option<u64> = self
                .client
                .command(redis::cmd(rank_cmd).arg(&key).arg(after))
                .await?;
            if let Some(rank) = rank {
                start = rank + 1;
            }
        }
        let found: Vec<(String, f64)> = self
            .client
            .command(
                redis::cmd(range_cmd)
                    .arg(&key)
                    .arg(start)
                    .arg(start + count - 1)
                    .arg("WITHSCORES"),
            )
            .await?;
        Ok((
            start,
            found.into_iter().map(|(m, s)| (m, Some(s))).collect(),
        ))
    }

    fn summary(&self, queue: &QueueName, state: JobState, row: &Row) -> Option<JobSummary> {
        let id = JobId::parse(&row.id).ok()?;
        let description = row.text("description");
        let call = description.as_deref().and_then(call::parse);
        let tenant_id = self.context.tenant_path.as_ref().and_then(|path| {
            let mut job = json!({"id": row.id, "queue": queue.as_str()});
            if let Some(Json::Object(call)) = &call {
                for (key, value) in call {
                    job[key] = value.clone();
                }
            }
            path.tenant_of(&job)
        });
        let name = call
            .as_ref()
            .and_then(|c| c["func"].as_str().map(str::to_owned))
            .or(description);
        let at = match state {
            // The scheduled registry's score is when the job is due (seconds).
            JobState::Scheduled => row
                .score
                .filter(|s| s.is_finite())
                .and_then(time_of_seconds),
            JobState::Active => row.time("started_at"),
            JobState::Waiting => row.time("enqueued_at"),
            _ => row.time("ended_at"),
        };
        let error = match state {
            JobState::Failed | JobState::Dead => row
                .failures()
                .first()
                .map(|(_, traceback)| error_line(traceback)),
            _ => None,
        };
        Some(JobSummary {
            id,
            queue: queue.clone(),
            state,
            name: name.as_deref().map(|n| truncate_redacted(n, 200)),
            attempts: None,
            max_attempts: None,
            created_at: row.time("created_at"),
            at,
            error,
            tenant_id,
        })
    }
}

/// Result stream entries a list reads per job: failures show their error.
fn results_for(state: JobState) -> usize {
    usize::from(matches!(state, JobState::Failed | JobState::Dead))
}

/// A page of `query.filter.state`'s jobs, from `query.cursor`.
pub(super) async fn list(
    connector: &RqConnector,
    queue: &QueueName,
    query: &JobQuery,
) -> Result<JobPage, QueueError> {
    let state = query.filter.state;
    let pages = Listed {
        connector,
        queue,
        state,
    };
    paging::list(&pages, parts(state), query, BATCH, SCAN_MAX).await
}

/// One list's reads, for [`paging::list`]: the members of a part, then their jobs (and for
/// failures the newest result) in one pipeline.
struct Listed<'a> {
    connector: &'a RqConnector,
    queue: &'a QueueName,
    state: JobState,
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
        let (start, members) = self
            .connector
            .members(self.queue, part, order, cursor, count)
            .await?;
        let rows = self
            .connector
            .rows(members, results_for(self.state))
            .await?;
        Ok((start, rows))
    }

    fn summary(&self, row: &Row) -> Option<JobSummary> {
        row.exists()
            .then(|| self.connector.summary(self.queue, self.state, row))
            .flatten()
    }

    fn member<'r>(&self, row: &'r Row) -> &'r str {
        &row.member
    }
}

/// For a bulk action: the ids of the failed jobs `filter` matches, newest first, at most
/// `limit + 1`.
pub(super) async fn select(
    connector: &RqConnector,
    queue: &QueueName,
    filter: &JobFilter,
    limit: usize,
) -> Result<Vec<JobId>, QueueError> {
    if filter.state != JobState::Failed {
        return Err(QueueError::NotPossible(format!(
            "bulk actions take RQ's failed jobs, not its {} jobs",
            filter.state
        )));
    }
    let searching = filter.q.is_some() || filter.tenant_id.is_some();
    let wanted = limit.saturating_add(1);
    let mut cursor = Cursor::default();
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut scanned = 0u64;
    loop {
        let want = if searching { BATCH } else { ID_BATCH };
        let (start, members) = connector
            .members(queue, "failed", Order::Rev, &cursor, want)
            .await?;
        let count = members.len();
        let last = members.last().map(|(m, _)| m.clone());
        scanned += count as u64;
        let kept: Vec<String> = if searching {
            connector
                .rows(members, 1)
                .await?
                .iter()
                .filter(|row| {
                    connector
                        .summary(queue, JobState::Failed, row)
                        .is_some_and(|job| matches(&job, filter))
                })
                .map(|row| row.id.clone())
                .collect()
        } else {
            members.into_iter().map(|(m, _)| m).collect()
        };
        for id in kept {
            if seen.insert(id.clone())
                && let Ok(id) = JobId::parse(&id)
            {
                ids.push(id);
                if ids.len() == wanted {
                    return Ok(ids);
                }
            }
        }
        if count < want {
            return Ok(ids);
        }
        if scanned >= SELECT_SCAN_MAX {
            return Err(QueueError::NotPossible(format!(
                "the search read the newest {SELECT_SCAN_MAX} failed jobs without reaching the end: act on all failed jobs or narrow the search"
            )));
        }
        cursor = Cursor {
            part: 0,
            offset: start + count as u64,
            after: last,
        };
    }
}

/// The state a job's status puts it in.
fn state_of(status: &str) -> JobState {
    match status {
        "started" => JobState::Active,
        "failed" | "stopped" => JobState::Failed,
        "finished" => JobState::Completed,
        "deferred" | "scheduled" | "rate_limited" => JobState::Scheduled,
        "canceled" => JobState::Dead,
        _ => JobState::Waiting,
    }
}

/// The shape of the call's arguments (`args[0]: string (4 chars)`, `plan: string`), never
/// their values.
fn arguments_shape(call: &Json) -> PayloadShape {
    let mut map = Map::new();
    if let Some(args) = call["args"].as_array() {
        for (index, value) in args.iter().enumerate() {
            map.insert(format!("args[{index}]"), value.clone());
        }
    }
    if let Some(kwargs) = call["kwargs"].as_object() {
        for (key, value) in kwargs {
            map.insert(key.clone(), value.clone());
        }
    }
    payload_shape(&Json::Object(map))
}

/// One job of `queue`, or `None` (also for a job of another queue).
pub(super) async fn get(
    connector: &RqConnector,
    queue: &QueueName,
    id: &JobId,
) -> Result<Option<JobDetail>, QueueError> {
    let mut rows = connector
        .rows(vec![(id.to_string(), None)], ATTEMPTS_MAX)
        .await?;
    let Some(mut row) = rows.pop().filter(Row::exists) else {
        return Ok(None);
    };
    if row.text("origin").as_deref() != Some(queue.as_str()) {
        return Ok(None);
    }
    let status = row.text("status").unwrap_or_default();
    let state = state_of(&status);
    if state == JobState::Scheduled {
        let score: Option<f64> = connector
            .client
            .command(
                redis::cmd("ZSCORE")
                    .arg(connector.key("scheduled", queue.as_str()))
                    .arg(id.as_str()),
            )
            .await?;
        row.score = score;
    }
    let Some(summary) = connector.summary(queue, state, &row) else {
        return Ok(None);
    };
    let attempts = row
        .failures()
        .into_iter()
        .take(ATTEMPTS_MAX)
        .map(|(at, traceback)| Attempt {
            at,
            error: Some(error_line(&traceback)),
            stack: Some(truncate_redacted(&traceback, STACK_MAX_BYTES)),
        })
        .collect();
    let description = row.text("description");
    let payload = description
        .as_deref()
        .and_then(call::parse)
        .map(|call| arguments_shape(&call));
    let mut options = vec![("status".to_owned(), truncate_redacted(&status, 40))];
    if let Some(description) = &description {
        options.push((
            "description".to_owned(),
            truncate_redacted(description, DESCRIPTION_MAX_BYTES),
        ));
    }
    for field in ["enqueued_at", "timeout", "retries_left"] {
        if let Some(value) = row.text(field) {
            options.push((field.to_owned(), truncate_redacted(&value, 64)));
        }
    }
    Ok(Some(JobDetail {
        summary,
        attempts,
        payload,
        options,
    }))
}
