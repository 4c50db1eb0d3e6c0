//! MySQL and MariaDB: every run is `START TRANSACTION READ ONLY`, always rolled back, after
//! the session's statement time limit is set (MariaDB's `max_statement_time`, in seconds;
//! MySQL's `max_execution_time`, in milliseconds, which it applies to reads). `$n`
//! placeholders are sent as `?`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::mysql::{
    MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlPoolOptions, MySqlRow,
};
use sqlx::{ConnectOptions, Connection, Executor, Row, Statement as _, TypeInfo, ValueRef};

use super::cells;
use super::run::{self, Failure, FailureKind, Fetched, Param, Statement};

/// A server's pool, and which statement time limit it understands once known.
#[derive(Debug)]
pub(crate) struct Pool {
    pool: MySqlPool,
    limit: AtomicU8,
}

const UNKNOWN: u8 = 0;
const MARIADB: u8 = 1;
const MYSQL: u8 = 2;

pub(crate) fn connect_options(url: &str) -> Result<MySqlConnectOptions, String> {
    // sqlx reads `mysql://`; a `mariadb://` URL is the same thing.
    let url = match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}"),
        None => url.to_owned(),
    };
    let options: MySqlConnectOptions = url.parse().map_err(|_| "not a MySQL URL".to_owned())?;
    Ok(options.disable_statement_logging())
}

pub(crate) fn pool(url: &str, size: u32, budget: Duration) -> Result<Pool, String> {
    let options = connect_options(url)?;
    Ok(Pool {
        pool: MySqlPoolOptions::new()
            .max_connections(size)
            .min_connections(0)
            .acquire_timeout(budget)
            .idle_timeout(Duration::from_secs(300))
            .connect_lazy_with(options),
        limit: AtomicU8::new(UNKNOWN),
    })
}

/// MySQL error numbers: a write in a read-only transaction; a statement stopped by the time
/// limit (MariaDB, MySQL) or interrupted.
const READ_ONLY: u16 = 1792;
const TIMEOUTS: [u16; 3] = [1969, 3024, 1317];
const UNKNOWN_VARIABLE: u16 = 1193;

fn number(err: &sqlx::Error) -> Option<u16> {
    match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(MySqlDatabaseError::number),
        _ => None,
    }
}

fn fail(err: sqlx::Error) -> Failure {
    let sqlx::Error::Database(db) = &err else {
        return Failure::of_client(&err);
    };
    let kind = match number(&err) {
        Some(READ_ONLY) => FailureKind::ReadOnly,
        Some(n) if TIMEOUTS.contains(&n) => FailureKind::Timeout,
        _ => FailureKind::Query,
    };
    Failure::new(kind, db.message())
}

pub(crate) async fn run(
    pool: &Pool,
    statement: &Statement,
    params: &[Param],
    limit: usize,
    timeout: Duration,
) -> Result<Fetched, Failure> {
    let budget = timeout + run::CLIENT_MARGIN;
    let (mut conn, deadline) = run::acquire(&pool.pool, budget).await?;
    let result = tokio::time::timeout_at(
        deadline,
        read(pool, &mut conn, statement, params, Some(limit), timeout),
    )
    .await;
    run::settle(&mut conn, result, budget)
}

pub(crate) async fn prepare(
    pool: &Pool,
    statement: &Statement,
    params: &[Param],
    timeout: Duration,
) -> Result<Vec<String>, Failure> {
    let budget = timeout + run::CLIENT_MARGIN;
    let (mut conn, deadline) = run::acquire(&pool.pool, budget).await?;
    let result = tokio::time::timeout_at(
        deadline,
        read(pool, &mut conn, statement, params, None, timeout),
    )
    .await;
    run::settle(&mut conn, result, budget).map(|fetched| fetched.columns)
}

/// Sets the session's statement time limit in the server's own terms, learning them on
/// first use.
async fn set_time_limit(
    pool: &Pool,
    conn: &mut MySqlConnection,
    timeout: Duration,
) -> Result<(), Failure> {
    let mariadb = format!(
        "SET SESSION max_statement_time = {:.3}",
        timeout.as_secs_f64().max(0.001)
    );
    let mysql = format!(
        "SET SESSION max_execution_time = {}",
        timeout.as_millis().max(1)
    );
    match pool.limit.load(Ordering::Relaxed) {
        MARIADB => {
            return conn
                .execute(sqlx::AssertSqlSafe(mariadb))
                .await
                .map(drop)
                .map_err(fail);
        }
        MYSQL => {
            return conn
                .execute(sqlx::AssertSqlSafe(mysql))
                .await
                .map(drop)
                .map_err(fail);
        }
        _ => {}
    }
    match conn.execute(sqlx::AssertSqlSafe(mariadb)).await {
        Ok(_) => {
            pool.limit.store(MARIADB, Ordering::Relaxed);
            Ok(())
        }
        Err(err) if number(&err) == Some(UNKNOWN_VARIABLE) => {
            conn.execute(sqlx::AssertSqlSafe(mysql))
                .await
                .map_err(fail)?;
            pool.limit.store(MYSQL, Ordering::Relaxed);
            Ok(())
        }
        Err(err) => Err(fail(err)),
    }
}

async fn read(
    pool: &Pool,
    conn: &mut MySqlConnection,
    statement: &Statement,
    params: &[Param],
    limit: Option<usize>,
    timeout: Duration,
) -> Result<Fetched, Failure> {
    set_time_limit(pool, conn, timeout).await?;
    let mut tx = conn
        .begin_with("START TRANSACTION READ ONLY")
        .await
        .map_err(fail)?;
    let prepared = (&mut *tx)
        .prepare(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
            statement.sql.as_str(),
        )))
        .await
        .map_err(fail)?;
    let mut fetched = Fetched::with_columns(prepared.columns());
    if let Some(limit) = limit {
        let mut query = prepared.query();
        for index in &statement.binds {
            query = match params.get(*index) {
                Some(Param::Int(n)) => query.bind(*n),
                Some(Param::Text(text)) => query.bind(text.as_str()),
                None => query.bind(Option::<String>::None),
            };
        }
        fetched
            .read(query.fetch(&mut *tx), limit, decode_row)
            .await
            .map_err(fail)?;
    }
    tx.rollback().await.map_err(fail)?;
    Ok(fetched)
}

fn decode_row(row: &MySqlRow) -> Vec<Value> {
    (0..row.len()).map(|i| decode(row, i)).collect()
}

/// One value as JSON, by its type. Values are decoded without sqlx's compatibility check
/// where MySQL sends them as text (DECIMAL, ENUM, SET, TIME).
fn decode(row: &MySqlRow, i: usize) -> Value {
    let Ok(raw) = row.try_get_raw(i) else {
        return Value::Null;
    };
    if raw.is_null() {
        return Value::Null;
    }
    let name = raw.type_info().name().to_owned();
    let text = |v: Result<String, sqlx::Error>| v.map_or(Value::Null, Value::String);
    match name.as_str() {
        "BOOLEAN" => row.try_get::<bool, _>(i).map_or(Value::Null, Value::Bool),
        n if n.ends_with("UNSIGNED") => row.try_get::<u64, _>(i).map_or(Value::Null, Value::from),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => {
            row.try_get::<i64, _>(i).map_or(Value::Null, Value::from)
        }
        "YEAR" => row
            .try_get_unchecked::<u16, _>(i)
            .map_or(Value::Null, Value::from),
        "FLOAT" => row
            .try_get::<f32, _>(i)
            .map_or(Value::Null, |v| cells::float(f64::from(v))),
        "DOUBLE" => row.try_get::<f64, _>(i).map_or(Value::Null, cells::float),
        "TIMESTAMP" => row.try_get::<DateTime<Utc>, _>(i).map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }),
        "DATETIME" => row.try_get::<NaiveDateTime, _>(i).map_or(Value::Null, |t| {
            Value::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
        }),
        "DATE" => row
            .try_get::<NaiveDate, _>(i)
            .map_or(Value::Null, |d| Value::String(d.to_string())),
        "TIME" => row
            .try_get::<chrono::NaiveTime, _>(i)
            .map_or(Value::Null, |t| Value::String(t.to_string())),
        "JSON" => text(row.try_get_unchecked::<String, _>(i)),
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
        | "GEOMETRY" => row
            .try_get_unchecked::<Vec<u8>, _>(i)
            .map_or(Value::Null, |b| cells::bytes(b.len())),
        _ => match row.try_get_unchecked::<String, _>(i) {
            Ok(value) => Value::String(value),
            Err(_) => row
                .try_get_unchecked::<Vec<u8>, _>(i)
                .map_or(Value::Null, |b| cells::bytes(b.len())),
        },
    }
}
