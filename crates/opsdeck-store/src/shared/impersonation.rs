//! Impersonations and their signing keys ([`ImpersonationStore`]). Times are kept to the
//! millisecond on every backend. Adding a key takes the backend's write lock on the key
//! table first (SQLite's `BEGIN IMMEDIATE`; PostgreSQL's table lock, [`KeyQueries::lock`]),
//! so the "unless a recent key exists" check and the insert are one atomic step.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::ids::TenantId;
use opsdeck_core::impersonation::{
    Impersonation, PublishedKey, Revocation, RevocationQuery, Revoked, StoredKey, UserId,
};
use opsdeck_core::store::ImpersonationStore;
use uuid::Uuid;

use crate::dialect::{BindExt, Dialect, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::{Id, Time};

/// The statements of this module, per backend. "The key" is the columns `kid, public_key,
/// private_key, created_at, active_from`; "the impersonation" is `jti, tenant_id, user_id,
/// operator_id, operator_name, reason, kid, issued_at, expires_at, revoked_at, revoked_by`.
pub(crate) struct ImpersonationQueries {
    /// Run first in the transaction that adds a key, to keep concurrent adders out until it
    /// commits; `None` where the writing transaction already does.
    pub lock: Option<&'static str>,
    /// Whether a key was created after a time, as `found`. Binds it.
    pub recent_key: &'static str,
    /// Binds kid, public_key, private_key, created_at, active_from.
    pub add_key: &'static str,
    /// The newest key active at a time. Binds it; returns the key.
    pub signing_key: &'static str,
    /// `created_at` of the newest key.
    pub newest_key: &'static str,
    /// `kid, public_key, created_at, active_from` of keys with no newer key active before
    /// a time, oldest first. Binds it.
    pub published: &'static str,
    /// Deletes the keys `published` leaves out. Binds the same time.
    pub prune: &'static str,
    /// Binds the impersonation's columns in order, both revocation columns NULL.
    pub record: &'static str,
    /// The tenant's impersonations unrevoked and expiring after a time, newest first.
    /// Binds tenant, time; returns the impersonation.
    pub active: &'static str,
    /// Revokes one not revoked yet. Binds tenant, jti, now, by; returns the impersonation.
    pub revoke: &'static str,
    /// Binds tenant, jti; returns the impersonation.
    pub get: &'static str,
    /// `jti, tenant_id, revoked_at, expires_at` of revocations, by (revoked_at, jti).
    /// Binds expiring_after, since (or NULL), after (or NULL), limit.
    pub revoked: &'static str,
}

/// What a backend gives the impersonation store.
pub(crate) trait ImpersonationSql: Dialect {
    const IMPERSONATION: ImpersonationQueries;
}

#[async_trait]
impl<DB: ImpersonationSql> ImpersonationStore for SqlStore<DB> {
    async fn add_signing_key(
        &self,
        key: &StoredKey,
        unless_since: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let queries = &DB::IMPERSONATION;
        let mut tx = self.begin_write().await?;
        if let Some(lock) = queries.lock {
            self.query(lock)
                .execute(DB::on_conn(&mut tx))
                .await
                .map_err(|e| self.fail(e))?;
        }
        let recent = self
            .query(queries.recent_key)
            .arg(Time::millis(unless_since))
            .fetch_one(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?
            .col::<bool>("found")?;
        if recent {
            // Dropping the transaction rolls it back.
            return Ok(false);
        }
        self.query(queries.add_key)
            .arg(key.kid.as_str())
            .arg(key.public_key.as_str())
            .arg(key.private_key.as_str())
            .arg(Time::millis(key.created_at))
            .arg(Time::millis(key.active_from))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        self.commit(tx).await?;
        Ok(true)
    }

    async fn signing_key(&self, now: DateTime<Utc>) -> StoreResult<Option<StoredKey>> {
        let row = self
            .query(DB::IMPERSONATION.signing_key)
            .arg(Time::millis(now))
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|row| {
            Ok(StoredKey {
                kid: row.col("kid")?,
                public_key: row.col("public_key")?,
                private_key: row.col("private_key")?,
                created_at: row.time("created_at")?,
                active_from: row.time("active_from")?,
            })
        })
        .transpose()
    }

    async fn newest_signing_key_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let row = self
            .query(DB::IMPERSONATION.newest_key)
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|row| row.time("created_at")).transpose()
    }

    async fn published_keys(
        &self,
        retired_before: DateTime<Utc>,
    ) -> StoreResult<Vec<PublishedKey>> {
        let rows = self
            .query(DB::IMPERSONATION.published)
            .arg(Time::millis(retired_before))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(PublishedKey {
                    kid: row.col("kid")?,
                    public_key: row.col("public_key")?,
                    created_at: row.time("created_at")?,
                    active_from: row.time("active_from")?,
                })
            })
            .collect()
    }

    async fn prune_signing_keys(&self, retired_before: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::IMPERSONATION.prune)
            .arg(Time::millis(retired_before))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }

    async fn record_impersonation(&self, i: &Impersonation) -> StoreResult<()> {
        self.query(DB::IMPERSONATION.record)
            .arg(Id(i.jti))
            .arg(i.tenant.as_str())
            .arg(i.user_id.as_str())
            .arg(i.operator_id.as_str())
            .arg(i.operator_name.as_str())
            .arg(i.reason.as_str())
            .arg(i.kid.as_str())
            .arg(Time::millis(i.issued_at))
            .arg(Time::millis(i.expires_at))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn list_active_impersonations(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Impersonation>> {
        let rows = self
            .query(DB::IMPERSONATION.active)
            .arg(tenant.as_str())
            .arg(Time::millis(now))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(impersonation::<DB>).collect()
    }

    async fn revoke_impersonation(
        &self,
        tenant: &TenantId,
        jti: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Revoked> {
        let revoked = self
            .query(DB::IMPERSONATION.revoke)
            .arg(tenant.as_str())
            .arg(Id(jti))
            .arg(Time::millis(now))
            .arg(by)
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        if let Some(row) = revoked {
            return Ok(Revoked::Now(impersonation::<DB>(&row)?));
        }
        let found = self
            .query(DB::IMPERSONATION.get)
            .arg(tenant.as_str())
            .arg(Id(jti))
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(match found {
            Some(row) => Revoked::Already(impersonation::<DB>(&row)?),
            None => Revoked::Unknown,
        })
    }

    async fn revoked_impersonations(
        &self,
        query: &RevocationQuery,
    ) -> StoreResult<Vec<Revocation>> {
        let rows = self
            .query(DB::IMPERSONATION.revoked)
            .arg(Time::millis(query.expiring_after))
            .arg(query.since.map(Time::millis))
            .arg(query.after.map(Id))
            .arg(i64::from(query.limit))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(Revocation {
                    jti: row.id("jti")?,
                    tenant: tenant(row.col("tenant_id")?)?,
                    revoked_at: row.time("revoked_at")?,
                    expires_at: row.time("expires_at")?,
                })
            })
            .collect()
    }
}

fn tenant(text: String) -> StoreResult<TenantId> {
    TenantId::parse(&text).map_err(|_| corrupt("impersonation tenant"))
}

fn impersonation<DB: Dialect>(row: &DB::Row) -> StoreResult<Impersonation> {
    Ok(Impersonation {
        jti: row.id("jti")?,
        tenant: tenant(row.col("tenant_id")?)?,
        user_id: UserId::parse(&row.col::<String>("user_id")?)
            .map_err(|_| corrupt("impersonated user id"))?,
        operator_id: row.col("operator_id")?,
        operator_name: row.col("operator_name")?,
        reason: row.col("reason")?,
        kid: row.col("kid")?,
        issued_at: row.time("issued_at")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        revoked_by: row.col("revoked_by")?,
    })
}
