//! Reading jobs: a page of one state by keyset cursor, one job's detail, and the ids a bulk
//! dry run pins.
//!
//! A page reads at most [`SCAN_MAX`] jobs in its order (an index range scan either way) and
//! keeps those of the queue, state and search asked for; when fewer than a page match, the
//! next page starts after the last job read, and the page says it is partial. graphile-worker
//! has no index by task for jobs that are not available, so a queue whose failed jobs are
//! rare among the others' is paged through in such bounded steps rather than in one scan.

use chrono::{DateTime, Utc};
use opsdeck_core::ids::{JobId, QueueName, TenantId};
use opsdeck_core::queues::{Attempt, JobDetail, JobFilter, JobState, JobSummary, payload_shape};
use opsdeck_core::redact::{redact_text, truncate_redacted};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::sql::condition;
use super::{ACT_TIMEOUT, GraphileConnector, job_number};
use crate::queues::pg_tx::TxMode;
use crate::queues::{JobPage, JobQuery, QueueError};

/// The most jobs one page reads to find its matches.
pub const SCAN_MAX: i64 = 10_000;
/// The longest error snippet of a list, in bytes.
const SNIPPET_MAX_BYTES: usize = 200;
/// The longest error of a job's page, in bytes.
const ERROR_MAX_BYTES: usize = 4_000;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cursor {
    /// Failed, retrying, active: newest first, before this id.
    Before(i64),
    /// Waiting, scheduled: in the order workers take them, after this job.
    After(i16, DateTime<Utc>, i64),
}

impl Cursor {
    fn parse(text: &str) -> Option<Self> {
        if let Some(id) = text.strip_prefix('i') {
            return id.parse().ok().map(Cursor::Before);
        }
        let mut parts = text.strip_prefix('d')?.split('_');
        let priority = parts.next()?.parse().ok()?;
        let micros: i64 = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        let at = DateTime::from_timestamp_micros(micros)?;
        parts
            .next()
            .is_none()
            .then_some(Cursor::After(priority, at, id))
    }

    fn text(self) -> String {
        match self {
            Cursor::Before(id) => format!("i{id}"),
            Cursor::After(priority, at, id) => {
                format!("d{priority}_{}_{id}", at.timestamp_micros())
            }
        }
    }
}

/// Whether `state` is listed in the order workers take jobs (else newest first).
fn due_order(state: JobState) -> bool {
    matches!(state, JobState::Waiting | JobState::Scheduled)
}

fn not_kept(state: JobState) -> QueueError {
    QueueError::NotPossible(format!(
        "graphile-worker keeps no {state} jobs: it deletes a job once done, and a job that \
         used up its attempts stays failed"
    ))
}

/// The search's text, lower-cased, and tenant, as bound.
fn search_of(queue: &QueueName, filter: &JobFilter) -> (Option<String>, Option<String>) {
    // The task is the queue: a text its name holds matches every job.
    let q = filter
        .q
        .as_ref()
        .map(|q| q.to_lowercase())
        .filter(|q| !queue.as_str().to_lowercase().contains(q.as_str()));
    (q, filter.tenant_id.as_ref().map(|t| t.as_str().to_owned()))
}

/// The error's telling line for lists: redacted whole first, so a secret spread over
/// lines is never cut into a visible half.
fn snippet(error: &str) -> String {
    let redacted = redact_text(error);
    let line = redacted
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    truncate_redacted(line, SNIPPET_MAX_BYTES)
}

/// A summary from a row of [`super::sql::SUMMARY_COLUMNS`]; `listed` is the state it was
/// listed under, else its own.
fn summary_of(
    row: &PgRow,
    queue: &QueueName,
    listed: Option<JobState>,
) -> Result<JobSummary, sqlx::Error> {
    let id: i64 = row.try_get(0)?;
    let attempts: i32 = row.try_get(1)?;
    let max_attempts: i32 = row.try_get(2)?;
    let run_at: DateTime<Utc> = row.try_get(4)?;
    let failed_at: Option<DateTime<Utc>> = row.try_get(5)?;
    let error: Option<String> = row.try_get(6)?;
    let tenant: Option<String> = row.try_get(7)?;
    let state: String = row.try_get(8)?;
    let state = listed
        .or_else(|| state.parse().ok())
        .unwrap_or(JobState::Waiting);
    let at = match state {
        JobState::Failed | JobState::Retrying if failed_at.is_some() => failed_at,
        _ => Some(run_at),
    };
    Ok(JobSummary {
        id: JobId::parse(&id.to_string()).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        queue: queue.clone(),
        state,
        name: Some(queue.as_str().to_owned()),
        attempts: u32::try_from(attempts).ok(),
        max_attempts: u32::try_from(max_attempts).ok(),
        created_at: row.try_get(3)?,
        at,
        error: error.as_deref().map(snippet),
        tenant_id: tenant.as_deref().and_then(|t| TenantId::parse(t).ok()),
    })
}

pub(super) async fn list(
    conn: &GraphileConnector,
    queue: &QueueName,
    query: &JobQuery,
) -> Result<JobPage, QueueError> {
    let state = query.filter.state;
    let cond = condition(state).ok_or_else(|| not_kept(state))?;
    let due = due_order(state);
    let cursor = match query.cursor.as_deref() {
        None => None,
        Some(text) => match Cursor::parse(text) {
            Some(c @ Cursor::After(..)) if due => Some(c),
            Some(c @ Cursor::Before(_)) if !due => Some(c),
            _ => return Err(QueueError::NotFound("no such page".into())),
        },
    };
    let limit = i64::from(query.limit.max(1));
    let (q, tenant) = search_of(queue, &query.filter);
    let s = conn.sql.s();
    let columns = conn.sql.summary_columns();
    let (order, reverse) = if due {
        (
            "j.priority, j.run_at, j.id",
            "j.priority DESC, j.run_at DESC, j.id DESC",
        )
    } else {
        ("j.id DESC", "j.id")
    };
    // The jobs a page reads: at most `$bound` of them, of every task (no index orders a
    // task's failed jobs, so filtering by task inside the bound would leave it unbounded),
    // from the cursor's parameters on (numbered from `first`).
    let scan = |bound: usize, first: usize| {
        let range = match cursor {
            None => String::new(),
            Some(Cursor::After(..)) => format!(
                "AND (j.priority, j.run_at) >= (${a}, ${b}) \
                 AND (j.priority, j.run_at, j.id) > (${a}, ${b}, ${c})",
                a = first,
                b = first + 1,
                c = first + 2
            ),
            Some(Cursor::Before(_)) => format!("AND j.id < ${first}"),
        };
        let due_cond = if due { cond } else { "true" };
        format!(
            "SELECT * FROM {s}._private_jobs j WHERE {due_cond} {range} \
             ORDER BY {order} LIMIT ${bound}"
        )
    };
    // $1 task, $2 q, $3 tenant, $4 scan bound, $5 page size + 1, then the cursor's.
    let page_sql = format!(
        "SELECT {columns}, j.priority::int2 FROM ({}) j WHERE j.task_id = $1 AND {cond} \
         AND {} ORDER BY {order} LIMIT $5",
        scan(4, 6),
        conn.sql.search(2, 3),
    );
    let (mut tx, _) = conn.begin(TxMode::Read, conn.context.read_timeout).await?;
    let read = async {
        let task = conn.task_id(&mut tx, queue).await?;
        let page = sqlx::query(sqlx::AssertSqlSafe(page_sql.as_str()))
            .bind(task)
            .bind(q)
            .bind(tenant)
            .bind(SCAN_MAX)
            .bind(limit + 1);
        let rows = bind_cursor(page, cursor)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| conn.fail(e))?;
        let mut jobs = Vec::with_capacity(rows.len());
        let mut last_key = None;
        for row in rows
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            jobs.push(summary_of(row, queue, Some(state)).map_err(|e| conn.fail(e))?);
            last_key = Some(key_of(row, due).map_err(|e| conn.fail(e))?);
        }
        let (next, scanned, partial) = if rows.len() as i64 > limit {
            (last_key.map(Cursor::text), jobs.len() as u64, false)
        } else {
            // Fewer matches than a page: how far did the scan go?
            // $1 scan bound, then the cursor's.
            let tail = format!(
                "SELECT count(*) OVER (), j.id, j.priority::int2, j.run_at FROM ({}) j \
                 ORDER BY {reverse} LIMIT 1",
                scan(1, 2)
            );
            let query = sqlx::query(sqlx::AssertSqlSafe(tail.as_str())).bind(SCAN_MAX);
            let last = bind_cursor(query, cursor)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| conn.fail(e))?;
            match last {
                Some(row) => {
                    let read: i64 = row.try_get(0).map_err(|e| conn.fail(e))?;
                    let key = if due {
                        Cursor::After(
                            row.try_get(2).map_err(|e| conn.fail(e))?,
                            row.try_get(3).map_err(|e| conn.fail(e))?,
                            row.try_get(1).map_err(|e| conn.fail(e))?,
                        )
                    } else {
                        Cursor::Before(row.try_get(1).map_err(|e| conn.fail(e))?)
                    };
                    let more = read >= SCAN_MAX;
                    (more.then(|| key.text()), count_u64(read), more)
                }
                None => (None, 0, false),
            }
        };
        Ok::<_, QueueError>((jobs, next, scanned, partial))
    }
    .await;
    let (jobs, next, scanned, partial) = conn.finish(tx, read).await?;
    Ok(JobPage {
        jobs,
        next,
        scanned,
        partial,
    })
}

fn count_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_cursor(query: PgQuery<'_>, cursor: Option<Cursor>) -> PgQuery<'_> {
    match cursor {
        None => query,
        Some(Cursor::Before(id)) => query.bind(id),
        Some(Cursor::After(priority, at, id)) => query.bind(priority).bind(at).bind(id),
    }
}

/// The cursor after a listed row (its summary columns, then its priority).
fn key_of(row: &PgRow, due: bool) -> Result<Cursor, sqlx::Error> {
    let id: i64 = row.try_get(0)?;
    Ok(if due {
        Cursor::After(row.try_get(9)?, row.try_get(4)?, id)
    } else {
        Cursor::Before(id)
    })
}

pub(super) async fn get(
    conn: &GraphileConnector,
    queue: &QueueName,
    id: &JobId,
) -> Result<Option<JobDetail>, QueueError> {
    let Some(number) = job_number(id) else {
        return Ok(None);
    };
    let s = conn.sql.s();
    let sql = format!(
        "SELECT {}, j.payload, j.priority::int4, jq.queue_name, j.key, j.locked_by, \
         j.locked_at, j.revision, j.flags, j.updated_at \
         FROM {s}._private_jobs j LEFT JOIN {s}._private_job_queues jq ON jq.id = j.job_queue_id \
         WHERE j.id = $1 AND j.task_id = $2",
        conn.sql.summary_columns()
    );
    let (mut tx, _) = conn.begin(TxMode::Read, conn.context.read_timeout).await?;
    let read = async {
        let task = conn.task_id(&mut tx, queue).await?;
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(number)
            .bind(task)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| conn.fail(e))
    }
    .await;
    let row = conn.finish(tx, read).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    detail_of(&row, queue).map(Some).map_err(|e| conn.fail(e))
}

fn detail_of(row: &PgRow, queue: &QueueName) -> Result<JobDetail, sqlx::Error> {
    let summary = summary_of(row, queue, None)?;
    let failed_at: Option<DateTime<Utc>> = row.try_get(5)?;
    let error: Option<String> = row.try_get(6)?;
    let payload: Option<serde_json::Value> = row.try_get(9)?;
    let priority: i32 = row.try_get(10)?;
    let named_queue: Option<String> = row.try_get(11)?;
    let key: Option<String> = row.try_get(12)?;
    let locked_by: Option<String> = row.try_get(13)?;
    let locked_at: Option<DateTime<Utc>> = row.try_get(14)?;
    let revision: i32 = row.try_get(15)?;
    let flags: Option<serde_json::Value> = row.try_get(16)?;
    let updated_at: DateTime<Utc> = row.try_get(17)?;
    let run_at: DateTime<Utc> = row.try_get(4)?;
    let mut options = vec![
        ("priority".to_owned(), priority.to_string()),
        ("run_at".to_owned(), run_at.to_rfc3339()),
        ("updated_at".to_owned(), updated_at.to_rfc3339()),
        ("revision".to_owned(), revision.to_string()),
    ];
    let shown = |text: &str| truncate_redacted(text, 200);
    if let Some(name) = named_queue {
        options.push(("queue_name".to_owned(), shown(&name)));
    }
    if let Some(key) = key {
        options.push(("key".to_owned(), shown(&key)));
    }
    if let Some(worker) = locked_by {
        options.push(("locked_by".to_owned(), shown(&worker)));
    }
    if let Some(at) = locked_at {
        options.push(("locked_at".to_owned(), at.to_rfc3339()));
    }
    if let Some(serde_json::Value::Object(flags)) = flags {
        let names: Vec<&str> = flags.keys().map(String::as_str).collect();
        options.push(("flags".to_owned(), shown(&names.join(", "))));
    }
    // graphile-worker keeps the latest error only (the stack goes to the worker's log).
    let attempts = error
        .map(|error| Attempt {
            at: failed_at,
            error: Some(truncate_redacted(&error, ERROR_MAX_BYTES)),
            stack: None,
        })
        .into_iter()
        .collect();
    Ok(JobDetail {
        summary,
        attempts,
        payload: payload.as_ref().map(payload_shape),
        options,
    })
}

pub(super) async fn select(
    conn: &GraphileConnector,
    queue: &QueueName,
    filter: &JobFilter,
    limit: usize,
) -> Result<Vec<JobId>, QueueError> {
    let cond = condition(filter.state).ok_or_else(|| not_kept(filter.state))?;
    let (q, tenant) = search_of(queue, filter);
    let sql = format!(
        "SELECT j.id FROM {}._private_jobs j WHERE j.task_id = $1 AND {cond} AND {} \
         ORDER BY j.id DESC LIMIT $4",
        conn.sql.s(),
        conn.sql.search(2, 3)
    );
    let (mut tx, _) = conn.begin(TxMode::Read, ACT_TIMEOUT).await?;
    let read = async {
        let task = conn.task_id(&mut tx, queue).await?;
        sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql))
            .bind(task)
            .bind(q)
            .bind(tenant)
            .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| conn.fail(e))
    }
    .await;
    let ids = conn.finish(tx, read).await?;
    ids.into_iter()
        .map(|(id,)| JobId::parse(&id.to_string()).map_err(|e| QueueError::Other(e.to_string())))
        .collect()
}
