//! Queue monitoring ([`QueueStore`]): each source's status, each queue's latest stats as one
//! JSON document (its counts by state change shape from system to system), its history at
//! most a point a minute, and bulk-action selections with their pinned ids (a JSON array).
//! Times are kept to the millisecond on both backends.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::ids::{JobId, QueueName, SourceName};
use opsdeck_core::queues::{
    BulkAction, JobFilter, JobSummary, QueueSample, QueueStats, Selection, SelectionClaim,
    SelectionToken, SourceStatus,
};
use opsdeck_core::store::QueueStore;

use sqlx::Executor;

use crate::dialect::{BindExt, Dialect, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::{Time, TimeBound};

/// The statements of this module, per backend.
pub(crate) struct QueueQueries {
    /// Inserts or replaces a source's row. Binds source, system, version, last_success_at,
    /// last_attempt_at, error; a NULL last_success_at or version keeps the stored one.
    pub upsert_source: &'static str,
    /// Inserts or replaces a queue's stats. Binds source, queue, system, stats (JSON text),
    /// polled_at.
    pub upsert_stats: &'static str,
    /// Deletes a source's queues not seen by the poll at polled_at. Binds source, polled_at.
    pub forget_stats: &'static str,
    /// Inserts a history point, ignoring a repeat of (source, queue, at). Binds source, queue,
    /// at, waiting, failed, failures_last_hour, oldest_seconds.
    pub insert_sample: &'static str,
    /// Replaces a push source's reported failures of one queue. Binds source, queue, jobs
    /// (JSON), received_at.
    pub upsert_pushed_jobs: &'static str,
    /// A queue's reported failures: jobs (JSON). Binds source, queue.
    pub pushed_jobs: &'static str,
    /// Every source: source, system, version, last_success_at, last_attempt_at, error.
    pub sources: &'static str,
    /// Every queue's stats: stats (JSON text), ordered by source and queue.
    pub stats: &'static str,
    /// A queue's history since a time, oldest first: at, waiting, failed,
    /// failures_last_hour, oldest_seconds. Binds source, queue, since.
    pub samples: &'static str,
    /// Binds cutoff.
    pub prune_samples: &'static str,
    /// Binds token, source, queue, action, filter (JSON), ids (JSON), count, pinned_at,
    /// expires_at.
    pub insert_selection: &'static str,
    /// Marks a selection used and returns it (token, source, queue, action, filter, ids,
    /// pinned_at, expires_at, used_at) if it was unused, unexpired and of that count. Binds
    /// token, expected count, now.
    pub take_selection: &'static str,
    /// Binds cutoff.
    pub prune_selections: &'static str,
}

/// What a backend gives the queue store.
pub(crate) trait QueueSql: Dialect {
    const QUEUES: QueueQueries;
}

fn json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|_| corrupt("queue document"))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &'static str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|_| corrupt(what))
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Inserts or replaces a source's status.
async fn upsert_source<'c, DB: QueueSql>(
    db: impl Executor<'c, Database = DB>,
    status: &SourceStatus,
) -> sqlx::Result<()> {
    sqlx::query(DB::QUEUES.upsert_source)
        .arg(status.source.as_str())
        .arg(status.system.as_str())
        .arg(status.version.as_deref())
        .arg(status.last_success_at.map(Time::millis))
        .arg(status.last_attempt_at.map(Time::millis))
        .arg(status.error.as_deref())
        .execute(db)
        .await
        .map(drop)
}

/// Inserts or replaces a queue's stats, stamped `polled_at`.
async fn upsert_stats<'c, DB: QueueSql>(
    db: impl Executor<'c, Database = DB>,
    stats: &QueueStats,
    document: String,
    polled_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(DB::QUEUES.upsert_stats)
        .arg(stats.source.as_str())
        .arg(stats.queue.as_str())
        .arg(stats.system.as_str())
        .arg(document)
        .arg(Time::millis(polled_at))
        .execute(db)
        .await
        .map(drop)
}

/// Inserts a history point of `stats` at `at` (a repeat of the same time is ignored).
async fn insert_sample<'c, DB: QueueSql>(
    db: impl Executor<'c, Database = DB>,
    stats: &QueueStats,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let point = QueueSample::of(stats);
    sqlx::query(DB::QUEUES.insert_sample)
        .arg(stats.source.as_str())
        .arg(stats.queue.as_str())
        .arg(Time::millis(at))
        .arg(count(point.waiting))
        .arg(count(point.failed))
        .arg(point.failures_last_hour.map(count))
        .arg(point.oldest_waiting_seconds)
        .execute(db)
        .await
        .map(drop)
}

#[async_trait]
impl<DB: QueueSql> QueueStore for SqlStore<DB> {
    async fn record_queue_poll(
        &self,
        status: &SourceStatus,
        stats: &[QueueStats],
        sample: bool,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        upsert_source(DB::on_conn(&mut tx), status)
            .await
            .map_err(|e| self.fail(e))?;
        if status.error.is_none()
            && let Some(polled_at) = stats
                .first()
                .map(|s| s.polled_at)
                .or(status.last_success_at)
        {
            for queue in stats {
                upsert_stats(DB::on_conn(&mut tx), queue, json(queue)?, polled_at)
                    .await
                    .map_err(|e| self.fail(e))?;
                if sample {
                    insert_sample(DB::on_conn(&mut tx), queue, queue.polled_at)
                        .await
                        .map_err(|e| self.fail(e))?;
                }
            }
            self.query(DB::QUEUES.forget_stats)
                .arg(status.source.as_str())
                .arg(Time::millis(polled_at))
                .execute(DB::on_conn(&mut tx))
                .await
                .map_err(|e| self.fail(e))?;
        }
        self.commit(tx).await
    }

    async fn record_queue_push(
        &self,
        status: &SourceStatus,
        stats: &QueueStats,
        jobs: &[JobSummary],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        upsert_source(DB::on_conn(&mut tx), status)
            .await
            .map_err(|e| self.fail(e))?;
        upsert_stats(DB::on_conn(&mut tx), stats, json(stats)?, stats.polled_at)
            .await
            .map_err(|e| self.fail(e))?;
        self.query(DB::QUEUES.upsert_pushed_jobs)
            .arg(stats.source.as_str())
            .arg(stats.queue.as_str())
            .arg(json(&jobs)?)
            .arg(Time::millis(stats.polled_at))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        // One point a minute: the minute's first snapshot makes it, the others repeat its key.
        let at = stats.polled_at;
        let minute = at.timestamp() - at.timestamp().rem_euclid(60);
        insert_sample(
            DB::on_conn(&mut tx),
            stats,
            DateTime::from_timestamp(minute, 0).unwrap_or(at),
        )
        .await
        .map_err(|e| self.fail(e))?;
        self.commit(tx).await
    }

    async fn pushed_jobs(
        &self,
        source: &SourceName,
        queue: &QueueName,
    ) -> StoreResult<Vec<JobSummary>> {
        let row = self
            .query(DB::QUEUES.pushed_jobs)
            .arg(source.as_str())
            .arg(queue.as_str())
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        match row {
            Some(row) => parse(&row.col::<String>("jobs")?, "pushed jobs"),
            None => Ok(Vec::new()),
        }
    }

    async fn queue_view(&self) -> StoreResult<(Vec<SourceStatus>, Vec<QueueStats>)> {
        let q = &DB::QUEUES;
        let rows = self
            .query(q.sources)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        let sources = rows
            .iter()
            .map(|row| {
                Ok(SourceStatus {
                    source: SourceName::parse(&row.col::<String>("source")?)
                        .map_err(|_| corrupt("queue source"))?,
                    system: row
                        .col::<String>("system")?
                        .parse()
                        .map_err(|_| corrupt("queue system"))?,
                    version: row.col("version")?,
                    last_success_at: row.opt_time("last_success_at")?,
                    last_attempt_at: row.opt_time("last_attempt_at")?,
                    error: row.col("error")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let rows = self
            .query(q.stats)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        let stats = rows
            .iter()
            .map(|row| parse(&row.col::<String>("stats")?, "queue stats"))
            .collect::<StoreResult<Vec<QueueStats>>>()?;
        Ok((sources, stats))
    }

    async fn queue_samples(
        &self,
        source: &SourceName,
        queue: &QueueName,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<QueueSample>> {
        let rows = self
            .query(DB::QUEUES.samples)
            .arg(source.as_str())
            .arg(queue.as_str())
            .arg(TimeBound(since))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        let unsigned = |value: i64| u64::try_from(value).map_err(|_| corrupt("queue sample"));
        rows.iter()
            .map(|row| {
                Ok(QueueSample {
                    at: row.time("at")?,
                    waiting: unsigned(row.col("waiting")?)?,
                    failed: unsigned(row.col("failed")?)?,
                    failures_last_hour: row
                        .col::<Option<i64>>("failures_last_hour")?
                        .map(unsigned)
                        .transpose()?,
                    oldest_waiting_seconds: row.col("oldest_seconds")?,
                })
            })
            .collect()
    }

    async fn prune_queue_samples(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::QUEUES.prune_samples)
            .arg(TimeBound(cutoff))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }

    async fn create_selection(&self, selection: &Selection) -> StoreResult<()> {
        self.query(DB::QUEUES.insert_selection)
            .arg(selection.token.as_str())
            .arg(selection.source.as_str())
            .arg(selection.queue.as_str())
            .arg(selection.action.as_str())
            .arg(json(&selection.filter)?)
            .arg(json(&selection.ids)?)
            .arg(count(selection.count()))
            .arg(Time::millis(selection.pinned_at))
            .arg(Time::millis(selection.expires_at))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn take_selection(
        &self,
        token: &SelectionToken,
        claim: SelectionClaim<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Selection>> {
        let row = self
            .query(DB::QUEUES.take_selection)
            .arg(token.as_str())
            .arg(count(claim.expected_count))
            .arg(Time::millis(now))
            .arg(claim.source.as_str())
            .arg(claim.queue.as_str())
            .arg(claim.action.as_str())
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Selection {
            token: row
                .col::<String>("token")?
                .parse()
                .map_err(|_| corrupt("selection token"))?,
            source: SourceName::parse(&row.col::<String>("source")?)
                .map_err(|_| corrupt("selection source"))?,
            queue: QueueName::parse(&row.col::<String>("queue")?)
                .map_err(|_| corrupt("selection queue"))?,
            action: row
                .col::<String>("action")?
                .parse::<BulkAction>()
                .map_err(|_| corrupt("selection action"))?,
            filter: parse::<JobFilter>(&row.col::<String>("filter")?, "selection filter")?,
            ids: parse::<Vec<JobId>>(&row.col::<String>("ids")?, "selection ids")?,
            pinned_at: row.time("pinned_at")?,
            expires_at: row.time("expires_at")?,
            used_at: row.opt_time("used_at")?,
        }))
    }

    async fn prune_selections(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::QUEUES.prune_selections)
            .arg(TimeBound(cutoff))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }
}
