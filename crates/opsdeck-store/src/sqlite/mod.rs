//! The SQLite backend: opening the file (WAL, busy timeout, foreign keys), its migrations
//! (`migrations/`), and [`SqliteStore`]. The SQL of each capability lives in the file named
//! after it; how values are stored in `types.rs`.
//!
//! Concurrency: WAL lets readers run beside the one writer; every write is a single
//! autocommit statement, which takes the write lock up front and so waits out the busy
//! timeout instead of failing with `SQLITE_BUSY` the way an upgraded read transaction can.

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
mod sessions;
mod tokens;
mod types;

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::error::DatabaseError;
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Sqlite};

use crate::sql_store::SqlStore;
use crate::{ConnectError, DatabaseUrl, MigrationReport, PoolSettings};

static MIGRATOR: Migrator = sqlx::migrate!("src/sqlite/migrations");

/// sqlx's default bookkeeping table.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// How long a writer waits for another to finish before giving up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) type SqliteStore = SqlStore<Sqlite>;

impl SqliteStore {
    pub(crate) async fn connect(
        url: &DatabaseUrl,
        settings: &PoolSettings,
    ) -> Result<Self, ConnectError> {
        let options = connect_options(url)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout);
        let pool = if url.is_in_memory() {
            // An in-memory database lives only as long as a connection to it: keep exactly
            // one open for the life of the pool, and migrate through it.
            let pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(|e| ConnectError::unreachable(url, &e))?;
            let migrated = match pool.acquire().await {
                Ok(mut conn) => run_migrations(&mut conn, url).await,
                Err(e) => Err(ConnectError::unreachable(url, &e)),
            };
            if let Err(e) = migrated {
                pool.close().await;
                return Err(e);
            }
            pool
        } else {
            let report = set_up(url, &options).await?;
            tracing::info!(
                database = %url,
                applied = report.applied.len(),
                version = report.current_version,
                "database schema is current"
            );
            pool.connect_with(options)
                .await
                .map_err(|e| ConnectError::unreachable(url, &e))?
        };
        Ok(Self::new(pool, url))
    }
}

pub(crate) async fn migrate(
    url: &DatabaseUrl,
    _settings: &PoolSettings,
) -> Result<MigrationReport, ConnectError> {
    set_up(url, &connect_options(url)?).await
}

/// Options for every connection. `journal_mode` is not among them: switching a file to WAL
/// needs an exclusive lock that the busy timeout does not wait for, so [`set_up`] does it
/// once, and WAL then persists in the file for every later connection.
fn connect_options(url: &DatabaseUrl) -> Result<SqliteConnectOptions, ConnectError> {
    Ok(SqliteConnectOptions::from_str(url.expose())
        .map_err(|e| ConnectError::unreachable(url, &e))?
        .create_if_missing(true)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .synchronous(SqliteSynchronous::Normal)
        // A statement that changes many rows inside a transaction (a group commit's
        // multi-row update and upsert, a batch of audit entries) keeps a statement journal
        // to undo just itself; in a temporary file that is a write system call per page
        // touched, the largest single cost of those statements. In memory it is a copy.
        .pragma("temp_store", "memory")
        // Pages cached per connection: 16 MiB rather than SQLite's 2 MiB, so a group commit
        // over a thousand monitors finds their rows and index pages in memory.
        .pragma("cache_size", CACHE_SIZE)
        // …but all connections together keep about SOFT_HEAP_LIMIT: past it, a connection
        // reuses its own least recently used pages instead of growing, so ten connections
        // that each read through a large database do not hold 16 MiB apiece. The limit is
        // the process's (SQLite has one heap): setting it on every connection is idempotent.
        .pragma("soft_heap_limit", SOFT_HEAP_LIMIT)
        // Checkpoint after 4,000 WAL pages (16 MiB) rather than 1,000: a busy monitor's or
        // the audit log's pages are written many times between checkpoints, and each
        // checkpoint copies every page once however often it was written, so fewer,
        // larger checkpoints copy far fewer pages in all.
        .pragma("wal_autocheckpoint", "4000"))
}

/// SQLite's `cache_size`: negative is KiB.
const CACHE_SIZE: &str = "-16384";

/// SQLite's `soft_heap_limit` in bytes: 32 MiB for the page caches of all connections.
const SOFT_HEAP_LIMIT: &str = "33554432";

/// On one connection of its own: switches the file to WAL, then migrates.
async fn set_up(
    url: &DatabaseUrl,
    options: &SqliteConnectOptions,
) -> Result<MigrationReport, ConnectError> {
    let mut conn = options
        .connect()
        .await
        .map_err(|e| ConnectError::unreachable(url, &e))?;
    let result = async {
        if !url.is_in_memory() {
            enable_wal(&mut conn, url).await?;
        }
        run_migrations(&mut conn, url).await
    }
    .await;
    // Everything is committed or rolled back by now; a failing close changes nothing.
    let _ = conn.close().await;
    result
}

/// Sets WAL, retrying while another connection holds the lock (two replicas or a replica
/// and `opsdeck migrate` opening a fresh file together), up to the busy timeout.
async fn enable_wal(conn: &mut SqliteConnection, url: &DatabaseUrl) -> Result<(), ConnectError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let set = sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
            .fetch_one(&mut *conn)
            .await;
        match set {
            Ok(mode) => {
                if !mode.eq_ignore_ascii_case("wal") {
                    tracing::warn!(database = %url, %mode, "SQLite refused WAL journaling");
                }
                return Ok(());
            }
            Err(sqlx::Error::Database(e)) if is_locked(&*e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(ConnectError::unreachable(url, &e)),
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED, extended codes included.
fn is_locked(error: &dyn DatabaseError) -> bool {
    matches!(primary_code(error), Some(5 | 6))
}

/// The primary result code (the low byte of sqlx's extended code).
pub(crate) fn primary_code(error: &dyn DatabaseError) -> Option<i32> {
    error
        .code()
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff)
}

/// Applies pending migrations inside one `BEGIN IMMEDIATE` transaction: a second process
/// migrating the same file waits for the write lock, then finds everything applied, instead
/// of applying it twice. (sqlx's migrator takes no lock on SQLite.)
async fn run_migrations(
    conn: &mut SqliteConnection,
    url: &DatabaseUrl,
) -> Result<MigrationReport, ConnectError> {
    let fail = |e: MigrateError| ConnectError::migration(url, &e);
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| fail(e.into()))?;
    tx.ensure_migrations_table(MIGRATIONS_TABLE)
        .await
        .map_err(fail)?;
    let before = applied_versions(&mut tx).await.map_err(fail)?;
    // Inside our transaction each migration runs in a savepoint.
    MIGRATOR.run(&mut *tx).await.map_err(fail)?;
    let after = applied_versions(&mut tx).await.map_err(fail)?;
    tx.commit().await.map_err(|e| fail(e.into()))?;
    Ok(crate::report(&before, &after))
}

async fn applied_versions(conn: &mut SqliteConnection) -> Result<Vec<i64>, MigrateError> {
    let applied = conn.list_applied_migrations(MIGRATIONS_TABLE).await?;
    Ok(applied.into_iter().map(|m| m.version).collect())
}
