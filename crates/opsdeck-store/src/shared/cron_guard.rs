//! What cron agrees on across replicas ([`CronGuardStore`]): slot claims and the record of
//! opsdeck's own outages. Times are kept to the millisecond on every backend.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::audit::truncate_to_millis;
use opsdeck_core::cron::Outage;
use opsdeck_core::ids::Slug;
use opsdeck_core::store::CronGuardStore;
use uuid::Uuid;

use crate::dialect::{BindExt, Dialect, RowExt};
use crate::sql_store::SqlStore;
use crate::values::{Id, Time};

/// The statements of this module, per backend.
pub(crate) struct GuardQueries {
    /// Claims a slot, or does nothing if it is claimed. Binds slug, slot_at, instance_id,
    /// now.
    pub claim_slot: &'static str,
    /// Binds the cutoff.
    pub prune_slots: &'static str,
    /// `last_alive_at`, read so that no other heartbeat reads it before this one's
    /// transaction ends.
    pub last_alive: &'static str,
    /// Moves `last_alive_at` forward to now, never back. Binds now.
    pub record_alive: &'static str,
    /// Stores an outage, or does nothing if one starting then is stored. Binds from, until.
    pub insert_outage: &'static str,
    /// `from_at, until_at` of the outages that ended after a time, oldest first. Binds it.
    pub outages_since: &'static str,
    /// Binds the cutoff.
    pub prune_outages: &'static str,
}

pub(crate) trait CronGuardSql: Dialect {
    const GUARD: GuardQueries;
}

#[async_trait]
impl<DB: CronGuardSql> CronGuardStore for SqlStore<DB> {
    async fn claim_slot(
        &self,
        slug: &Slug,
        slot_at: DateTime<Utc>,
        instance: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = self
            .query(DB::GUARD.claim_slot)
            .arg(slug.as_str())
            .arg(Time::millis(slot_at))
            .arg(Id(instance))
            .arg(Time::millis(now))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn prune_slots(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::GUARD.prune_slots)
            .arg(Time::millis(cutoff))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }

    async fn record_alive(
        &self,
        now: DateTime<Utc>,
        max_gap: Duration,
    ) -> StoreResult<Option<Outage>> {
        let now = truncate_to_millis(now);
        let mut tx = self.begin_write().await?;
        let last = self
            .query(DB::GUARD.last_alive)
            .fetch_one(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?
            .opt_time("last_alive_at")?;
        self.query(DB::GUARD.record_alive)
            .arg(Time(now))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        let gap = chrono::Duration::from_std(max_gap).unwrap_or(chrono::Duration::MAX);
        let outage = match last {
            Some(from) if now.signed_duration_since(from) > gap => {
                let stored = self
                    .query(DB::GUARD.insert_outage)
                    .arg(Time(from))
                    .arg(Time(now))
                    .execute(DB::on_conn(&mut tx))
                    .await
                    .map_err(|e| self.fail(e))?;
                (DB::rows_affected(&stored) == 1).then_some(Outage { from, until: now })
            }
            _ => None,
        };
        self.commit(tx).await?;
        Ok(outage)
    }

    async fn outages_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<Outage>> {
        let rows = self
            .query(DB::GUARD.outages_since)
            .arg(Time::millis(since))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(Outage {
                    from: row.time("from_at")?,
                    until: row.time("until_at")?,
                })
            })
            .collect()
    }

    async fn prune_outages(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::GUARD.prune_outages)
            .arg(Time::millis(cutoff))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }
}
