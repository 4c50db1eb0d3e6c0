//! The latest result of every health check ([`CheckLatestStore`]): one transaction per probe
//! result, which also records its sample and any status change.

use std::time::Duration;

use async_trait::async_trait;
use opsdeck_core::StoreResult;
use opsdeck_core::health::{CheckResult, StatusChange};
use opsdeck_core::store::CheckLatestStore;

use super::checks::{CheckSql, check_name, insert_sample, insert_status_change, micros, status};
use crate::dialect::{BindExt, Dialect, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::Time;

#[async_trait]
impl<DB: CheckSql> CheckLatestStore for SqlStore<DB> {
    async fn record_check_result(
        &self,
        result: &CheckResult,
        change: Option<&StatusChange>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_sample(DB::on_conn(&mut tx), result)
            .await
            .map_err(|e| self.fail(e))?;
        self.query(DB::CHECKS.upsert_latest)
            .arg(result.name.as_str())
            .arg(Time::millis(result.at))
            .arg(result.status.as_str())
            .arg(micros(result.latency))
            .arg(result.observed_value)
            .arg(result.observed_unit.as_deref())
            .arg(result.output.as_deref())
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        if let Some(change) = change {
            insert_status_change(DB::on_conn(&mut tx), change)
                .await
                .map_err(|e| self.fail(e))?;
        }
        self.commit(tx).await
    }

    async fn latest_check_results(&self) -> StoreResult<Vec<CheckResult>> {
        let rows = self
            .query(DB::CHECKS.latest_results)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(latest::<DB>).collect()
    }
}

fn latest<DB: Dialect>(row: &DB::Row) -> StoreResult<CheckResult> {
    Ok(CheckResult {
        name: check_name(&row.col::<String>("name")?)?,
        status: status(&row.col::<String>("status")?)?,
        latency: Duration::from_micros(
            u64::try_from(row.col::<i64>("latency_us")?).map_err(|_| corrupt("check latency"))?,
        ),
        observed_value: row.col("observed_value")?,
        observed_unit: row.col("observed_unit")?,
        output: row.col("output")?,
        at: row.time("at")?,
    })
}
