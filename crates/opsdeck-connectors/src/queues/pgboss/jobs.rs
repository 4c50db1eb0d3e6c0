//! Reading jobs: a page of one state by keyset cursor, one job's detail, and the ids a bulk
//! dry run pins.
//!
//! A page reads at most [`SCAN_MAX`] jobs of the queue in an index's order (see the module
//! doc of `pgboss`) and keeps those of the state and search asked for; when fewer than a
//! page match, the next page starts after the last job read, and the page says it is
//! partial. So a page costs the same however many jobs of other states the queue holds.

use chrono::{DateTime, Utc};
use opsdeck_core::ids::{JobId, QueueName, TenantId};
use opsdeck_core::queues::{Attempt, JobDetail, JobFilter, JobState, JobSummary, payload_shape};
use opsdeck_core::redact::{redact_text, truncate_redacted};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::sql::condition;
use super::{ACT_TIMEOUT, Layout, PgBossConnector, job_uuid};
use crate::queues::pg_tx::TxMode;
use crate::queues::{JobPage, JobQuery, QueueError};

/// The most jobs one page reads to find its matches.
pub const SCAN_MAX: i64 = 10_000;
/// The longest error snippet of a list, in bytes.
const SNIPPET_MAX_BYTES: usize = 200;
/// The longest error of a job's page, in bytes.
const ERROR_MAX_BYTES: usize = 4_000;
/// The longest stack of a job's page, in bytes.
const STACK_MAX_BYTES: usize = 8_000;

/// The index order a state's page is read in: newest first by a time, then id; or by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// `completed_on` (12.x `job_i16`).
    Completed,
    /// `created_on` (12.x `job_i15`).
    Created,
    /// The primary key (`name, id`).
    Id,
}

impl Key {
    fn of(layout: Layout, state: JobState) -> Self {
        match (layout, state) {
            (Layout::V10, _) => Key::Id,
            (Layout::V12, JobState::Failed | JobState::Completed) => Key::Completed,
            (Layout::V12, _) => Key::Created,
        }
    }

    fn column(self) -> Option<&'static str> {
        match self {
            Key::Completed => Some("j.completed_on"),
            Key::Created => Some("j.created_on"),
            Key::Id => None,
        }
    }

    /// The column of the summary row holding the key's time.
    fn summary_index(self) -> Option<usize> {
        match self {
            Key::Completed => Some(6),
            Key::Created => Some(3),
            Key::Id => None,
        }
    }
}

/// Where a page starts: after this job, in the key's order.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cursor {
    at: Option<DateTime<Utc>>,
    id: Uuid,
}

impl Cursor {
    fn parse(text: &str, key: Key) -> Option<Self> {
        if key == Key::Id {
            let id = text.strip_prefix('i')?.parse().ok()?;
            return Some(Cursor { at: None, id });
        }
        let (micros, id) = text.strip_prefix('t')?.split_once('_')?;
        Some(Cursor {
            at: Some(DateTime::from_timestamp_micros(micros.parse().ok()?)?),
            id: id.parse().ok()?,
        })
    }

    fn text(self) -> String {
        match self.at {
            None => format!("i{}", self.id),
            Some(at) => format!("t{}_{}", at.timestamp_micros(), self.id),
        }
    }
}

/// The search's text, lower-cased, and tenant, as bound.
fn search_of(filter: &JobFilter) -> (Option<String>, Option<String>) {
    (
        filter.q.as_ref().map(|q| q.to_lowercase()),
        filter.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
    )
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

fn uuid_to_id(id: Uuid) -> Result<JobId, sqlx::Error> {
    JobId::parse(&id.to_string()).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A summary from a row of the summary columns; `listed` is the state it was listed under,
/// else its own.
fn summary_of(
    row: &PgRow,
    queue: &QueueName,
    listed: Option<JobState>,
) -> Result<JobSummary, sqlx::Error> {
    let id: Uuid = row.try_get(0)?;
    let retry_count: i32 = row.try_get(1)?;
    let retry_limit: i32 = row.try_get(2)?;
    let start_after: DateTime<Utc> = row.try_get(4)?;
    let started_on: Option<DateTime<Utc>> = row.try_get(5)?;
    let completed_on: Option<DateTime<Utc>> = row.try_get(6)?;
    let error: Option<String> = row.try_get(7)?;
    let tenant: Option<String> = row.try_get(8)?;
    let state: String = row.try_get(9)?;
    let state = listed
        .or_else(|| state.parse().ok())
        .unwrap_or(JobState::Waiting);
    let at = match state {
        JobState::Failed | JobState::Completed | JobState::Dead if completed_on.is_some() => {
            completed_on
        }
        _ => Some(start_after),
    };
    // retry_count counts the starts after the first.
    let attempts = retry_count + i32::from(started_on.is_some());
    Ok(JobSummary {
        id: uuid_to_id(id)?,
        queue: queue.clone(),
        state,
        name: Some(queue.as_str().to_owned()),
        attempts: u32::try_from(attempts).ok(),
        max_attempts: u32::try_from(retry_limit.saturating_add(1)).ok(),
        created_at: row.try_get(3)?,
        at,
        error: error.as_deref().map(snippet),
        tenant_id: tenant.as_deref().and_then(|t| TenantId::parse(t).ok()),
    })
}

/// The jobs a page reads: at most `$bound` of the queue (`$1`), in the key's order, from the
/// cursor's parameters on (numbered from `first`).
fn scan(
    conn: &PgBossConnector,
    key: Key,
    cursor: Option<Cursor>,
    bound: usize,
    first: usize,
) -> String {
    let s = conn.sql.s();
    let (base, range, order) = match key.column() {
        Some(column) => (
            format!("AND {column} IS NOT NULL"),
            match cursor {
                None => String::new(),
                Some(_) => format!(
                    "AND {column} <= ${a} AND ({column}, j.id) < (${a}, ${b})",
                    a = first,
                    b = first + 1
                ),
            },
            format!("{column} DESC, j.id DESC"),
        ),
        None => (
            String::new(),
            match cursor {
                None => String::new(),
                Some(_) => format!("AND j.id < ${first}"),
            },
            "j.id DESC".to_owned(),
        ),
    };
    format!(
        "SELECT j.* FROM {s}.job j WHERE j.name = $1 {base} {range} ORDER BY {order} LIMIT ${bound}"
    )
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

fn bind_cursor(query: PgQuery<'_>, cursor: Option<Cursor>) -> PgQuery<'_> {
    match cursor {
        None => query,
        Some(Cursor { at: Some(at), id }) => query.bind(at).bind(id),
        Some(Cursor { at: None, id }) => query.bind(id),
    }
}

pub(super) async fn list(
    conn: &PgBossConnector,
    queue: &QueueName,
    query: &JobQuery,
) -> Result<JobPage, QueueError> {
    let (mut tx, layout) = conn.begin(TxMode::Read, conn.context.read_timeout).await?;
    let result = list_in(conn, &mut tx, layout, queue, query).await;
    conn.finish(tx, result).await
}

async fn list_in(
    conn: &PgBossConnector,
    tx: &mut Transaction<'static, Postgres>,
    layout: Layout,
    queue: &QueueName,
    query: &JobQuery,
) -> Result<JobPage, QueueError> {
    conn.check_queue(tx, queue).await?;
    let state = query.filter.state;
    let key = Key::of(layout, state);
    let cursor = match query.cursor.as_deref() {
        None => None,
        Some(text) => Some(
            Cursor::parse(text, key).ok_or_else(|| QueueError::NotFound("no such page".into()))?,
        ),
    };
    let limit = i64::from(query.limit.max(1));
    let (q, tenant) = search_of(&query.filter);
    let order = match key.column() {
        Some(column) => format!("{column} DESC, j.id DESC"),
        None => "j.id DESC".to_owned(),
    };
    // $1 queue, $2 q, $3 tenant, $4 scan bound, $5 page size + 1, then the cursor's.
    let page_sql = format!(
        "SELECT {} FROM ({}) j WHERE {} AND {} ORDER BY {order} LIMIT $5",
        conn.sql.summary_columns(layout),
        scan(conn, key, cursor, 4, 6),
        condition(layout, state),
        conn.sql.search(layout, 2, 3),
    );
    let page = sqlx::query(sqlx::AssertSqlSafe(page_sql.as_str()))
        .bind(queue.as_str())
        .bind(q)
        .bind(tenant)
        .bind(SCAN_MAX)
        .bind(limit + 1);
    let rows = bind_cursor(page, cursor)
        .fetch_all(&mut **tx)
        .await
        .map_err(|e| conn.fail(e))?;
    let mut jobs = Vec::with_capacity(rows.len());
    let mut last_key = None;
    for row in rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
    {
        jobs.push(summary_of(row, queue, Some(state)).map_err(|e| conn.fail(e))?);
        let at = match key.summary_index() {
            Some(index) => Some(row.try_get(index).map_err(|e| conn.fail(e))?),
            None => None,
        };
        let id: Uuid = row.try_get(0).map_err(|e| conn.fail(e))?;
        last_key = Some(Cursor { at, id });
    }
    let (next, scanned, partial) = if rows.len() as i64 > limit {
        (last_key.map(Cursor::text), jobs.len() as u64, false)
    } else {
        // Fewer matches than a page: how far did the scan go? $1 queue, $2 scan bound, then
        // the cursor's.
        let (column, reverse) = match key.column() {
            Some(column) => (column, format!("{column}, j.id")),
            None => ("NULL::timestamptz", "j.id".to_owned()),
        };
        let tail = format!(
            "SELECT count(*) OVER (), j.id, {} FROM ({}) j ORDER BY {reverse} LIMIT 1",
            column,
            scan(conn, key, cursor, 2, 3)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(tail.as_str()))
            .bind(queue.as_str())
            .bind(SCAN_MAX);
        let last = bind_cursor(query, cursor)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| conn.fail(e))?;
        match last {
            Some(row) => {
                let read: i64 = row.try_get(0).map_err(|e| conn.fail(e))?;
                let key = Cursor {
                    id: row.try_get(1).map_err(|e| conn.fail(e))?,
                    at: row.try_get(2).map_err(|e| conn.fail(e))?,
                };
                let more = read >= SCAN_MAX;
                (
                    more.then(|| key.text()),
                    u64::try_from(read).unwrap_or(0),
                    more,
                )
            }
            None => (None, 0, false),
        }
    };
    Ok(JobPage {
        jobs,
        next,
        scanned,
        partial,
    })
}

pub(super) async fn get(
    conn: &PgBossConnector,
    queue: &QueueName,
    id: &JobId,
) -> Result<Option<JobDetail>, QueueError> {
    let Some(uuid) = job_uuid(id) else {
        return Ok(None);
    };
    let (mut tx, layout) = conn.begin(TxMode::Read, conn.context.read_timeout).await?;
    let result = fetch_one(conn, &mut tx, layout, queue, uuid).await;
    let row = conn.finish(tx, result).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    detail_of(&row, queue).map(Some).map_err(|e| conn.fail(e))
}

/// A job's row: its summary columns and the detail's.
async fn fetch_one(
    conn: &PgBossConnector,
    tx: &mut Transaction<'static, Postgres>,
    layout: Layout,
    queue: &QueueName,
    uuid: Uuid,
) -> Result<Option<PgRow>, QueueError> {
    conn.check_queue(tx, queue).await?;
    let extra = match layout {
        Layout::V10 => "NULL::text, NULL::text, NULL::text",
        Layout::V12 => "j.group_id, j.source_name, j.source_id::text",
    };
    let sql = format!(
        "SELECT {}, j.data, j.priority, j.policy, j.singleton_key, j.dead_letter, \
         left(j.output->>'stack', 16000), {extra} \
         FROM {}.job j WHERE j.name = $1 AND j.id = $2",
        conn.sql.summary_columns(layout),
        conn.sql.s()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(queue.as_str())
        .bind(uuid)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| conn.fail(e))
}

fn detail_of(row: &PgRow, queue: &QueueName) -> Result<JobDetail, sqlx::Error> {
    let summary = summary_of(row, queue, None)?;
    let completed_on: Option<DateTime<Utc>> = row.try_get(6)?;
    let start_after: DateTime<Utc> = row.try_get(4)?;
    let started_on: Option<DateTime<Utc>> = row.try_get(5)?;
    let error: Option<String> = row.try_get(7)?;
    let data: Option<serde_json::Value> = row.try_get(10)?;
    let priority: i32 = row.try_get(11)?;
    let policy: Option<String> = row.try_get(12)?;
    let singleton_key: Option<String> = row.try_get(13)?;
    let dead_letter: Option<String> = row.try_get(14)?;
    let stack: Option<String> = row.try_get(15)?;
    let group_id: Option<String> = row.try_get(16)?;
    let source_name: Option<String> = row.try_get(17)?;
    let source_id: Option<String> = row.try_get(18)?;
    let shown = |text: &str| truncate_redacted(text, 200);
    let mut options = vec![
        ("priority".to_owned(), priority.to_string()),
        ("start_after".to_owned(), start_after.to_rfc3339()),
    ];
    if let Some(at) = started_on {
        options.push(("started_on".to_owned(), at.to_rfc3339()));
    }
    for (name, value) in [
        ("policy", policy),
        ("singleton_key", singleton_key),
        ("dead_letter", dead_letter),
        ("group_id", group_id),
        ("dead_lettered_from", source_name),
        ("dead_lettered_job", source_id),
    ] {
        if let Some(value) = value {
            options.push((name.to_owned(), shown(&value)));
        }
    }
    // pg-boss keeps the latest failure's output only.
    let attempts = error
        .map(|error| Attempt {
            at: completed_on,
            error: Some(truncate_redacted(&error, ERROR_MAX_BYTES)),
            stack: stack.map(|stack| truncate_redacted(&stack, STACK_MAX_BYTES)),
        })
        .into_iter()
        .collect();
    Ok(JobDetail {
        summary,
        attempts,
        payload: data.as_ref().map(payload_shape),
        options,
    })
}

pub(super) async fn select(
    conn: &PgBossConnector,
    queue: &QueueName,
    filter: &JobFilter,
    limit: usize,
) -> Result<Vec<JobId>, QueueError> {
    let (q, tenant) = search_of(filter);
    let (mut tx, layout) = conn.begin(TxMode::Read, ACT_TIMEOUT).await?;
    let result = match conn.check_queue(&mut tx, queue).await {
        Ok(()) => {
            // No order: any `limit + 1` of the matches tell the caller what it needs, and
            // without one PostgreSQL reads the state's index (12.x `job_i14`) directly.
            let sql = format!(
                "SELECT j.id FROM {}.job j WHERE j.name = $1 AND {} AND {} LIMIT $4",
                conn.sql.s(),
                condition(layout, filter.state),
                conn.sql.search(layout, 2, 3)
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(queue.as_str())
                .bind(q)
                .bind(tenant)
                .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| conn.fail(e))
        }
        Err(err) => Err(err),
    };
    let ids: Vec<(Uuid,)> = conn.finish(tx, result).await?;
    ids.into_iter()
        .map(|(id,)| uuid_to_id(id).map_err(|e| QueueError::Other(e.to_string())))
        .collect()
}
