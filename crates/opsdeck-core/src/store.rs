//! Storage contracts, split by capability. Each backend (SQLite, PostgreSQL) implements all
//! of them with its own SQL; the shared contract suite holds both to the same behaviour.
//!
//! Use [`StoreError::Unavailable`] when the database cannot be reached (the caller may retry
//! or answer 503), [`StoreError::NotFound`] and [`StoreError::Conflict`] for outcomes the
//! caller handles, and [`StoreError::Other`] for everything else (a 500, logged once).

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::instance::{InstanceInfo, InstanceRecord, Lease};

/// Which database engine backs a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable")]
    Unavailable(#[source] Cause),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error")]
    Other(#[source] Cause),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Liveness of the database itself.
#[async_trait]
pub trait HealthStore {
    /// One round trip to the database.
    async fn ping(&self) -> StoreResult<()>;
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

/// Everything opsdeck stores, behind one object chosen once at start-up.
#[async_trait]
pub trait Store: HealthStore + LeaseStore + InstanceStore + Debug + Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Closes the connection pool; later calls fail with [`StoreError::Unavailable`].
    async fn close(&self);
}
