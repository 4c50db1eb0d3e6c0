//! The history of health checks ([`CheckHistoryStore`]): status changes and latency samples,
//! raw and compacted into buckets. Times are kept to the millisecond on every backend, and a
//! window's bounds are [`TimeBound`]s, so a bound between two milliseconds meets the stored
//! time as it reads back; latencies are kept in microseconds, sample statuses as severity
//! ranks (see the migrations).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::health::{self, CheckResult, Sample, Status, StatusChange};
use opsdeck_core::ids::CheckName;
use opsdeck_core::store::CheckHistoryStore;
use sqlx::Executor;

use crate::dialect::{BindExt, Dialect, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::{Time, TimeBound};

/// The statements of the check stores, per backend. "A change" is the columns `name, at,
/// from_status, to_status, output`; "a sample" is `at, raw, count, failed, worst, min_us,
/// max_us, total_us`, a raw sample being one of count 1.
pub(crate) struct CheckQueries {
    /// Binds name, at, status rank, latency_us.
    pub insert_sample: &'static str,
    /// Binds name, at, from_status, to_status, output.
    pub insert_change: &'static str,
    /// The changes of one check in `[since, until)`, oldest first. Binds name, since, until.
    pub changes_between: &'static str,
    /// The latest change of one check before a time. Binds name, before.
    pub change_before: &'static str,
    /// The latest change of every check, by name.
    pub latest_changes: &'static str,
    /// The samples of one check in `[since, until)`, raw and compacted, oldest first (a raw
    /// sample before a bucket at the same instant). Binds name, since, until.
    pub samples_between: &'static str,
    /// Merges raw samples before a time into their buckets (counted from the unix epoch,
    /// as `health::bucket_start`), a bucket already compacted absorbing late samples. Binds
    /// raw_before, the bucket width in milliseconds.
    pub compact_samples: &'static str,
    /// Binds raw_before.
    pub delete_raw_samples: &'static str,
    /// Binds keep_after.
    pub expire_buckets: &'static str,
    /// Replaces a check's latest result. Binds name, at, status, latency_us,
    /// observed_value, observed_unit, output.
    pub upsert_latest: &'static str,
    /// `name, at, status, latency_us, observed_value, observed_unit, output` of every check,
    /// by name.
    pub latest_results: &'static str,
}

pub(crate) trait CheckSql: Dialect {
    const CHECKS: CheckQueries;
}

#[async_trait]
impl<DB: CheckSql> CheckHistoryStore for SqlStore<DB> {
    async fn record_check_sample(&self, result: &CheckResult) -> StoreResult<()> {
        insert_sample(self.db()?, result)
            .await
            .map_err(|e| self.fail(e))
    }

    async fn record_status_change(&self, change: &StatusChange) -> StoreResult<()> {
        insert_status_change(self.db()?, change)
            .await
            .map_err(|e| self.fail(e))
    }

    async fn status_changes(
        &self,
        name: &CheckName,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusChange>> {
        let rows = self
            .query(DB::CHECKS.changes_between)
            .arg(name.as_str())
            .arg(TimeBound(since))
            .arg(TimeBound(until))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(change::<DB>).collect()
    }

    async fn status_change_before(
        &self,
        name: &CheckName,
        before: DateTime<Utc>,
    ) -> StoreResult<Option<StatusChange>> {
        let row = self
            .query(DB::CHECKS.change_before)
            .arg(name.as_str())
            .arg(TimeBound(before))
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(change::<DB>).transpose()
    }

    async fn latest_status_changes(&self) -> StoreResult<Vec<StatusChange>> {
        let rows = self
            .query(DB::CHECKS.latest_changes)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(change::<DB>).collect()
    }

    async fn check_samples(
        &self,
        name: &CheckName,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<Sample>> {
        let rows = self
            .query(DB::CHECKS.samples_between)
            .arg(name.as_str())
            .arg(TimeBound(since))
            .arg(TimeBound(until))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(sample::<DB>).collect()
    }

    async fn compact_check_samples(
        &self,
        raw_before: DateTime<Utc>,
        keep_after: DateTime<Utc>,
        bucket: Duration,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        self.query(DB::CHECKS.compact_samples)
            .arg(Time(raw_before))
            .arg(health::bucket_millis(bucket))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        let merged = self
            .query(DB::CHECKS.delete_raw_samples)
            .arg(Time(raw_before))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        let expired = self
            .query(DB::CHECKS.expire_buckets)
            .arg(Time(keep_after))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        self.commit(tx).await?;
        Ok(DB::rows_affected(&merged) + DB::rows_affected(&expired))
    }
}

/// Inserts one raw sample: for [`CheckHistoryStore::record_check_sample`] and inside the
/// transaction of [`opsdeck_core::store::CheckLatestStore::record_check_result`].
pub(super) async fn insert_sample<'c, DB: CheckSql>(
    db: impl Executor<'c, Database = DB>,
    result: &CheckResult,
) -> sqlx::Result<()> {
    sqlx::query(DB::CHECKS.insert_sample)
        .arg(result.name.as_str())
        .arg(Time::millis(result.at))
        .arg(result.status.rank())
        .arg(micros(result.latency))
        .execute(db)
        .await
        .map(drop)
}

/// Inserts one status change (see [`insert_sample`] for who calls it).
pub(super) async fn insert_status_change<'c, DB: CheckSql>(
    db: impl Executor<'c, Database = DB>,
    change: &StatusChange,
) -> sqlx::Result<()> {
    sqlx::query(DB::CHECKS.insert_change)
        .arg(change.name.as_str())
        .arg(Time::millis(change.at))
        .arg(change.from.map(Status::as_str))
        .arg(change.to.as_str())
        .arg(change.output.as_deref())
        .execute(db)
        .await
        .map(drop)
}

pub(super) fn micros(latency: Duration) -> i64 {
    i64::try_from(latency.as_micros()).unwrap_or(i64::MAX)
}

pub(super) fn status(text: &str) -> StoreResult<Status> {
    text.parse().map_err(|_| corrupt("check status"))
}

pub(super) fn check_name(text: &str) -> StoreResult<CheckName> {
    CheckName::parse(text).map_err(|_| corrupt("check name"))
}

fn change<DB: Dialect>(row: &DB::Row) -> StoreResult<StatusChange> {
    let from: Option<String> = row.col("from_status")?;
    Ok(StatusChange {
        name: check_name(&row.col::<String>("name")?)?,
        from: from.as_deref().map(status).transpose()?,
        to: status(&row.col::<String>("to_status")?)?,
        at: row.time("at")?,
        output: row.col("output")?,
    })
}

fn sample<DB: Dialect>(row: &DB::Row) -> StoreResult<Sample> {
    let latency = |column: &str| {
        u64::try_from(row.col::<i64>(column)?)
            .map(Duration::from_micros)
            .map_err(|_| corrupt("check latency"))
    };
    let count = |column: &str| {
        u32::try_from(row.col::<i64>(column)?).map_err(|_| corrupt("check sample count"))
    };
    Ok(Sample {
        at: row.time("at")?,
        raw: row.col("raw")?,
        count: count("count")?,
        failed: count("failed")?,
        worst: Status::from_rank(row.col::<i16>("worst")?.into())
            .ok_or_else(|| corrupt("check status"))?,
        min: latency("min_us")?,
        max: latency("max_us")?,
        total: latency("total_us")?,
    })
}
