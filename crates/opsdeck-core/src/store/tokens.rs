//! Personal tokens and ingest keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::token::{NewToken, TokenHash, TokenRecord};

/// Personal tokens and ingest keys (see [`crate::token`]), stored by the hash of their secret.
#[async_trait]
pub trait TokenStore {
    /// Stores a new token with a fresh id. A `hash` already stored is a
    /// [`StoreError::Conflict`].
    async fn create_token(
        &self,
        new: &NewToken,
        hash: &TokenHash,
        display: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TokenRecord>;

    /// The token with this hash, revoked and expired ones included: the caller decides with
    /// [`TokenRecord::is_active`], so it can tell "revoked" from "unknown".
    async fn find_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<TokenRecord>>;

    async fn get_token(&self, id: Uuid) -> StoreResult<Option<TokenRecord>>;

    /// Every token and key, newest first.
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>>;

    /// Marks the token revoked at `now`; `false` if it is unknown or already revoked.
    async fn revoke_token(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Batched last-use stamps (the server collects them in memory and flushes periodically,
    /// so a request never writes). Only moves `last_used_at` forward; unknown ids are ignored.
    async fn record_token_use(&self, uses: &[(Uuid, DateTime<Utc>)]) -> StoreResult<()>;

    /// Active personal tokens with role admin at `now` (for the first-start bootstrap).
    async fn count_active_admin_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}
