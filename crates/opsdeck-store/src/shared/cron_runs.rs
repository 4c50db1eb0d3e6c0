//! The runs of cron monitors ([`CronRunStore`]): reading the runs `cron_apply.rs` writes, and
//! retention. A run list pages by `(listed_at, run_id)`, which the index on
//! `(slug, listed_at, run_id)` serves in either direction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::cron::{Run, RunCount, RunCursor, RunPage};
use opsdeck_core::ids::Slug;
use opsdeck_core::store::CronRunStore;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::dialect::{BindExt, Dialect, PushExt, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::{Id, Time};

/// The statements of this module, per backend. "A run" is the columns `slug, run_id,
/// status, source, listed_at, expected_at, started_at, finished_at, duration_ms, exit_code,
/// error, missed_slots, last_missed_at, in_maintenance, too_fast`.
pub(crate) struct RunQueries {
    /// The runs of a monitor, up to `WHERE slug = `, to which the listing binds the slug
    /// and adds its cursor, order and limit.
    pub list: &'static str,
    /// Binds slug, run_id; returns the run.
    pub get: &'static str,
    /// Binds slug, run_id; returns the log's `excerpt`.
    pub log: &'static str,
    /// `slug, status, count` of the stored runs, by slug and status.
    pub count: &'static str,
    /// Deletes runs ended before the cutoff, but never a running run, nor a monitor's
    /// newest run or its last run. Binds the cutoff.
    pub prune: &'static str,
}

pub(crate) trait CronRunSql: Dialect {
    const RUNS: RunQueries;
}

#[async_trait]
impl<DB: CronRunSql> CronRunStore for SqlStore<DB> {
    async fn list_runs(
        &self,
        slug: &Slug,
        cursor: Option<&RunCursor>,
        limit: u32,
    ) -> StoreResult<RunPage> {
        let mut query = QueryBuilder::<DB>::new(DB::RUNS.list);
        query.push_arg(slug.as_str());
        if let Some(cursor) = cursor {
            query
                .push(" AND (listed_at, run_id) < (")
                .push_arg(Time::millis(cursor.at))
                .push(", ")
                .push_arg(Id(cursor.run_id))
                .push(")");
        }
        // One more than asked tells whether another page follows.
        query
            .push(" ORDER BY listed_at DESC, run_id DESC LIMIT ")
            .push_arg(i64::from(limit) + 1);
        let mut rows = query
            .build()
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = match rows.last() {
            Some(last) if more => Some(RunCursor {
                at: last.time("listed_at")?,
                run_id: last.id("run_id")?,
            }),
            _ => None,
        };
        let runs = rows.iter().map(run::<DB>).collect::<StoreResult<_>>()?;
        Ok(RunPage { runs, next })
    }

    async fn get_run(&self, slug: &Slug, run_id: Uuid) -> StoreResult<Option<Run>> {
        let row = self
            .query(DB::RUNS.get)
            .arg(slug.as_str())
            .arg(Id(run_id))
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(run::<DB>).transpose()
    }

    async fn get_run_log(&self, slug: &Slug, run_id: Uuid) -> StoreResult<Option<String>> {
        let row = self
            .query(DB::RUNS.log)
            .arg(slug.as_str())
            .arg(Id(run_id))
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|row| row.col("excerpt")).transpose()
    }

    async fn count_runs(&self) -> StoreResult<Vec<RunCount>> {
        let rows = self
            .query(DB::RUNS.count)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(RunCount {
                    slug: slug(&row.col::<String>("slug")?)?,
                    status: row
                        .col::<String>("status")?
                        .parse()
                        .map_err(|_| corrupt("cron run status"))?,
                    count: u64::try_from(row.col::<i64>("count")?)
                        .map_err(|_| corrupt("cron run count"))?,
                })
            })
            .collect()
    }

    async fn prune_runs(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::RUNS.prune)
            .arg(Time::millis(cutoff))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }
}

fn slug(text: &str) -> StoreResult<Slug> {
    Slug::parse(text).map_err(|_| corrupt("cron run slug"))
}

fn run<DB: Dialect>(row: &DB::Row) -> StoreResult<Run> {
    Ok(Run {
        run_id: row.id("run_id")?,
        slug: slug(&row.col::<String>("slug")?)?,
        status: row
            .col::<String>("status")?
            .parse()
            .map_err(|_| corrupt("cron run status"))?,
        source: row
            .col::<String>("source")?
            .parse()
            .map_err(|_| corrupt("cron run source"))?,
        expected_at: row.opt_time("expected_at")?,
        started_at: row.opt_time("started_at")?,
        finished_at: row.opt_time("finished_at")?,
        duration_ms: (row.col::<Option<i64>>("duration_ms")?)
            .map(|ms| u64::try_from(ms).map_err(|_| corrupt("cron run duration")))
            .transpose()?,
        exit_code: (row.col::<Option<i16>>("exit_code")?)
            .map(|code| u8::try_from(code).map_err(|_| corrupt("cron run exit code")))
            .transpose()?,
        error: row.col("error")?,
        missed_slots: u32::try_from(row.col::<i64>("missed_slots")?)
            .map_err(|_| corrupt("cron missed slots"))?,
        last_missed_at: row.opt_time("last_missed_at")?,
        in_maintenance: row.col("in_maintenance")?,
        too_fast: row.col("too_fast")?,
    })
}
