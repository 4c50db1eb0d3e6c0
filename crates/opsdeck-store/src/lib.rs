//! opsdeck storage: one backend per database engine, each with its own SQL and migrations
//! (`sqlite/`, `postgres/`), behind the `opsdeck_core::Store` traits. Each trait is
//! implemented once (`shared/`), generic over the backend's `Dialect`; a backend gives the
//! SQL text, how it stores the values that differ (`values.rs`: times, UUIDs) and, where it
//! has a better tool of its own, a hook.
//!
//! The backend is chosen once, from the URL scheme, by [`connect`]; the rest of opsdeck only
//! sees `Arc<dyn Store>`. [`connect`] also brings the schema up to date, and [`migrate`] does
//! only that, for `opsdeck migrate`.

mod audit_index;
mod database_url;
mod dialect;
mod error;
mod postgres;
mod redact;
mod shapes;
mod shared;
mod sql_store;
mod sqlite;
mod values;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::{Backend, Store, StoreError, StoreResult};

pub use database_url::DatabaseUrl;
pub use error::ConnectError;

/// Connection pool limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Upper bound on open connections (at least 1 is used).
    pub max_connections: u32,
    /// How long to wait for a connection, and for the database to answer at start-up.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions this run applied, oldest first; empty when the schema was already current.
    pub applied: Vec<i64>,
    /// The newest version applied to the database, after this run.
    pub current_version: Option<i64>,
}

/// Opens the database `url` names, brings its schema up to date and returns the store.
pub async fn connect(
    url: &DatabaseUrl,
    settings: &PoolSettings,
) -> Result<Arc<dyn Store>, ConnectError> {
    let store: Arc<dyn Store> = match url.backend() {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(url, settings).await?),
        Backend::Postgres => Arc::new(postgres::PgStore::connect(url, settings).await?),
    };
    Ok(store)
}

/// Brings the schema of the database `url` names up to date, then disconnects.
pub async fn migrate(
    url: &DatabaseUrl,
    settings: &PoolSettings,
) -> Result<MigrationReport, ConnectError> {
    match url.backend() {
        Backend::Sqlite => sqlite::migrate(url, settings).await,
        Backend::Postgres => postgres::migrate(url, settings).await,
    }
}

/// The versions in `after` missing from `before`, and the newest of `after`.
fn report(before: &[i64], after: &[i64]) -> MigrationReport {
    MigrationReport {
        applied: after
            .iter()
            .copied()
            .filter(|v| !before.contains(v))
            .collect(),
        current_version: after.iter().copied().max(),
    }
}

/// When a lease taken at `now` for `ttl` runs out.
fn lease_expiry(now: DateTime<Utc>, ttl: Duration) -> StoreResult<DateTime<Utc>> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .ok_or_else(|| StoreError::Other(format!("lease ttl {ttl:?} is out of range").into()))
}
