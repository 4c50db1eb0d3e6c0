//! The PostgreSQL SQL behind [`TokenStore`]. Ids are UUID, times TIMESTAMPTZ, scopes
//! comma-separated text; the hash is never selected.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::auth::Role;
use opsdeck_core::store::TokenStore;
use opsdeck_core::token::{Grant, NewToken, Scopes, TokenHash, TokenRecord};
use uuid::Uuid;

use super::PgStore;
use crate::error::corrupt;

/// The columns of a [`TokenRecord`], in [`TokenRow`] order.
macro_rules! columns {
    () => {
        "id, kind, name, role, scopes, display, created_by, created_at, expires_at, \
         revoked_at, last_used_at"
    };
}

type TokenRow = (
    Uuid,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

#[async_trait]
impl TokenStore for PgStore {
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING ",
            columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(new.kind().as_str())
        .bind(new.name.as_str())
        .bind(new.grant.role().map(Role::as_str))
        .bind(scopes)
        .bind(display)
        .bind(hash.as_hex())
        .bind(new.created_by.as_deref())
        .bind(now)
        .bind(new.expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        record(row)
    }

    async fn find_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM tokens WHERE hash = $1"
        ))
        .bind(hash.as_hex())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(record).transpose()
    }

    async fn get_token(&self, id: Uuid) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> =
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM tokens WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        row.map(record).transpose()
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        // Ids are UUIDv7, so they order tokens created in the same microsecond.
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
        // The row lock makes concurrent revocations of one token agree on a single winner.
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_token_use(&self, uses: &[(Uuid, DateTime<Utc>)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let (ids, times): (Vec<Uuid>, Vec<DateTime<Utc>>) = uses.iter().copied().unzip();
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        // Lock the rows in id order first: two replicas flushing overlapping batches then
        // queue behind each other instead of deadlocking on locks taken in join order.
        sqlx::query("SELECT 1 FROM tokens WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        sqlx::query(
            "UPDATE tokens SET last_used_at = used.at
             FROM (SELECT id, max(at) AS at
                   FROM unnest($1::uuid[], $2::timestamptz[]) AS batch (id, at)
                   GROUP BY id) AS used
             WHERE tokens.id = used.id
               AND (tokens.last_used_at IS NULL OR tokens.last_used_at < used.at)",
        )
        .bind(&ids)
        .bind(&times)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))
    }

    async fn count_active_admin_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM tokens
             WHERE kind = 'personal' AND role = 'admin' AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > $1)",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        u64::try_from(count).map_err(|_| corrupt("token count"))
    }
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
        id,
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
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
    })
}
