//! The PostgreSQL SQL behind each store trait. Times are TIMESTAMPTZ, instance ids UUID.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::instance::{InstanceInfo, InstanceRecord, Lease};
use opsdeck_core::store::{HealthStore, InstanceStore, LeaseStore};
use opsdeck_core::{StoreError, StoreResult};
use sqlx::error::DatabaseError;
use uuid::Uuid;

use super::PgStore;
use crate::error::store_error;

type LeaseRow = (String, String, DateTime<Utc>, DateTime<Utc>);
type InstanceRow = (Uuid, String, String, DateTime<Utc>, DateTime<Utc>);

impl PgStore {
    pub(super) fn fail(&self, error: sqlx::Error) -> StoreError {
        store_error(error, self.url.secrets(), unavailable)
    }
}

/// SQLSTATEs meaning the server cannot serve now: class 08 (connection exception), class 53
/// (insufficient resources: too many connections, disk full), 57P01–57P03 (shutting down,
/// crashed, starting up).
fn unavailable(error: &dyn DatabaseError) -> bool {
    error.code().is_some_and(|code| {
        code.starts_with("08")
            || code.starts_with("53")
            || matches!(&*code, "57P01" | "57P02" | "57P03")
    })
}

#[async_trait]
impl HealthStore for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>> {
        let expires_at = crate::lease_expiry(now, ttl)?;
        // One statement: on conflict PostgreSQL locks the existing row and evaluates the WHERE
        // against its latest version, so concurrent callers cannot both win.
        // `excluded.acquired_at` is `now`. A renewal by the holder of an unexpired lease keeps
        // its original acquired_at; a takeover starts afresh.
        let row: Option<LeaseRow> = sqlx::query_as(
            "INSERT INTO leases (name, holder, acquired_at, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET
                 holder = excluded.holder,
                 acquired_at = CASE
                     WHEN leases.holder = excluded.holder
                          AND leases.expires_at > excluded.acquired_at
                     THEN leases.acquired_at
                     ELSE excluded.acquired_at
                 END,
                 expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder
                OR leases.expires_at <= excluded.acquired_at
             RETURNING name, holder, acquired_at, expires_at",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(expires_at)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(row.map(lease))
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn get_lease(&self, name: &str) -> StoreResult<Option<Lease>> {
        let row: Option<LeaseRow> = sqlx::query_as(
            "SELECT name, holder, acquired_at, expires_at FROM leases WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(row.map(lease))
    }
}

#[async_trait]
impl InstanceStore for PgStore {
    async fn record_heartbeat(
        &self,
        instance: &InstanceInfo,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO instances (id, hostname, version, started_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET
                 hostname = excluded.hostname,
                 version = excluded.version,
                 started_at = excluded.started_at,
                 last_seen_at = excluded.last_seen_at",
        )
        .bind(instance.id)
        .bind(&instance.hostname)
        .bind(&instance.version)
        .bind(instance.started_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn list_instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        let rows: Vec<InstanceRow> = sqlx::query_as(
            "SELECT id, hostname, version, started_at, last_seen_at FROM instances
             ORDER BY last_seen_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(rows.into_iter().map(instance).collect())
    }

    async fn prune_instances(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM instances WHERE last_seen_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }
}

fn lease((name, holder, acquired_at, expires_at): LeaseRow) -> Lease {
    Lease {
        name,
        holder,
        acquired_at,
        expires_at,
    }
}

fn instance((id, hostname, version, started_at, last_seen_at): InstanceRow) -> InstanceRecord {
    InstanceRecord {
        info: InstanceInfo {
            id,
            hostname,
            version,
            started_at,
        },
        last_seen_at,
    }
}
