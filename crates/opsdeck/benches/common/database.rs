//! A fresh database per benchmark workload: a file under the temp directory, or a new
//! schema on `OPSDECK_TEST_POSTGRES_URL`, and how to drop it afterwards.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

/// A database for one backend and how to clean it up.
pub enum Database {
    Sqlite(std::path::PathBuf),
    Postgres { server: String, schema: String },
}

impl Database {
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres { server, schema } => {
                let separator = if server.contains('?') { '&' } else { '?' };
                format!("{server}{separator}options=-c%20search_path%3D{schema}")
            }
        }
    }

    pub async fn drop_it(&self) {
        match self {
            Database::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    std::fs::remove_file(file).ok();
                }
            }
            Database::Postgres { server, schema } => {
                if let Ok(mut conn) = PgConnection::connect(server).await {
                    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    conn.execute(sqlx::AssertSqlSafe(sql)).await.ok();
                }
            }
        }
    }
}

pub async fn postgres() -> Option<Database> {
    let server = std::env::var("OPSDECK_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned());
    let schema = format!("opsdeck_bench_{}", uuid::Uuid::new_v4().simple());
    let connect = PgConnection::connect(&server);
    let mut conn = match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(conn)) => conn,
        _ => {
            println!("PostgreSQL is unreachable (set OPSDECK_TEST_POSTGRES_URL): skipped");
            return None;
        }
    };
    let sql = format!("CREATE SCHEMA {schema}");
    conn.execute(sqlx::AssertSqlSafe(sql)).await.ok()?;
    Some(Database::Postgres { server, schema })
}
