//! PostgreSQL: every run is `BEGIN READ ONLY` with `SET LOCAL statement_timeout`, always
//! rolled back; values are read in the binary format and decoded by type name.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow, PgTypeInfo};
use sqlx::{ConnectOptions, Connection, Executor, Row, Statement as _, TypeInfo, ValueRef};

use super::cells;
use super::run::{self, Failure, FailureKind, Fetched, Param, Statement};

pub(crate) fn pool_options(url: &str) -> Result<PgConnectOptions, String> {
    let options: PgConnectOptions = url.parse().map_err(|_| "not a PostgreSQL URL".to_owned())?;
    Ok(options
        .application_name("opsdeck-tenants")
        .disable_statement_logging())
}

pub(crate) fn pool(url: &str, size: u32, budget: Duration) -> Result<PgPool, String> {
    let options = pool_options(url)?;
    Ok(PgPoolOptions::new()
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
    let kind = match db.code().as_deref() {
        Some("57014") => FailureKind::Timeout,
        Some("25006") => FailureKind::ReadOnly,
        Some(code) if code.starts_with("08") || code.starts_with("57P") => FailureKind::Unreachable,
        _ => FailureKind::Query,
    };
    Failure::new(kind, db.message())
}

fn types(params: &[Param], statement: &Statement) -> Vec<PgTypeInfo> {
    statement
        .binds
        .iter()
        .map(|i| match params.get(*i) {
            Some(Param::Int(_)) => PgTypeInfo::with_name("INT8"),
            _ => PgTypeInfo::with_name("TEXT"),
        })
        .collect()
}

pub(crate) async fn run(
    pool: &PgPool,
    statement: &Statement,
    params: &[Param],
    limit: usize,
    timeout: Duration,
) -> Result<Fetched, Failure> {
    let budget = timeout + run::CLIENT_MARGIN;
    let (mut conn, deadline) = run::acquire(pool, budget).await?;
    let result = tokio::time::timeout_at(
        deadline,
        read(&mut conn, statement, params, Some(limit), timeout),
    )
    .await;
    run::settle(&mut conn, result, budget)
}

pub(crate) async fn prepare(
    pool: &PgPool,
    statement: &Statement,
    params: &[Param],
    timeout: Duration,
) -> Result<Vec<String>, Failure> {
    let budget = timeout + run::CLIENT_MARGIN;
    let (mut conn, deadline) = run::acquire(pool, budget).await?;
    let result =
        tokio::time::timeout_at(deadline, read(&mut conn, statement, params, None, timeout)).await;
    run::settle(&mut conn, result, budget).map(|fetched| fetched.columns)
}

/// Prepares the statement in a read-only transaction and, given a `limit`, runs it for at
/// most `limit + 1` rows. The transaction is rolled back either way.
async fn read(
    conn: &mut PgConnection,
    statement: &Statement,
    params: &[Param],
    limit: Option<usize>,
    timeout: Duration,
) -> Result<Fetched, Failure> {
    let millis = timeout.as_millis().max(1);
    let begin = format!("BEGIN READ ONLY; SET LOCAL statement_timeout = {millis}");
    let mut tx = conn
        .begin_with(sqlx::AssertSqlSafe(begin))
        .await
        .map_err(fail)?;
    let prepared = (&mut *tx)
        .prepare_with(
            sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(statement.sql.as_str())),
            &types(params, statement),
        )
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

fn decode_row(row: &PgRow) -> Vec<Value> {
    (0..row.len()).map(|i| decode(row, i)).collect()
}

fn text<T: ToString>(value: Result<T, sqlx::Error>) -> Value {
    value.map_or(Value::Null, |v| Value::String(v.to_string()))
}

/// One value as JSON, by its type; a type not known here is shown as text when its bytes
/// are printable text (enums, `citext`, domains over text), else by its size.
fn decode(row: &PgRow, i: usize) -> Value {
    let Ok(raw) = row.try_get_raw(i) else {
        return Value::Null;
    };
    if raw.is_null() {
        return Value::Null;
    }
    let name = raw.type_info().name().to_owned();
    match name.as_str() {
        "BOOL" => row.try_get::<bool, _>(i).map_or(Value::Null, Value::Bool),
        "INT2" => row.try_get::<i16, _>(i).map_or(Value::Null, Value::from),
        "INT4" => row.try_get::<i32, _>(i).map_or(Value::Null, Value::from),
        "INT8" => row.try_get::<i64, _>(i).map_or(Value::Null, Value::from),
        "FLOAT4" => row
            .try_get::<f32, _>(i)
            .map_or(Value::Null, |v| cells::float(f64::from(v))),
        "FLOAT8" => row.try_get::<f64, _>(i).map_or(Value::Null, cells::float),
        "NUMERIC" => raw
            .as_bytes()
            .ok()
            .and_then(numeric)
            .map_or(Value::Null, Value::String),
        "UUID" => text(row.try_get::<uuid::Uuid, _>(i)),
        "JSON" | "JSONB" => row
            .try_get::<sqlx::types::JsonValue, _>(i)
            .unwrap_or(Value::Null),
        "TIMESTAMPTZ" => row.try_get::<DateTime<Utc>, _>(i).map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }),
        "TIMESTAMP" => row.try_get::<NaiveDateTime, _>(i).map_or(Value::Null, |t| {
            Value::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
        }),
        "DATE" => text(row.try_get::<NaiveDate, _>(i)),
        "TIME" => text(row.try_get::<NaiveTime, _>(i)),
        "BYTEA" => raw
            .as_bytes()
            .map_or(Value::Null, |b| cells::bytes(b.len())),
        _ => match raw.as_bytes() {
            Ok(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) if !text.chars().any(char::is_control) => Value::String(text.to_owned()),
                _ => cells::bytes(bytes.len()),
            },
            Err(_) => Value::Null,
        },
    }
}

/// PostgreSQL's binary `numeric` as decimal text: digit count, weight (of the first base-10000
/// digit), sign, display scale, then the base-10000 digits.
fn numeric(bytes: &[u8]) -> Option<String> {
    let word = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)? as i16);
    let sign = word(4)?;
    let scale = usize::from(word(6)?);
    match sign {
        0xC000 => return Some("NaN".to_owned()),
        0xD000 => return Some("Infinity".to_owned()),
        0xF000 => return Some("-Infinity".to_owned()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|k| word(8 + 2 * k))
        .collect::<Option<_>>()?;
    let digit = |position: i32| -> u16 {
        usize::try_from(position)
            .ok()
            .and_then(|p| digits.get(p).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        out.push_str(&digit(0).to_string());
        for position in 1..=weight {
            out.push_str(&format!("{:04}", digit(position)));
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut position = weight + 1;
        while fraction.len() < scale {
            fraction.push_str(&format!("{:04}", digit(position)));
            position += 1;
        }
        fraction.truncate(scale);
        out.push('.');
        out.push_str(&fraction);
    }
    Some(out)
}
