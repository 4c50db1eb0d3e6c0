//! The SQLite SQL behind [`TokenStore`]. Ids are hyphenated UUID text, times unix
//! milliseconds (UTC), scopes comma-separated text; the hash is never selected.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::auth::Role;
use opsdeck_core::store::TokenStore;
use opsdeck_core::token::{Grant, NewToken, Scopes, TokenHash, TokenRecord};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::corrupt;

/// The columns of a [`TokenRecord`], in [`TokenRow`] order.
macro_rules! columns {
    () => {
        "id, kind, name, role, scopes, display, created_by, created_at, expires_at, \
         revoked_at, last_used_at"
    };
}

type TokenRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(
        &self,
        new: &NewToken,
        hash: &TokenHash,
        display: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TokenRecord> {
        let scopes = match &new.grant {
            Grant::Role(_) => None,
            Grant::Scopes(scopes) => Some(scopes.to_string()),
        };
        let row: TokenRow = sqlx::query_as(concat!(
            "INSERT INTO tokens (id, kind, name, role, scopes, display, hash, created_by,
                                 created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             RETURNING ",
            columns!()
        ))
        .bind(Uuid::now_v7().hyphenated().to_string())
        .bind(new.kind().as_str())
        .bind(new.name.as_str())
        .bind(new.grant.role().map(Role::as_str))
        .bind(scopes)
        .bind(display)
        .bind(hash.as_hex())
        .bind(new.created_by.as_deref())
        .bind(now.timestamp_millis())
        .bind(new.expires_at.map(|at| at.timestamp_millis()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        record(row)
    }

    async fn find_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM tokens WHERE hash = ?1"
        ))
        .bind(hash.as_hex())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(record).transpose()
    }

    async fn get_token(&self, id: Uuid) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> =
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM tokens WHERE id = ?1"))
                .bind(id.hyphenated().to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        row.map(record).transpose()
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        // Ids are UUIDv7, so they order tokens created in the same millisecond.
        let rows: Vec<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM tokens ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(record).collect()
    }

    async fn revoke_token(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
                .bind(id.hyphenated().to_string())
                .bind(now.timestamp_millis())
                .execute(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_token_use(&self, uses: &[(Uuid, DateTime<Utc>)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        // The whole batch goes in as one JSON parameter (`[["<uuid>", millis], …]`; neither
        // part needs escaping), so it is one statement: one short hold of the write lock.
        let batch: Vec<String> = uses
            .iter()
            .map(|(id, at)| format!("[\"{}\",{}]", id.hyphenated(), at.timestamp_millis()))
            .collect();
        let batch = format!("[{}]", batch.join(","));
        sqlx::query(
            "UPDATE tokens SET last_used_at = used.at
             FROM (SELECT json_extract(value, '$[0]') AS id,
                          max(json_extract(value, '$[1]')) AS at
                   FROM json_each(?1) GROUP BY 1) AS used
             WHERE tokens.id = used.id
               AND (tokens.last_used_at IS NULL OR tokens.last_used_at < used.at)",
        )
        .bind(batch)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn count_active_admin_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM tokens
             WHERE kind = 'personal' AND role = 'admin' AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > ?1)",
        )
        .bind(now.timestamp_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        u64::try_from(count).map_err(|_| corrupt("token count"))
    }
}

fn time(millis: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| corrupt("token time"))
}

fn record(
    (
        id,
        kind,
        name,
        role,
        scopes,
        display,
        created_by,
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
    ): TokenRow,
) -> StoreResult<TokenRecord> {
    Ok(TokenRecord {
        id: Uuid::parse_str(&id).map_err(|_| corrupt("token id"))?,
        kind: kind.parse().map_err(|_| corrupt("token kind"))?,
        name,
        role: role
            .map(|role| role.parse())
            .transpose()
            .map_err(|_| corrupt("token role"))?,
        scopes: match scopes {
            Some(text) => Scopes::parse(&text)
                .map_err(|_| corrupt("token scopes"))?
                .as_slice()
                .to_vec(),
            None => Vec::new(),
        },
        display,
        created_by,
        created_at: time(created_at)?,
        expires_at: expires_at.map(time).transpose()?,
        revoked_at: revoked_at.map(time).transpose()?,
        last_used_at: last_used_at.map(time).transpose()?,
    })
}
