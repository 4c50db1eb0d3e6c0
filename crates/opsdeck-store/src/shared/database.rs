//! The database's own liveness, leader leases and replica heartbeats ([`HealthStore`],
//! [`LeaseStore`], [`InstanceStore`]).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::instance::{InstanceInfo, InstanceRecord, Lease};
use opsdeck_core::store::{Availability, HealthStore, InstanceStore, LeaseStore};

use crate::dialect::{BindExt, Dialect, RowExt};
use crate::sql_store::SqlStore;
use crate::values::{Id, Time};

/// The statements of this module, per backend.
pub(crate) struct DatabaseQueries {
    /// One round trip.
    pub ping: &'static str,
    /// Takes the lease if free or expired, or renews it for its holder, in one statement so
    /// the check and the write cannot interleave with another writer. Binds name, holder,
    /// now, expires_at; returns the lease (`name, holder, acquired_at, expires_at`) when the
    /// holder holds it afterwards.
    pub acquire_lease: &'static str,
    /// Binds name, holder.
    pub release_lease: &'static str,
    /// Binds name; returns the lease.
    pub get_lease: &'static str,
    /// Inserts or refreshes an instance. Binds id, hostname, version, started_at, now.
    pub record_heartbeat: &'static str,
    /// Returns `id, hostname, version, started_at, last_seen_at`, most recently seen first.
    pub list_instances: &'static str,
    /// Binds the cutoff.
    pub prune_instances: &'static str,
}

pub(crate) trait DatabaseSql: Dialect {
    const DATABASE: DatabaseQueries;
}

#[async_trait]
impl<DB: DatabaseSql> HealthStore for SqlStore<DB> {
    async fn ping(&self) -> StoreResult<()> {
        let answer = self
            .query(DB::DATABASE.ping)
            .execute(DB::on_pool(self.pool_unguarded()))
            .await;
        let now = Utc::now();
        match answer {
            Ok(_) => {
                if let Some(outage) = self.availability().answered(now) {
                    let seconds = (outage.at - outage.down_since).num_milliseconds() as f64 / 1e3;
                    tracing::warn!(
                        down_since = %outage.down_since,
                        seconds,
                        "opsdeck's database answers again"
                    );
                }
                Ok(())
            }
            Err(e) => {
                let error = self.fail(e);
                // Whatever the backend: a database that cannot answer a ping cannot serve.
                self.availability().tripped(now);
                Err(error)
            }
        }
    }

    fn availability(&self) -> &Availability {
        SqlStore::availability(self)
    }
}

#[async_trait]
impl<DB: DatabaseSql> LeaseStore for SqlStore<DB> {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>> {
        let expires_at = crate::lease_expiry(now, ttl)?;
        let row = self
            .query(DB::DATABASE.acquire_lease)
            .arg(name)
            .arg(holder)
            .arg(Time(now))
            .arg(Time(expires_at))
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(lease::<DB>).transpose()
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.query(DB::DATABASE.release_lease)
            .arg(name)
            .arg(holder)
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn get_lease(&self, name: &str) -> StoreResult<Option<Lease>> {
        let row = self
            .query(DB::DATABASE.get_lease)
            .arg(name)
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(lease::<DB>).transpose()
    }
}

#[async_trait]
impl<DB: DatabaseSql> InstanceStore for SqlStore<DB> {
    async fn record_heartbeat(
        &self,
        instance: &InstanceInfo,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.query(DB::DATABASE.record_heartbeat)
            .arg(Id(instance.id))
            .arg(instance.hostname.as_str())
            .arg(instance.version.as_str())
            .arg(Time(instance.started_at))
            .arg(Time(now))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn list_instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        let rows = self
            .query(DB::DATABASE.list_instances)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(instance::<DB>).collect()
    }

    async fn prune_instances(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::DATABASE.prune_instances)
            .arg(Time(cutoff))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }
}

fn lease<DB: Dialect>(row: &DB::Row) -> StoreResult<Lease> {
    Ok(Lease {
        name: row.col("name")?,
        holder: row.col("holder")?,
        acquired_at: row.time("acquired_at")?,
        expires_at: row.time("expires_at")?,
    })
}

fn instance<DB: Dialect>(row: &DB::Row) -> StoreResult<InstanceRecord> {
    Ok(InstanceRecord {
        info: InstanceInfo {
            id: row.id("id")?,
            hostname: row.col("hostname")?,
            version: row.col("version")?,
            started_at: row.time("started_at")?,
        },
        last_seen_at: row.time("last_seen_at")?,
    })
}
