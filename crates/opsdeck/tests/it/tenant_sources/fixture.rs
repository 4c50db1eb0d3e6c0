//! The application's database as a tenant source sees it, on each database opsdeck reads:
//! a PostgreSQL schema of its own, a MariaDB database of its own, a temporary SQLite file —
//! each with the same accounts, invoices and a log table, and removed when dropped.
//!
//! MariaDB (or MySQL) comes from `OPSDECK_TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306/test`). When it cannot be reached, the tests that need it are
//! skipped with a loud banner, except on CI (`CI=true`), where that is a failure — as for
//! PostgreSQL.

use std::io::Write;
use std::sync::{Once, OnceLock};
use std::time::Duration;

use sqlx::{Connection, Executor};
use uuid::Uuid;

use crate::support::db::TestDb;

const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Mysql,
    Sqlite,
}

/// One test's application database, seeded.
pub struct AppDb {
    pub url: String,
    pub kind: Kind,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Dropping the test database drops its schema.
    Postgres(#[expect(dead_code, reason = "held for its Drop")] TestDb),
    Mysql {
        server_url: String,
        database: String,
    },
    SqliteFile(std::path::PathBuf),
}

impl AppDb {
    pub async fn postgres() -> Option<AppDb> {
        let db = TestDb::postgres()?;
        let app = AppDb {
            url: db.url.clone(),
            kind: Kind::Postgres,
            cleanup: Cleanup::Postgres(db),
        };
        app.seed().await;
        Some(app)
    }

    pub async fn mysql() -> Option<AppDb> {
        let server_url = mysql_server_url();
        if let Err(reason) = mysql_reachable(&server_url) {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "MariaDB at {server_url} is unreachable on CI: {reason}. Start it or set \
                     OPSDECK_TEST_MYSQL_URL."
                );
            }
            mysql_skipped_banner(&server_url, &reason);
            return None;
        }
        let database = format!("opsdeck_t_{}", Uuid::new_v4().simple());
        on_mysql(&server_url, format!("CREATE DATABASE {database}"))
            .unwrap_or_else(|e| panic!("could not create database {database}: {e}"));
        let mut url = reqwest::Url::parse(&server_url).expect("OPSDECK_TEST_MYSQL_URL parses");
        url.set_path(&format!("/{database}"));
        let app = AppDb {
            url: url.to_string(),
            kind: Kind::Mysql,
            cleanup: Cleanup::Mysql {
                server_url,
                database,
            },
        };
        app.seed().await;
        Some(app)
    }

    pub async fn sqlite() -> Option<AppDb> {
        let path = std::env::temp_dir().join(format!("opsdeck-app-{}.db", Uuid::new_v4().simple()));
        let app = AppDb {
            url: format!("sqlite://{}", path.display()),
            kind: Kind::Sqlite,
            cleanup: Cleanup::SqliteFile(path),
        };
        app.seed().await;
        Some(app)
    }

    /// The connections open to this database right now, from the server's process list
    /// (MariaDB only), not counting the one asking.
    pub async fn mysql_connections(&self) -> i64 {
        let Cleanup::Mysql {
            server_url,
            database,
        } = &self.cleanup
        else {
            panic!("not a MariaDB database");
        };
        let mut conn = sqlx::MySqlConnection::connect(server_url).await.unwrap();
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
        )
        .bind(database)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    }

    /// Runs `statements` (separated by `;`, none inside a string) with a writable
    /// connection, as the application would.
    pub async fn exec(&self, statements: &str) {
        let statements: Vec<String> = statements
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        match self.kind {
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                for sql in statements {
                    conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
                }
            }
            Kind::Mysql => {
                let mut conn = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                for sql in statements {
                    conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
                }
            }
            Kind::Sqlite => {
                let options: sqlx::sqlite::SqliteConnectOptions = self
                    .url
                    .parse::<sqlx::sqlite::SqliteConnectOptions>()
                    .unwrap()
                    .create_if_missing(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                for sql in statements {
                    conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
                }
            }
        }
    }

    /// The rows of `table`, counted with a writable connection.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self.kind {
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            Kind::Mysql => {
                let mut conn = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            Kind::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
        }
    }

    /// A text value of one account, read with a writable connection.
    pub async fn plan_of(&self, id: &str) -> String {
        let sql = format!("SELECT plan FROM accounts WHERE id = '{id}'");
        match self.kind {
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            Kind::Mysql => {
                let mut conn = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            Kind::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
        }
    }

    async fn seed(&self) {
        let (timestamp, created) = match self.kind {
            Kind::Postgres => ("TIMESTAMPTZ", "2026-01-02 03:04:05+00"),
            Kind::Mysql => ("DATETIME", "2026-01-02 03:04:05"),
            Kind::Sqlite => ("TEXT", "2026-01-02T03:04:05Z"),
        };
        let notes = NOTES;
        self.exec(&format!(
            "CREATE TABLE accounts (
                id VARCHAR(64) PRIMARY KEY, name VARCHAR(200) NOT NULL, plan VARCHAR(32),
                status VARCHAR(32), billing_email VARCHAR(200), api_token VARCHAR(200),
                notes TEXT, seats INTEGER, active BOOLEAN, balance NUMERIC(10,2),
                created_at {timestamp});
             CREATE TABLE invoices (
                number VARCHAR(32) PRIMARY KEY, account_id VARCHAR(64) NOT NULL,
                total NUMERIC(10,2) NOT NULL);
             CREATE TABLE notes_log (note VARCHAR(200));
             INSERT INTO accounts VALUES
                ('acme', 'Acme Corp', 'pro', 'active', 'billing@acme.example',
                 'tok_live_4eC39HqLyjWDarjtT1zdp7dc', '{notes}', 12, TRUE, 1234.50, '{created}'),
                ('globex', 'Globex', 'free', 'active', NULL, NULL, NULL, 1, TRUE, 0, '{created}'),
                ('initech', 'Initech', 'enterprise', 'suspended', NULL, NULL, NULL, 250, FALSE,
                 99.99, '{created}');
             INSERT INTO invoices VALUES ('INV-1', 'acme', 10.00), ('INV-2', 'acme', 20.00),
                ('INV-3', 'acme', 30.00), ('INV-9', 'globex', 5.00);
             INSERT INTO notes_log VALUES ('seeded')"
        ))
        .await;
    }
}

/// A free-text column holding what the redactor must catch: an e-mail address, a password
/// in a URL, a JWT and a labelled secret.
pub const NOTES: &str = "owner jane.doe@example.com | db postgres://app:hunter2-secret@db.internal/app | \
     session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U | \
     password=swordfish";

/// What of [`NOTES`] must never be shown.
pub const NOTES_SECRETS: [&str; 4] = [
    "jane.doe@example.com",
    "hunter2-secret",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    "swordfish",
];

impl Drop for AppDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Postgres(_) => {}
            Cleanup::Mysql {
                server_url,
                database,
            } => {
                if let Err(e) = on_mysql(server_url, format!("DROP DATABASE IF EXISTS {database}"))
                {
                    eprintln!("warning: could not drop test database {database}: {e}");
                }
            }
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
        }
    }
}

fn mysql_server_url() -> String {
    std::env::var("OPSDECK_TEST_MYSQL_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_MYSQL_URL.to_owned())
}

fn mysql_reachable(server_url: &str) -> Result<(), String> {
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    REACHABLE
        .get_or_init(|| on_mysql(server_url, "SELECT 1".to_owned()))
        .clone()
}

fn mysql_skipped_banner(server_url: &str, reason: &str) {
    static SHOWN: Once = Once::new();
    SHOWN.call_once(|| {
        let banner = format!(
            "\n==================================================================\n\
             MariaDB tenant source tests DID NOT RUN: {server_url} is unreachable\n\
             ({reason}).\n\
             Start MariaDB or set OPSDECK_TEST_MYSQL_URL to run them.\n\
             ==================================================================\n"
        );
        let _ = std::io::stderr().write_all(banner.as_bytes());
    });
    eprintln!("skipped: MariaDB at {server_url} is unreachable");
}

/// Runs one statement on the MariaDB server from a thread of its own (usable from `Drop`).
fn on_mysql(server_url: &str, sql: String) -> Result<(), String> {
    let server_url = server_url.to_owned();
    let work = move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let connect = sqlx::MySqlConnection::connect(&server_url);
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
