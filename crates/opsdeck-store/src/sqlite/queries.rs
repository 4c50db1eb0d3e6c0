//! The SQLite SQL behind each store trait. Times are stored as unix milliseconds (UTC),
//! instance ids as hyphenated UUID text.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::instance::{InstanceInfo, InstanceRecord, Lease};
use opsdeck_core::store::{HealthStore, InstanceStore, LeaseStore};
use opsdeck_core::{StoreError, StoreResult};
use sqlx::error::DatabaseError;
use uuid::Uuid;

use super::SqliteStore;
use crate::error::{corrupt, store_error};

type LeaseRow = (String, String, i64, i64);
type InstanceRow = (String, String, String, i64, i64);

impl SqliteStore {
    pub(super) fn fail(&self, error: sqlx::Error) -> StoreError {
        store_error(error, self.url.secrets(), unavailable)
    }
}

/// SQLite result codes (primary code = low byte) meaning the database cannot serve now:
/// BUSY, LOCKED, IOERR, FULL, CANTOPEN.
fn unavailable(error: &dyn DatabaseError) -> bool {
    matches!(super::primary_code(error), Some(5 | 6 | 10 | 13 | 14))
}

#[async_trait]
impl HealthStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>> {
        let expires_at = crate::lease_expiry(now, ttl)?;
        // One statement, so the check and the write cannot interleave with another writer.
        // `excluded.acquired_at` is `now`. A renewal by the holder of an unexpired lease keeps
        // its original acquired_at; a takeover starts afresh.
        let row: Option<LeaseRow> = sqlx::query_as(
            "INSERT INTO leases (name, holder, acquired_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)
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
        .bind(now.timestamp_millis())
        .bind(expires_at.timestamp_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(lease).transpose()
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = ?1 AND holder = ?2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn get_lease(&self, name: &str) -> StoreResult<Option<Lease>> {
        let row: Option<LeaseRow> = sqlx::query_as(
            "SELECT name, holder, acquired_at, expires_at FROM leases WHERE name = ?1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(lease).transpose()
    }
}

#[async_trait]
impl InstanceStore for SqliteStore {
    async fn record_heartbeat(
        &self,
        instance: &InstanceInfo,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO instances (id, hostname, version, started_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET
                 hostname = excluded.hostname,
                 version = excluded.version,
                 started_at = excluded.started_at,
                 last_seen_at = excluded.last_seen_at",
        )
        .bind(instance.id.hyphenated().to_string())
        .bind(&instance.hostname)
        .bind(&instance.version)
        .bind(instance.started_at.timestamp_millis())
        .bind(now.timestamp_millis())
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
        rows.into_iter().map(instance).collect()
    }

    async fn prune_instances(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM instances WHERE last_seen_at < ?1")
            .bind(cutoff.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }
}

fn time(millis: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| corrupt("time"))
}

fn lease((name, holder, acquired_at, expires_at): LeaseRow) -> StoreResult<Lease> {
    Ok(Lease {
        name,
        holder,
        acquired_at: time(acquired_at)?,
        expires_at: time(expires_at)?,
    })
}

fn instance(
    (id, hostname, version, started_at, last_seen_at): InstanceRow,
) -> StoreResult<InstanceRecord> {
    Ok(InstanceRecord {
        info: InstanceInfo {
            id: Uuid::parse_str(&id).map_err(|_| corrupt("instance id"))?,
            hostname,
            version,
            started_at: time(started_at)?,
        },
        last_seen_at: time(last_seen_at)?,
    })
}
