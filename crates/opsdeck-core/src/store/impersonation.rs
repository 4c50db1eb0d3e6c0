//! Impersonations and the keys that sign their tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::ids::TenantId;
use crate::impersonation::{
    Impersonation, PublishedKey, Revocation, RevocationQuery, Revoked, StoredKey,
};

/// Impersonations (see [`crate::impersonation`]) and their signing keys. Times are kept to
/// the millisecond on every backend.
#[async_trait]
pub trait ImpersonationStore {
    /// Adds `key` unless a key created after `unless_since` exists, atomically:
    /// replicas rotating at once add one key between them. Returns whether it was added.
    async fn add_signing_key(
        &self,
        key: &StoredKey,
        unless_since: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The key that signs at `now`: the newest one active by then.
    async fn signing_key(&self, now: DateTime<Utc>) -> StoreResult<Option<StoredKey>>;

    /// The newest key's creation time, if there is a key.
    async fn newest_signing_key_at(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// The public keys still published: all but those whose successor (a newer key) became
    /// active before `retired_before`. Oldest first.
    async fn published_keys(&self, retired_before: DateTime<Utc>)
    -> StoreResult<Vec<PublishedKey>>;

    /// Deletes the keys [`ImpersonationStore::published_keys`] no longer lists; returns how
    /// many.
    async fn prune_signing_keys(&self, retired_before: DateTime<Utc>) -> StoreResult<u64>;

    /// Records an impersonation just issued. A jti already stored is a
    /// [`StoreError::Conflict`](super::StoreError::Conflict).
    async fn record_impersonation(&self, impersonation: &Impersonation) -> StoreResult<()>;

    /// The tenant's impersonations neither revoked nor expired at `now`, newest first.
    async fn list_active_impersonations(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Impersonation>>;

    /// Revokes the tenant's impersonation `jti` at `now`, by `by` (a principal id), unless
    /// it was revoked before. Concurrent revocations agree on one [`Revoked::Now`].
    async fn revoke_impersonation(
        &self,
        tenant: &TenantId,
        jti: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Revoked>;

    /// Revoked impersonations, oldest revocation first (then by jti).
    async fn revoked_impersonations(&self, query: &RevocationQuery)
    -> StoreResult<Vec<Revocation>>;
}
