//! Personal tokens and ingest keys ([`TokenStore`]). Scopes are stored as comma-separated
//! text; the hash is never selected.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::auth::Role;
use opsdeck_core::store::TokenStore;
use opsdeck_core::token::{Grant, NewToken, Scopes, TokenHash, TokenRecord};
use uuid::Uuid;

use crate::dialect::{BindExt, Dialect, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::{Id, Time};

/// The statements of this module, per backend. "The record" is the columns `id, kind, name,
/// role, scopes, display, created_by, created_at, expires_at, revoked_at, last_used_at`.
pub(crate) struct TokenQueries {
    /// Binds id, kind, name, role, scopes, display, hash, created_by, created_at,
    /// expires_at; returns the record.
    pub create: &'static str,
    /// Binds the hash; returns the record.
    pub find_by_hash: &'static str,
    /// Binds the id; returns the record.
    pub get: &'static str,
    /// Every record, newest first (created_at, then id, descending: ids are UUIDv7, so they
    /// order tokens created in the same instant).
    pub list: &'static str,
    /// Revokes a token not revoked yet. Binds id, now.
    pub revoke: &'static str,
    /// Counts active personal tokens with role admin as `count`. Binds now.
    pub count_active_admins: &'static str,
}

/// What a backend gives the token store.
pub(crate) trait TokenSql: Dialect {
    const TOKENS: TokenQueries;

    /// [`TokenStore::record_token_use`] for a non-empty batch: one statement for the whole
    /// batch, passed the way the backend takes a list.
    fn record_token_uses(
        store: &SqlStore<Self>,
        uses: &[(Uuid, DateTime<Utc>)],
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

#[async_trait]
impl<DB: TokenSql> TokenStore for SqlStore<DB> {
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
        let row = self
            .query(DB::TOKENS.create)
            .arg(Id(Uuid::now_v7()))
            .arg(new.kind().as_str())
            .arg(new.name.as_str())
            .arg(new.grant.role().map(Role::as_str))
            .arg(scopes)
            .arg(display)
            .arg(hash.as_hex())
            .arg(new.created_by.as_deref())
            .arg(Time(now))
            .arg(new.expires_at.map(Time))
            .fetch_one(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        record::<DB>(&row)
    }

    async fn find_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<TokenRecord>> {
        let row = self
            .query(DB::TOKENS.find_by_hash)
            .arg(hash.as_hex())
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(record::<DB>).transpose()
    }

    async fn get_token(&self, id: Uuid) -> StoreResult<Option<TokenRecord>> {
        let row = self
            .query(DB::TOKENS.get)
            .arg(Id(id))
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(record::<DB>).transpose()
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        let rows = self
            .query(DB::TOKENS.list)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(record::<DB>).collect()
    }

    async fn revoke_token(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = self
            .query(DB::TOKENS.revoke)
            .arg(Id(id))
            .arg(Time(now))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn record_token_use(&self, uses: &[(Uuid, DateTime<Utc>)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        DB::record_token_uses(self, uses).await
    }

    async fn count_active_admin_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let row = self
            .query(DB::TOKENS.count_active_admins)
            .arg(Time(now))
            .fetch_one(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        u64::try_from(row.col::<i64>("count")?).map_err(|_| corrupt("token count"))
    }
}

fn record<DB: Dialect>(row: &DB::Row) -> StoreResult<TokenRecord> {
    let role: Option<String> = row.col("role")?;
    let scopes: Option<String> = row.col("scopes")?;
    Ok(TokenRecord {
        id: row.id("id")?,
        kind: row
            .col::<String>("kind")?
            .parse()
            .map_err(|_| corrupt("token kind"))?,
        name: row.col("name")?,
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
        display: row.col("display")?,
        created_by: row.col("created_by")?,
        created_at: row.time("created_at")?,
        expires_at: row.opt_time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}
