//! Fresh databases for tests: a temporary SQLite file, or a PostgreSQL schema of its own,
//! each removed when the [`TestDb`] is dropped.
//!
//! PostgreSQL comes from `OPSDECK_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test?sslmode=disable`). When it cannot be reached, tests that need it
//! are skipped with a loud banner, except on CI (`CI=true`), where that is a failure.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Once, OnceLock};
use std::time::Duration;

use opsdeck_core::{Backend, Store};
use opsdeck_store::{DatabaseUrl, PoolSettings};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

/// One test's database. `url` selects it (for PostgreSQL, through `search_path`).
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    SqliteFile(PathBuf),
    PostgresSchema { server_url: String, schema: String },
}

impl TestDb {
    /// A new, empty SQLite file under the system temp directory.
    pub fn sqlite() -> TestDb {
        let path =
            std::env::temp_dir().join(format!("opsdeck-test-{}.db", Uuid::new_v4().simple()));
        TestDb {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
            cleanup: Cleanup::SqliteFile(path),
        }
    }

    /// A new, empty schema on the test PostgreSQL server, or `None` (after a banner) when the
    /// server is unreachable outside CI.
    pub fn postgres() -> Option<TestDb> {
        Self::postgres_schema(true)
    }

    /// Like [`TestDb::postgres`], but the schema is only named in the URL, not created:
    /// for tests of what happens on a database nobody has set up.
    pub fn postgres_without_schema() -> Option<TestDb> {
        Self::postgres_schema(false)
    }

    fn postgres_schema(create: bool) -> Option<TestDb> {
        let server_url = postgres_server_url();
        if let Err(reason) = postgres_reachable(&server_url) {
            let server_url = shown(&server_url);
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "PostgreSQL at {server_url} is unreachable on CI: {reason}. \
                     Start it or set OPSDECK_TEST_POSTGRES_URL."
                );
            }
            skipped_banner(&server_url, &reason);
            return None;
        }
        let schema = format!("opsdeck_t_{}", Uuid::new_v4().simple());
        if create {
            let sql = format!("CREATE SCHEMA {schema}");
            if let Err(e) = on_server(&server_url, sql) {
                panic!(
                    "could not create test schema {schema} on {}: {e}",
                    shown(&server_url)
                );
            }
        }
        let separator = if server_url.contains('?') { '&' } else { '?' };
        Some(TestDb {
            url: format!("{server_url}{separator}options=-c%20search_path%3D{schema}"),
            backend: Backend::Postgres,
            cleanup: Cleanup::PostgresSchema { server_url, schema },
        })
    }

    /// The PostgreSQL schema this database lives in.
    pub fn schema(&self) -> Option<&str> {
        match &self.cleanup {
            Cleanup::PostgresSchema { schema, .. } => Some(schema),
            Cleanup::SqliteFile(_) => None,
        }
    }

    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.url).expect("test database URL parses")
    }

    /// A migrated store on this database, with default pool settings.
    pub async fn store(&self) -> Arc<dyn Store> {
        self.store_with(&PoolSettings::default()).await
    }

    pub async fn store_with(&self, settings: &PoolSettings) -> Arc<dyn Store> {
        match opsdeck_store::connect(&self.database_url(), settings).await {
            Ok(store) => store,
            Err(e) => panic!("could not open test database {}: {e}", self.database_url()),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::PostgresSchema { server_url, schema } => {
                let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                if let Err(e) = on_server(server_url, sql) {
                    eprintln!("warning: could not drop test schema {schema}: {e}");
                }
            }
        }
    }
}

fn postgres_server_url() -> String {
    std::env::var("OPSDECK_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// Says loudly, once per test binary, that PostgreSQL tests are being skipped. libtest
/// captures `eprintln!` of passing tests, so the banner goes straight to the stream.
fn skipped_banner(server_url: &str, reason: &str) {
    static SHOWN: Once = Once::new();
    SHOWN.call_once(|| {
        let banner = format!(
            "\n==================================================================\n\
             PostgreSQL contract tests DID NOT RUN: {server_url} is unreachable\n\
             ({reason}).\n\
             Start PostgreSQL or set OPSDECK_TEST_POSTGRES_URL to run them.\n\
             ==================================================================\n"
        );
        let _ = std::io::stderr().write_all(banner.as_bytes());
    });
    eprintln!("skipped: PostgreSQL at {server_url} is unreachable");
}

/// The URL with any password masked, for messages.
fn shown(url: &str) -> String {
    DatabaseUrl::parse(url).map_or_else(|_| "the configured URL".to_owned(), |u| u.to_string())
}

/// Whether the server answers, checked once per test binary.
fn postgres_reachable(server_url: &str) -> Result<(), String> {
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    REACHABLE
        .get_or_init(|| on_server(server_url, "SELECT 1".to_owned()))
        .clone()
}

/// Runs one statement on the server from a thread of its own, so it works from sync code,
/// from inside a test's runtime, and from `Drop`.
fn on_server(server_url: &str, sql: String) -> Result<(), String> {
    let server_url = server_url.to_owned();
    let work = move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let connect = PgConnection::connect(&server_url);
            let mut conn = tokio::time::timeout(Duration::from_secs(5), connect)
                .await
                .map_err(|_| "no answer within 5 s".to_owned())?
                .map_err(|e| e.to_string())?;
            conn.execute(sqlx::AssertSqlSafe(sql))
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok(())
        })
    };
    std::thread::spawn(work)
        .join()
        .unwrap_or_else(|_| Err("the database thread panicked".to_owned()))
}

/// Sessions of the PostgreSQL server left idle inside a transaction whose last statement
/// named `schema`: a connector that drops a transaction instead of ending it leaves one,
/// holding its locks on the application's tables.
pub async fn idle_in_transaction(pool: &sqlx::PgPool, schema: &str) -> i64 {
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' \
               AND strpos(query, $1) > 0";
    sqlx::query_scalar(sql)
        .bind(schema)
        .fetch_one(pool)
        .await
        .expect("pg_stat_activity")
}

/// Drops `schema` of the PostgreSQL server at `url`, from a thread of its own (so it can run
/// in a fixture's `Drop`, inside the test's runtime); says on stderr when it could not.
pub fn drop_schema_blocking(url: &str, schema: &str, what: &str) {
    let (url, owned) = (url.to_owned(), schema.to_owned());
    let work = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let mut conn = PgConnection::connect(&url).await.ok()?;
            let sql = format!("DROP SCHEMA IF EXISTS \"{owned}\" CASCADE");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .ok()?;
            conn.close().await.ok()
        })
    };
    if std::thread::spawn(work).join().ok().flatten().is_none() {
        eprintln!("warning: could not drop {what} test schema {schema}");
    }
}

/// Runs `sql` (written with `{s}` for `schema`, quoted) on `pool`.
pub async fn execute_in_schema(pool: &sqlx::PgPool, schema: &str, sql: &str) {
    let sql = sql.replace("{s}", &format!("\"{schema}\""));
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .expect("statement");
}
