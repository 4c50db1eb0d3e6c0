//! Liveness of opsdeck's own database, the leader lease and the replicas' heartbeats.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::instance::{InstanceInfo, InstanceRecord, Lease};

/// Liveness of the database itself.
#[async_trait]
pub trait HealthStore {
    /// One round trip to the database. It is tried even during an outage (every other call
    /// then fails at once), and its outcome opens or closes the breaker.
    async fn ping(&self) -> StoreResult<()>;

    /// Whether the database is reachable, as this store last found it.
    fn availability(&self) -> &super::Availability;
}

/// Named leases, the basis of leader election across replicas.
#[async_trait]
pub trait LeaseStore {
    /// Takes the lease if it is free or expired at `now`, or renews it if `holder` already
    /// holds it. Returns the lease when `holder` holds it afterwards, `None` when another
    /// holder's unexpired lease stands.
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>>;

    /// Gives the lease up if `holder` holds it, so another replica can take it at once.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;

    /// The lease as stored, expired or not.
    async fn get_lease(&self, name: &str) -> StoreResult<Option<Lease>>;
}

/// Replica heartbeats.
#[async_trait]
pub trait InstanceStore {
    /// Inserts or refreshes this replica's row.
    async fn record_heartbeat(
        &self,
        instance: &InstanceInfo,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Every known replica, most recently seen first.
    async fn list_instances(&self) -> StoreResult<Vec<InstanceRecord>>;

    /// Removes replicas not seen since `cutoff`; returns how many were removed.
    async fn prune_instances(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}
