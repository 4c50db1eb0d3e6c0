//! Alerts and their deliveries to webhooks.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::alert::{AlertEvent, Delivery, DeliveryFilter, DeliveryOutcome};

/// Alert events and their deliveries to webhooks (see [`crate::alert`]). Times are kept to
/// the millisecond.
#[async_trait]
pub trait AlertStore {
    /// Stores `event` and one pending delivery per name in `webhooks`, due at `now`, in one
    /// transaction; returns the deliveries. An event is stored even without webhooks, so
    /// the dashboard can show it.
    async fn record_alert(
        &self,
        event: &AlertEvent,
        webhooks: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Delivery>>;

    /// Claims up to `limit` pending deliveries due at `now` (oldest due first) by moving
    /// their `next_attempt_at` to `now + lease`, so no other claimer, on any replica, gets
    /// them until the lease ends. The caller finishes each with
    /// [`AlertStore::finish_alert_delivery`].
    async fn claim_alert_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;

    /// Records the attempt made on a claimed delivery: counts it, and moves the delivery to
    /// delivered, back to pending with the retry time, or to failed. Fenced by `attempts`
    /// (the count the claim returned): `false`, and nothing changed, if the delivery is no
    /// longer pending with that count, e.g. a worker whose lease ran out finishing after
    /// another worker did.
    async fn finish_alert_delivery(
        &self,
        id: Uuid,
        attempts: u32,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Deliveries matching `filter`, newest first (created_at, then id, descending).
    async fn list_alert_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>>;

    /// Deletes delivered and failed deliveries created before `cutoff`, and events before
    /// `cutoff` left without deliveries; returns how many deliveries were deleted. Pending
    /// deliveries are kept whatever their age.
    async fn prune_alerts(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}
