//! The PostgreSQL SQL behind [`SessionStore`]. Ids are UUID, times TIMESTAMPTZ; the idle
//! deadline is `last_seen_at + idle_seconds * interval '1 second'`. The hash is never
//! selected.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::auth::AuthMethod;
use opsdeck_core::session::{self, NewSession, SessionHash, SessionRecord};
use opsdeck_core::store::SessionStore;
use opsdeck_core::{StoreError, StoreResult};
use uuid::Uuid;

use super::PgStore;
use crate::error::corrupt;

/// The columns of a [`SessionRecord`], in [`SessionRow`] order.
macro_rules! columns {
    () => {
        "id, principal_id, principal_name, role, method, token_id, csrf, created_at, \
         last_seen_at, idle_seconds, expires_at, ended_at, client_addr, user_agent"
    };
}

/// Live at `$1`.
macro_rules! live {
    () => {
        "ended_at IS NULL AND expires_at > $1 \
         AND last_seen_at + idle_seconds * interval '1 second' > $1"
    };
}

type SessionRow = (
    Uuid,
    String,
    String,
    String,
    String,
    Option<Uuid>,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);

#[async_trait]
impl SessionStore for PgStore {
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
        let row: SessionRow = sqlx::query_as(concat!(
            "INSERT INTO sessions (id, hash, principal_id, principal_name, role, method,
                                   token_id, csrf, created_at, last_seen_at, idle_seconds,
                                   expires_at, client_addr, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13)
             RETURNING ",
            columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(hash.as_hex())
        .bind(&new.principal_id)
        .bind(&new.principal_name)
        .bind(new.role.as_str())
        .bind(new.method.as_str())
        .bind(new.token_id)
        .bind(csrf)
        .bind(now)
        .bind(deadlines.idle_seconds)
        .bind(deadlines.expires_at)
        .bind(new.client_addr.as_deref())
        .bind(new.user_agent.as_deref().map(session::clip_user_agent))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        record(row)
    }

    async fn find_session(&self, hash: &SessionHash) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE hash = $1"
        ))
        .bind(hash.as_hex())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(record).transpose()
    }

    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(concat!(
            "UPDATE sessions SET last_seen_at = $1
             WHERE id = $2 AND last_seen_at < $1 AND ",
            live!()
        ))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn end_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn end_sessions_for_token(&self, token_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $2 WHERE token_id = $1 AND ended_at IS NULL",
        )
        .bind(token_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }

    async fn list_sessions(
        &self,
        principal_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>> {
        // Ids are UUIDv7, so they order sessions opened in the same microsecond.
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE ",
            live!(),
            " AND ($2::text IS NULL OR principal_id = $2) ORDER BY created_at DESC, id DESC"
        ))
        .bind(now)
        .bind(principal_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(record).collect()
    }

    async fn prune_sessions(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions
             WHERE ended_at < $1 OR expires_at < $1
                OR last_seen_at + idle_seconds * interval '1 second' < $1",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }
}

fn record(
    (
        id,
        principal_id,
        principal_name,
        role,
        method,
        token_id,
        csrf,
        created_at,
        last_seen_at,
        idle_seconds,
        expires_at,
        ended_at,
        client_addr,
        user_agent,
    ): SessionRow,
) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id,
        principal_id,
        principal_name,
        role: role.parse().map_err(|_| corrupt("session role"))?,
        method: AuthMethod::parse(&method).ok_or_else(|| corrupt("session method"))?,
        token_id,
        csrf,
        created_at,
        last_seen_at,
        idle_timeout: u64::try_from(idle_seconds)
            .map(std::time::Duration::from_secs)
            .map_err(|_| corrupt("session idle timeout"))?,
        idle_expires_at: session::idle_deadline(last_seen_at, idle_seconds)
            .ok_or_else(|| corrupt("session idle timeout"))?,
        expires_at,
        ended_at,
        client_addr,
        user_agent,
    })
}
