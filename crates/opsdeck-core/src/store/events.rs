//! Application events (SPEC §6): ingesting batches with their rollups in one transaction,
//! and the reads of the tenant page, each served by an index or a rollup, never a scan of
//! the raw events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::events::{
    AuditHighlight, ErrorGroup, Event, EventCutoffs, EventsPruned, IngestOutcome, LoginBurst,
    SeenTenant, UsageTotal,
};
use crate::ids::TenantId;

#[async_trait]
pub trait EventStore {
    /// Stores a batch of valid, redacted events received at `received_at`, in one
    /// transaction, and answers each event's outcome in order: `Stored`, or `Duplicate`
    /// when its `(tenant_id, id)` is stored already or came earlier in the batch. With the
    /// stored events go their rollups: error groups per (tenant, fingerprint) (count, first
    /// and last seen, the latest sample), usage per (tenant, counter) per hour and per day,
    /// audit events with their category and hourly counts per category, and the tenants
    /// seen. An error stores nothing of the batch.
    async fn ingest_events(
        &self,
        events: &[Event],
        received_at: DateTime<Utc>,
    ) -> StoreResult<Vec<IngestOutcome>>;

    /// Each counter's total for `tenant` over `[since, now)`, `since` taken from the start of
    /// its hour (see [`crate::events::UsageWindow`]), ordered by name.
    async fn usage_totals(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageTotal>>;

    /// The tenant's error groups, the most recently seen first.
    async fn recent_error_groups(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> StoreResult<Vec<ErrorGroup>>;

    /// The tenant's latest audit events of any category but `other`, newest first.
    async fn audit_highlights(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> StoreResult<Vec<AuditHighlight>>;

    /// The hours since `since` in which the tenant had at least `threshold` failed-login
    /// events, newest first.
    async fn failed_login_bursts(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
        threshold: u64,
        limit: u32,
    ) -> StoreResult<Vec<LoginBurst>>;

    /// Tenant ids seen in events whose id contains `query` (ASCII case-insensitive; empty
    /// matches all), those starting with it first, then by id.
    async fn search_event_tenants(&self, query: &str, limit: u32) -> StoreResult<Vec<SeenTenant>>;

    /// Deletes what each cutoff of `cutoffs` has expired.
    async fn prune_events(&self, cutoffs: &EventCutoffs) -> StoreResult<EventsPruned>;
}
