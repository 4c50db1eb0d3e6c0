//! The SQLite SQL behind [`CronGuardStore`]: slot claims and the outage record. SQLite
//! has one writer at a time, so a claim is a plain `INSERT … ON CONFLICT DO NOTHING` and
//! the liveness check a read and a write under `BEGIN IMMEDIATE`: no second writer can
//! come between them.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::cron::Outage;
use opsdeck_core::ids::Slug;
use opsdeck_core::store::CronGuardStore;
use uuid::Uuid;

use super::SqliteStore;
use super::cron::time;

#[async_trait]
impl CronGuardStore for SqliteStore {
    async fn claim_slot(
        &self,
        slug: &Slug,
        slot_at: DateTime<Utc>,
        instance: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO cron_slots (slug, slot_at, instance_id, claimed_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (slug, slot_at) DO NOTHING",
        )
        .bind(slug.as_str())
        .bind(slot_at.timestamp_millis())
        .bind(instance.to_string())
        .bind(now.timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune_slots(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM cron_slots WHERE slot_at < ?1")
            .bind(cutoff.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }

    async fn record_alive(
        &self,
        now: DateTime<Utc>,
        max_gap: Duration,
    ) -> StoreResult<Option<Outage>> {
        let now_ms = now.timestamp_millis();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.fail(e))?;
        let last: Option<i64> =
            sqlx::query_scalar("SELECT last_alive_at FROM liveness WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        sqlx::query(
            "UPDATE liveness SET last_alive_at = max(coalesce(last_alive_at, ?1), ?1) WHERE id = 1",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        let gap = i64::try_from(max_gap.as_millis()).unwrap_or(i64::MAX);
        let outage = match last {
            Some(from) if now_ms.saturating_sub(from) > gap => {
                let stored = sqlx::query(
                    "INSERT INTO outages (from_at, until_at) VALUES (?1, ?2)
                     ON CONFLICT (from_at) DO NOTHING",
                )
                .bind(from)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
                match stored.rows_affected() {
                    1 => Some(Outage {
                        from: time(from)?,
                        until: time(now_ms)?,
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(outage)
    }

    async fn outages_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<Outage>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT from_at, until_at FROM outages WHERE until_at > ?1 ORDER BY from_at",
        )
        .bind(since.timestamp_millis())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter()
            .map(|(from, until)| {
                Ok(Outage {
                    from: time(from)?,
                    until: time(until)?,
                })
            })
            .collect()
    }

    async fn prune_outages(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM outages WHERE until_at < ?1")
            .bind(cutoff.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }
}
