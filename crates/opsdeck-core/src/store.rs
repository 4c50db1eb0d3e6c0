//! Storage contracts, split by capability. Each backend (SQLite, PostgreSQL) implements all
//! of them with its own SQL; the shared contract suite holds both to the same behaviour.
//!
//! Use [`StoreError::Unavailable`] when the database cannot be reached (the caller may retry
//! or answer 503), [`StoreError::NotFound`] and [`StoreError::Conflict`] for outcomes the
//! caller handles, and [`StoreError::Other`] for everything else (a 500, logged once).

use std::fmt::Debug;

use async_trait::async_trait;

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

mod alerts;
mod audit;
mod availability;
mod checks;
mod cron;
mod database;
mod events;
mod impersonation;
mod queues;
mod sessions;
mod tokens;

pub use alerts::AlertStore;
pub use audit::AuditStore;
pub use availability::{Availability, Outage, Recovered};
pub use checks::{CheckHistoryStore, CheckLatestStore};
pub use cron::{CronGuardStore, CronRunStore, CronStore};
pub use database::{HealthStore, InstanceStore, LeaseStore};
pub use events::EventStore;
pub use impersonation::ImpersonationStore;
pub use queues::QueueStore;
pub use sessions::SessionStore;
pub use tokens::TokenStore;

/// Everything opsdeck stores, behind one object chosen once at start-up.
#[async_trait]
pub trait Store:
    HealthStore
    + LeaseStore
    + InstanceStore
    + AuditStore
    + TokenStore
    + SessionStore
    + CheckHistoryStore
    + AlertStore
    + CheckLatestStore
    + CronStore
    + CronRunStore
    + CronGuardStore
    + QueueStore
    + ImpersonationStore
    + EventStore
    + Debug
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Closes the connection pool; later calls fail with [`StoreError::Unavailable`].
    async fn close(&self);
}
