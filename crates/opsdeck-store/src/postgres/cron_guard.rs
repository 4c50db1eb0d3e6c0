//! The PostgreSQL SQL behind [`CronGuardStore`]: slot claims and the outage record.
//! A claim is `INSERT … ON CONFLICT DO NOTHING` on the slot's key: of concurrent
//! inserters, one inserts and the others wait for it to commit, then insert nothing. The
//! liveness check reads the one liveness row `FOR UPDATE`, so heartbeats of several
//! replicas take turns and only one of them sees a gap.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::cron::Outage;
use opsdeck_core::ids::Slug;
use opsdeck_core::store::CronGuardStore;
use uuid::Uuid;

use super::PgStore;

#[async_trait]
impl CronGuardStore for PgStore {
    async fn claim_slot(
        &self,
        slug: &Slug,
        slot_at: DateTime<Utc>,
        instance: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO cron_slots (slug, slot_at, instance_id, claimed_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (slug, slot_at) DO NOTHING",
        )
        .bind(slug.as_str())
        .bind(slot_at.trunc_subsecs(3))
        .bind(instance)
        .bind(now.trunc_subsecs(3))
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune_slots(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM cron_slots WHERE slot_at < $1")
            .bind(cutoff.trunc_subsecs(3))
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
        let now = now.trunc_subsecs(3);
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let last: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT last_alive_at FROM liveness WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        sqlx::query("UPDATE liveness SET last_alive_at = greatest(last_alive_at, $1) WHERE id = 1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let gap = chrono::Duration::from_std(max_gap).unwrap_or(chrono::Duration::MAX);
        let outage = match last {
            Some(from) if now.signed_duration_since(from) > gap => {
                let stored = sqlx::query(
                    "INSERT INTO outages (from_at, until_at) VALUES ($1, $2)
                     ON CONFLICT (from_at) DO NOTHING",
                )
                .bind(from)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
                (stored.rows_affected() == 1).then_some(Outage { from, until: now })
            }
            _ => None,
        };
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(outage)
    }

    async fn outages_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<Outage>> {
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT from_at, until_at FROM outages WHERE until_at > $1 ORDER BY from_at",
        )
        .bind(since.trunc_subsecs(3))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(rows
            .into_iter()
            .map(|(from, until)| Outage { from, until })
            .collect())
    }

    async fn prune_outages(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM outages WHERE until_at < $1")
            .bind(cutoff.trunc_subsecs(3))
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }
}
