//! Dashboard sessions ([`SessionStore`]). The hash is never selected.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::auth::AuthMethod;
use opsdeck_core::session::{self, NewSession, SessionHash, SessionRecord};
use opsdeck_core::store::SessionStore;
use opsdeck_core::{StoreError, StoreResult};
use uuid::Uuid;

use crate::dialect::{BindExt, Dialect, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::{Id, Time};

/// The statements of this module, per backend. "The record" is the columns `id,
/// principal_id, principal_name, role, method, token_id, csrf, created_at, last_seen_at,
/// idle_seconds, expires_at, ended_at, client_addr, user_agent`; a session is live at `now`
/// when it has not ended and neither its absolute nor its idle deadline
/// (`last_seen_at + idle_seconds`) has come.
pub(crate) struct SessionQueries {
    /// Binds id, hash, principal_id, principal_name, role, method, token_id, csrf, now (the
    /// creation and the last sight), idle_seconds, expires_at, client_addr, user_agent;
    /// returns the record.
    pub create: &'static str,
    /// Binds the hash; returns the record.
    pub find_by_hash: &'static str,
    /// Moves `last_seen_at` forward to now, if the session is live then. Binds now, id.
    pub touch: &'static str,
    /// Ends a session not ended yet. Binds id, now.
    pub end: &'static str,
    /// Ends every session of a token not ended yet. Binds token_id, now.
    pub end_for_token: &'static str,
    /// The records of sessions live at now, of one principal or (NULL) all, newest first
    /// (created_at, then id, descending: ids are UUIDv7). Binds now, principal_id.
    pub list: &'static str,
    /// Deletes sessions that ended, or reached either deadline, before the cutoff. Binds it.
    pub prune: &'static str,
}

pub(crate) trait SessionSql: Dialect {
    const SESSIONS: SessionQueries;
}

#[async_trait]
impl<DB: SessionSql> SessionStore for SqlStore<DB> {
    async fn create_session(
        &self,
        new: &NewSession,
        hash: &SessionHash,
        csrf: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<SessionRecord> {
        let deadlines = new
            .deadlines(now)
            .ok_or_else(|| StoreError::Other("session timeouts are out of range".into()))?;
        let row = self
            .query(DB::SESSIONS.create)
            .arg(Id(Uuid::now_v7()))
            .arg(hash.as_hex())
            .arg(new.principal_id.as_str())
            .arg(new.principal_name.as_str())
            .arg(new.role.as_str())
            .arg(new.method.as_str())
            .arg(new.token_id.map(Id))
            .arg(csrf)
            .arg(Time(now))
            .arg(deadlines.idle_seconds)
            .arg(Time(deadlines.expires_at))
            .arg(new.client_addr.as_deref())
            .arg(new.user_agent.as_deref().map(session::clip_user_agent))
            .fetch_one(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        record::<DB>(&row)
    }

    async fn find_session(&self, hash: &SessionHash) -> StoreResult<Option<SessionRecord>> {
        let row = self
            .query(DB::SESSIONS.find_by_hash)
            .arg(hash.as_hex())
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(record::<DB>).transpose()
    }

    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        self.query(DB::SESSIONS.touch)
            .arg(Time(now))
            .arg(Id(id))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn end_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = self
            .query(DB::SESSIONS.end)
            .arg(Id(id))
            .arg(Time(now))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn end_sessions_for_token(&self, token_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::SESSIONS.end_for_token)
            .arg(Id(token_id))
            .arg(Time(now))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }

    async fn list_sessions(
        &self,
        principal_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>> {
        let rows = self
            .query(DB::SESSIONS.list)
            .arg(Time(now))
            .arg(principal_id)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(record::<DB>).collect()
    }

    async fn prune_sessions(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(DB::SESSIONS.prune)
            .arg(Time(cutoff))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }
}

fn record<DB: Dialect>(row: &DB::Row) -> StoreResult<SessionRecord> {
    let last_seen_at = row.time("last_seen_at")?;
    let idle_seconds: i64 = row.col("idle_seconds")?;
    Ok(SessionRecord {
        id: row.id("id")?,
        principal_id: row.col("principal_id")?,
        principal_name: row.col("principal_name")?,
        role: row
            .col::<String>("role")?
            .parse()
            .map_err(|_| corrupt("session role"))?,
        method: AuthMethod::parse(&row.col::<String>("method")?)
            .ok_or_else(|| corrupt("session method"))?,
        token_id: row.opt_id("token_id")?,
        csrf: row.col("csrf")?,
        created_at: row.time("created_at")?,
        last_seen_at,
        idle_timeout: u64::try_from(idle_seconds)
            .map(std::time::Duration::from_secs)
            .map_err(|_| corrupt("session idle timeout"))?,
        idle_expires_at: session::idle_deadline(last_seen_at, idle_seconds)
            .ok_or_else(|| corrupt("session idle timeout"))?,
        expires_at: row.time("expires_at")?,
        ended_at: row.opt_time("ended_at")?,
        client_addr: row.col("client_addr")?,
        user_agent: row.col("user_agent")?,
    })
}
