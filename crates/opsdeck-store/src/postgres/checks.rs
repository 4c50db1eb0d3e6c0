//! The PostgreSQL SQL behind [`CheckHistoryStore`]. Times are TIMESTAMPTZ truncated to the
//! millisecond (what SQLite keeps, so both backends answer alike), latencies microseconds,
//! sample statuses severity ranks (see the migration). Buckets are computed in SQL on the
//! epoch milliseconds, as `health::bucket_start` does.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::health::{self, CheckResult, Sample, Status, StatusChange};
use opsdeck_core::ids::CheckName;
use opsdeck_core::store::CheckHistoryStore;

use super::PgStore;
use crate::error::corrupt;

type ChangeRow = (
    String,
    DateTime<Utc>,
    Option<String>,
    String,
    Option<String>,
);

/// `at, raw, count, failed, worst, min_us, max_us, total_us`.
type SampleRow = (DateTime<Utc>, bool, i64, i64, i16, i64, i64, i64);

/// The columns of a [`StatusChange`], in [`ChangeRow`] order.
macro_rules! change_columns {
    () => {
        "name, at, from_status, to_status, output"
    };
}

#[async_trait]
impl CheckHistoryStore for PgStore {
    async fn record_check_sample(&self, result: &CheckResult) -> StoreResult<()> {
        insert_sample(&self.pool, result)
            .await
            .map_err(|e| self.fail(e))
    }

    async fn record_status_change(&self, change: &StatusChange) -> StoreResult<()> {
        insert_status_change(&self.pool, change)
            .await
            .map_err(|e| self.fail(e))
    }

    async fn status_changes(
        &self,
        name: &CheckName,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusChange>> {
        let rows: Vec<ChangeRow> = sqlx::query_as(concat!(
            "SELECT ",
            change_columns!(),
            " FROM check_status_changes
             WHERE name = $1 AND at >= $2 AND at < $3 ORDER BY at, id"
        ))
        .bind(name.as_str())
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(change).collect()
    }

    async fn status_change_before(
        &self,
        name: &CheckName,
        before: DateTime<Utc>,
    ) -> StoreResult<Option<StatusChange>> {
        let row: Option<ChangeRow> = sqlx::query_as(concat!(
            "SELECT ",
            change_columns!(),
            " FROM check_status_changes
             WHERE name = $1 AND at < $2 ORDER BY at DESC, id DESC LIMIT 1"
        ))
        .bind(name.as_str())
        .bind(before)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(change).transpose()
    }

    async fn latest_status_changes(&self) -> StoreResult<Vec<StatusChange>> {
        let rows: Vec<ChangeRow> = sqlx::query_as(concat!(
            "SELECT DISTINCT ON (name) ",
            change_columns!(),
            " FROM check_status_changes ORDER BY name, at DESC, id DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(change).collect()
    }

    async fn check_samples(
        &self,
        name: &CheckName,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<Sample>> {
        let rows: Vec<SampleRow> = sqlx::query_as(
            "SELECT at, true AS raw, 1::bigint, (status = 2)::int::bigint, status,
                    latency_us, latency_us, latency_us
             FROM check_samples WHERE name = $1 AND at >= $2 AND at < $3
             UNION ALL
             SELECT at, false AS raw, count, failed, worst, min_us, max_us, total_us
             FROM check_sample_buckets WHERE name = $1 AND at >= $2 AND at < $3
             ORDER BY at, raw DESC",
        )
        .bind(name.as_str())
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(sample).collect()
    }

    async fn compact_check_samples(
        &self,
        raw_before: DateTime<Utc>,
        keep_after: DateTime<Utc>,
        bucket: Duration,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        // Epoch milliseconds, floored to the bucket width, back to a time. Two compactions
        // racing (two leaders for a moment) serialise on the bucket rows' conflict, and the
        // second finds the raw rows gone.
        sqlx::query(
            "INSERT INTO check_sample_buckets
                 (name, at, count, failed, worst, min_us, max_us, total_us)
             SELECT name,
                    TIMESTAMPTZ 'epoch' + floor(extract(epoch FROM at) * 1000 / $2) * $2
                        * interval '1 millisecond' AS bucket,
                    count(*), count(*) FILTER (WHERE status = 2), max(status),
                    min(latency_us), max(latency_us), sum(latency_us)
             FROM check_samples WHERE at < $1 GROUP BY name, bucket
             ON CONFLICT (name, at) DO UPDATE SET
                 count = check_sample_buckets.count + excluded.count,
                 failed = check_sample_buckets.failed + excluded.failed,
                 worst = greatest(check_sample_buckets.worst, excluded.worst),
                 min_us = least(check_sample_buckets.min_us, excluded.min_us),
                 max_us = greatest(check_sample_buckets.max_us, excluded.max_us),
                 total_us = check_sample_buckets.total_us + excluded.total_us",
        )
        .bind(raw_before)
        .bind(health::bucket_millis(bucket))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        let merged = sqlx::query("DELETE FROM check_samples WHERE at < $1")
            .bind(raw_before)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let expired = sqlx::query("DELETE FROM check_sample_buckets WHERE at < $1")
            .bind(keep_after)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(merged.rows_affected() + expired.rows_affected())
    }
}

fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

fn micros(latency: Duration) -> i64 {
    i64::try_from(latency.as_micros()).unwrap_or(i64::MAX)
}

fn status(text: &str) -> StoreResult<Status> {
    text.parse().map_err(|_| corrupt("check status"))
}

fn change((name, at, from, to, output): ChangeRow) -> StoreResult<StatusChange> {
    Ok(StatusChange {
        name: CheckName::parse(&name).map_err(|_| corrupt("check name"))?,
        from: from.as_deref().map(status).transpose()?,
        to: status(&to)?,
        at,
        output,
    })
}

fn sample((at, raw, count, failed, worst, min, max, total): SampleRow) -> StoreResult<Sample> {
    let latency = |us: i64| {
        u64::try_from(us)
            .map(Duration::from_micros)
            .map_err(|_| corrupt("check latency"))
    };
    let count32 = |n: i64| u32::try_from(n).map_err(|_| corrupt("check sample count"));
    Ok(Sample {
        at,
        raw,
        count: count32(count)?,
        failed: count32(failed)?,
        worst: Status::from_rank(worst.into()).ok_or_else(|| corrupt("check status"))?,
        min: latency(min)?,
        max: latency(max)?,
        total: latency(total)?,
    })
}

/// Inserts one raw sample: for [`CheckHistoryStore::record_check_sample`] and inside the
/// transaction of [`opsdeck_core::store::CheckLatestStore::record_check_result`].
pub(super) async fn insert_sample<'c>(
    db: impl sqlx::PgExecutor<'c>,
    result: &CheckResult,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO check_samples (name, at, status, latency_us) VALUES ($1, $2, $3, $4)")
        .bind(result.name.as_str())
        .bind(millis(result.at))
        .bind(result.status.rank())
        .bind(micros(result.latency))
        .execute(db)
        .await
        .map(drop)
}

/// Inserts one status change (see [`insert_sample`] for who calls it).
pub(super) async fn insert_status_change<'c>(
    db: impl sqlx::PgExecutor<'c>,
    change: &StatusChange,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO check_status_changes (name, at, from_status, to_status, output)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(change.name.as_str())
    .bind(millis(change.at))
    .bind(change.from.map(Status::as_str))
    .bind(change.to.as_str())
    .bind(change.output.as_deref())
    .execute(db)
    .await
    .map(drop)
}
