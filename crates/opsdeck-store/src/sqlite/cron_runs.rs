//! The SQLite SQL behind [`CronRunStore`]: reading the runs `cron_apply.rs` writes, and
//! retention. A run list pages by `(listed_at, run_id)`, which the index on
//! `(slug, listed_at, run_id)` serves in either direction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::cron::{Run, RunCount, RunCursor, RunPage};
use opsdeck_core::ids::Slug;
use opsdeck_core::store::CronRunStore;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::cron::{time, uuid};
use crate::error::corrupt;

const RUN_COLUMNS: &str = "slug, run_id, status, source, listed_at, expected_at, started_at, \
     finished_at, duration_ms, exit_code, error, missed_slots, last_missed_at, \
     in_maintenance, too_fast";

#[derive(sqlx::FromRow)]
struct RunRow {
    slug: String,
    run_id: String,
    status: String,
    source: String,
    listed_at: i64,
    expected_at: Option<i64>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    duration_ms: Option<i64>,
    exit_code: Option<i64>,
    error: Option<String>,
    missed_slots: i64,
    last_missed_at: Option<i64>,
    in_maintenance: bool,
    too_fast: bool,
}

#[async_trait]
impl CronRunStore for SqliteStore {
    async fn list_runs(
        &self,
        slug: &Slug,
        cursor: Option<&RunCursor>,
        limit: u32,
    ) -> StoreResult<RunPage> {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {RUN_COLUMNS} FROM cron_runs WHERE slug = "
        ));
        query.push_bind(slug.as_str());
        if let Some(cursor) = cursor {
            query
                .push(" AND (listed_at, run_id) < (")
                .push_bind(cursor.at.timestamp_millis())
                .push(", ")
                .push_bind(cursor.run_id.to_string())
                .push(")");
        }
        // One more than asked tells whether another page follows.
        query
            .push(" ORDER BY listed_at DESC, run_id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let mut rows: Vec<RunRow> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = match rows.last() {
            Some(last) if more => Some(RunCursor {
                at: time(last.listed_at)?,
                run_id: uuid(&last.run_id)?,
            }),
            _ => None,
        };
        let runs = rows.into_iter().map(run).collect::<StoreResult<_>>()?;
        Ok(RunPage { runs, next })
    }

    async fn get_run(&self, slug: &Slug, run_id: Uuid) -> StoreResult<Option<Run>> {
        let row: Option<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM cron_runs WHERE slug = ?1 AND run_id = ?2"
        )))
        .bind(slug.as_str())
        .bind(run_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(run).transpose()
    }

    async fn get_run_log(&self, slug: &Slug, run_id: Uuid) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT excerpt FROM cron_run_logs WHERE slug = ?1 AND run_id = ?2")
            .bind(slug.as_str())
            .bind(run_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.fail(e))
    }

    async fn count_runs(&self) -> StoreResult<Vec<RunCount>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT slug, status, count(*) FROM cron_runs GROUP BY slug, status
             ORDER BY slug, status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter()
            .map(|(slug, status, count)| {
                Ok(RunCount {
                    slug: Slug::parse(&slug).map_err(|_| corrupt("cron run slug"))?,
                    status: status.parse().map_err(|_| corrupt("cron run status"))?,
                    count: u64::try_from(count).map_err(|_| corrupt("cron run count"))?,
                })
            })
            .collect()
    }

    async fn prune_runs(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        // Logs go by ON DELETE CASCADE.
        let done = sqlx::query(
            "DELETE FROM cron_runs
             WHERE listed_at < ?1
               AND coalesce(finished_at, last_missed_at, listed_at) < ?1
               AND status <> 'running'
               AND run_id <> (
                   SELECT n.run_id FROM cron_runs n WHERE n.slug = cron_runs.slug
                   ORDER BY n.listed_at DESC, n.run_id DESC LIMIT 1)
               AND run_id IS NOT (
                   SELECT m.last_run_id FROM cron_monitors m WHERE m.slug = cron_runs.slug)",
        )
        .bind(cutoff.timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }
}

fn run(row: RunRow) -> StoreResult<Run> {
    let at = |t: Option<i64>| t.map(time).transpose();
    Ok(Run {
        run_id: uuid(&row.run_id)?,
        slug: Slug::parse(&row.slug).map_err(|_| corrupt("cron run slug"))?,
        status: row.status.parse().map_err(|_| corrupt("cron run status"))?,
        source: row.source.parse().map_err(|_| corrupt("cron run source"))?,
        expected_at: at(row.expected_at)?,
        started_at: at(row.started_at)?,
        finished_at: at(row.finished_at)?,
        duration_ms: (row.duration_ms)
            .map(|ms| u64::try_from(ms).map_err(|_| corrupt("cron run duration")))
            .transpose()?,
        exit_code: (row.exit_code)
            .map(|code| u8::try_from(code).map_err(|_| corrupt("cron run exit code")))
            .transpose()?,
        error: row.error,
        missed_slots: u32::try_from(row.missed_slots).map_err(|_| corrupt("cron missed slots"))?,
        last_missed_at: at(row.last_missed_at)?,
        in_maintenance: row.in_maintenance,
        too_fast: row.too_fast,
    })
}
