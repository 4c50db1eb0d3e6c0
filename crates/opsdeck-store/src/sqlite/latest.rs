//! The SQLite SQL behind [`CheckLatestStore`]: one transaction per probe result.

use std::time::Duration;

use async_trait::async_trait;
use opsdeck_core::StoreResult;
use opsdeck_core::health::{CheckResult, Status, StatusChange};
use opsdeck_core::ids::CheckName;
use opsdeck_core::store::CheckLatestStore;

use super::SqliteStore;
use super::checks::{insert_sample, insert_status_change};
use crate::error::corrupt;

/// `name, at, status, latency_us, observed_value, observed_unit, output`.
type LatestRow = (
    String,
    i64,
    String,
    i64,
    Option<f64>,
    Option<String>,
    Option<String>,
);

#[async_trait]
impl CheckLatestStore for SqliteStore {
    async fn record_check_result(
        &self,
        result: &CheckResult,
        change: Option<&StatusChange>,
    ) -> StoreResult<()> {
        // IMMEDIATE: take the write lock up front (see the module docs of `sqlite`).
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.fail(e))?;
        let at = result.at.timestamp_millis();
        let latency = i64::try_from(result.latency.as_micros()).unwrap_or(i64::MAX);
        insert_sample(&mut *tx, result)
            .await
            .map_err(|e| self.fail(e))?;
        sqlx::query(
            "INSERT INTO check_latest
                 (name, at, status, latency_us, observed_value, observed_unit, output)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET
                 at = excluded.at, status = excluded.status, latency_us = excluded.latency_us,
                 observed_value = excluded.observed_value,
                 observed_unit = excluded.observed_unit, output = excluded.output",
        )
        .bind(result.name.as_str())
        .bind(at)
        .bind(result.status.as_str())
        .bind(latency)
        .bind(result.observed_value)
        .bind(result.observed_unit.as_deref())
        .bind(result.output.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        if let Some(change) = change {
            insert_status_change(&mut *tx, change)
                .await
                .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))
    }

    async fn latest_check_results(&self) -> StoreResult<Vec<CheckResult>> {
        let rows: Vec<LatestRow> = sqlx::query_as(
            "SELECT name, at, status, latency_us, observed_value, observed_unit, output
             FROM check_latest ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter()
            .map(|(name, at, status, latency, value, unit, output)| {
                Ok(CheckResult {
                    name: CheckName::parse(&name).map_err(|_| corrupt("check name"))?,
                    status: status
                        .parse::<Status>()
                        .map_err(|_| corrupt("check status"))?,
                    latency: Duration::from_micros(
                        u64::try_from(latency).map_err(|_| corrupt("check latency"))?,
                    ),
                    observed_value: value,
                    observed_unit: unit,
                    output,
                    at: chrono::DateTime::from_timestamp_millis(at)
                        .ok_or_else(|| corrupt("check time"))?,
                })
            })
            .collect()
    }
}
