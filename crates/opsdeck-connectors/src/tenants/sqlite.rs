//! SQLite: the file is opened read-only (`mode=ro`) with `PRAGMA query_only`, every run is a
//! transaction rolled back, and a progress handler interrupts a statement past its timeout
//! (SQLite has no statement timeout of its own). Values are decoded by their storage class;
//! a column declared `BOOLEAN` shows `true`/`false`.

use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::{Column, ConnectOptions, Connection, Executor, Row, Statement as _, TypeInfo, ValueRef};

use super::cells;
use super::run::{self, Failure, FailureKind, Fetched, Param, Statement};

/// SQLite's primary result codes: a write refused, a statement interrupted, a file that
/// cannot be opened.
const SQLITE_READONLY: i64 = 8;
const SQLITE_INTERRUPT: i64 = 9;
const SQLITE_CANTOPEN: i64 = 14;

/// How many virtual machine steps run between two looks at the clock.
const PROGRESS_STEPS: i32 = 1000;

pub(crate) fn connect_options(url: &str) -> Result<SqliteConnectOptions, String> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|_| "not a SQLite URL".to_owned())?
        .read_only(true)
        .create_if_missing(false)
        .pragma("query_only", "ON")
        .disable_statement_logging())
}

pub(crate) fn pool(url: &str, size: u32, budget: Duration) -> Result<SqlitePool, String> {
    let options = connect_options(url)?;
    Ok(SqlitePoolOptions::new()
        .max_connections(size)
        .min_connections(0)
        .acquire_timeout(budget)
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options))
}

fn fail(err: sqlx::Error) -> Failure {
    let sqlx::Error::Database(db) = &err else {
        return Failure::of_client(&err);
    };
    let primary = db
        .code()
        .and_then(|code| code.parse::<i64>().ok())
        .map(|code| code & 0xff);
    let kind = match primary {
        Some(SQLITE_READONLY) => FailureKind::ReadOnly,
        Some(SQLITE_INTERRUPT) => FailureKind::Timeout,
        Some(SQLITE_CANTOPEN) => FailureKind::Unreachable,
        _ => FailureKind::Query,
    };
    Failure::new(kind, db.message())
}

pub(crate) async fn run(
    pool: &SqlitePool,
    statement: &Statement,
    params: &[Param],
    limit: usize,
    timeout: Duration,
) -> Result<Fetched, Failure> {
    let budget = timeout + run::CLIENT_MARGIN;
    let (mut conn, deadline) = run::acquire(pool, budget).await?;
    let result = tokio::time::timeout_at(
        deadline,
        guarded(&mut conn, statement, params, Some(limit), timeout),
    )
    .await;
    run::settle(&mut conn, result, budget)
}

pub(crate) async fn prepare(
    pool: &SqlitePool,
    statement: &Statement,
    params: &[Param],
    timeout: Duration,
) -> Result<Vec<String>, Failure> {
    let budget = timeout + run::CLIENT_MARGIN;
    let (mut conn, deadline) = run::acquire(pool, budget).await?;
    let result = tokio::time::timeout_at(
        deadline,
        guarded(&mut conn, statement, params, None, timeout),
    )
    .await;
    run::settle(&mut conn, result, budget).map(|fetched| fetched.columns)
}

/// [`read`] with a progress handler that interrupts it past `timeout`.
async fn guarded(
    conn: &mut SqliteConnection,
    statement: &Statement,
    params: &[Param],
    limit: Option<usize>,
    timeout: Duration,
) -> Result<Fetched, Failure> {
    let deadline = Instant::now() + timeout;
    conn.lock_handle()
        .await
        .map_err(fail)?
        .set_progress_handler(PROGRESS_STEPS, move || Instant::now() < deadline);
    let result = read(conn, statement, params, limit).await;
    if let Ok(mut handle) = conn.lock_handle().await {
        handle.remove_progress_handler();
    }
    result
}

async fn read(
    conn: &mut SqliteConnection,
    statement: &Statement,
    params: &[Param],
    limit: Option<usize>,
) -> Result<Fetched, Failure> {
    let mut tx = conn.begin().await.map_err(fail)?;
    let prepared = (&mut *tx)
        .prepare(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
            statement.sql.as_str(),
        )))
        .await
        .map_err(fail)?;
    let declared: Vec<bool> = prepared
        .columns()
        .iter()
        .map(|c| c.type_info().name().eq_ignore_ascii_case("BOOLEAN"))
        .collect();
    let mut fetched = Fetched::with_columns(prepared.columns());
    if let Some(limit) = limit {
        let mut query = prepared.query();
        for index in &statement.binds {
            query = match params.get(*index) {
                Some(Param::Int(n)) => query.bind(*n),
                Some(Param::Text(text)) => query.bind(text.clone()),
                None => query.bind(Option::<String>::None),
            };
        }
        fetched
            .read(query.fetch(&mut *tx), limit, |row| {
                decode_row(row, &declared)
            })
            .await
            .map_err(fail)?;
    }
    tx.rollback().await.map_err(fail)?;
    Ok(fetched)
}

fn decode_row(row: &SqliteRow, booleans: &[bool]) -> Vec<Value> {
    (0..row.len())
        .map(|i| decode(row, i, booleans.get(i).copied().unwrap_or(false)))
        .collect()
}

/// One value as JSON, by the storage class it has in this row.
fn decode(row: &SqliteRow, i: usize, boolean: bool) -> Value {
    let Ok(raw) = row.try_get_raw(i) else {
        return Value::Null;
    };
    if raw.is_null() {
        return Value::Null;
    }
    let class = raw.type_info().name().to_owned();
    match class.as_str() {
        "INTEGER" if boolean => row
            .try_get_unchecked::<i64, _>(i)
            .map_or(Value::Null, |v| Value::Bool(v != 0)),
        "INTEGER" => row
            .try_get_unchecked::<i64, _>(i)
            .map_or(Value::Null, Value::from),
        "REAL" => row
            .try_get_unchecked::<f64, _>(i)
            .map_or(Value::Null, cells::float),
        "BLOB" => row
            .try_get_unchecked::<Vec<u8>, _>(i)
            .map_or(Value::Null, |b| cells::bytes(b.len())),
        _ => match row.try_get_unchecked::<String, _>(i) {
            Ok(text) => Value::String(text),
            Err(_) => row
                .try_get_unchecked::<Vec<u8>, _>(i)
                .map_or(Value::Null, |b| cells::bytes(b.len())),
        },
    }
}
