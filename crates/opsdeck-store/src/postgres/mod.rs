//! The PostgreSQL backend: connecting, its migrations (`migrations/`), and [`PgStore`].
//! The SQL of each capability lives in the file named after it; how values are stored in
//! `types.rs`, search-path handling in `schema.rs`.
//!
//! Start-up opens one connection first, so the operator sees the real cause (connection
//! refused, bad password, missing database) rather than a pool timeout, and migrates on it
//! while holding sqlx's migration advisory lock; the pool is built after that.

mod alerts;
mod audit;
mod checks;
mod cron;
mod cron_guard;
mod cron_runs;
mod database;
mod dialect;
mod events;
mod impersonation;
mod queues;
mod schema;
mod sessions;
mod tokens;
mod types;

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Postgres};

use crate::sql_store::SqlStore;
use crate::{ConnectError, DatabaseUrl, MigrationReport, PoolSettings};

static MIGRATOR: Migrator = sqlx::migrate!("src/postgres/migrations");

/// sqlx's default bookkeeping table, unqualified so it lives in the connection's schema.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

pub(crate) type PgStore = SqlStore<Postgres>;

impl PgStore {
    pub(crate) async fn connect(
        url: &DatabaseUrl,
        settings: &PoolSettings,
    ) -> Result<Self, ConnectError> {
        let options = connect_options(url)?;
        let report = migrate_with(url, &options, settings).await?;
        tracing::info!(
            database = %url,
            applied = report.applied.len(),
            version = report.current_version,
            "database schema is current"
        );
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        Ok(Self::new(pool, url))
    }
}

pub(crate) async fn migrate(
    url: &DatabaseUrl,
    settings: &PoolSettings,
) -> Result<MigrationReport, ConnectError> {
    migrate_with(url, &connect_options(url)?, settings).await
}

fn connect_options(url: &DatabaseUrl) -> Result<PgConnectOptions, ConnectError> {
    let options =
        PgConnectOptions::from_str(url.expose()).map_err(|e| ConnectError::unreachable(url, &e))?;
    // Names the replica's sessions in pg_stat_activity, unless the URL already does.
    Ok(if options.get_application_name().is_some() {
        options
    } else {
        options.application_name("opsdeck")
    })
}

/// Opens one connection, migrates on it, closes it.
async fn migrate_with(
    url: &DatabaseUrl,
    options: &PgConnectOptions,
    settings: &PoolSettings,
) -> Result<MigrationReport, ConnectError> {
    let mut conn = open(url, options, settings.acquire_timeout).await?;
    let report = run_migrations(&mut conn, url).await;
    // On failure the session may still hold the advisory lock; closing it releases it.
    let _ = conn.close().await;
    report
}

/// One connection, retrying "connection refused" until `timeout` (a server that is still
/// starting refuses connections), failing at once on anything else.
async fn open(
    url: &DatabaseUrl,
    options: &PgConnectOptions,
    timeout: Duration,
) -> Result<PgConnection, ConnectError> {
    let deadline = Instant::now() + timeout;
    let mut backoff = Duration::from_millis(50);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, options.connect()).await {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(sqlx::Error::Io(e)))
                if e.kind() == std::io::ErrorKind::ConnectionRefused && left > backoff =>
            {
                tracing::debug!(database = %url, "connection refused; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            Ok(Err(e)) => return Err(ConnectError::unreachable(url, &e)),
            Err(_) => return Err(ConnectError::timed_out(url, timeout)),
        }
    }
}

/// Applies pending migrations while holding sqlx's advisory lock (one per database, so
/// replicas and concurrent `opsdeck migrate` runs take turns). The lock is taken here first,
/// and re-entered by the migrator, so creating the schema and reading the versions before
/// and after are serialised with the migration itself.
async fn run_migrations(
    conn: &mut PgConnection,
    url: &DatabaseUrl,
) -> Result<MigrationReport, ConnectError> {
    let fail = |e: MigrateError| ConnectError::migration(url, &e);
    conn.lock().await.map_err(fail)?;
    schema::ensure_current_schema(conn)
        .await
        .map_err(|e| fail(e.into()))?;
    conn.ensure_migrations_table(MIGRATIONS_TABLE)
        .await
        .map_err(fail)?;
    let before = applied_versions(conn).await.map_err(fail)?;
    MIGRATOR.run(&mut *conn).await.map_err(fail)?;
    let after = applied_versions(conn).await.map_err(fail)?;
    conn.unlock().await.map_err(fail)?;
    Ok(crate::report(&before, &after))
}

async fn applied_versions(conn: &mut PgConnection) -> Result<Vec<i64>, MigrateError> {
    let applied = conn.list_applied_migrations(MIGRATIONS_TABLE).await?;
    Ok(applied.into_iter().map(|m| m.version).collect())
}
