//! What every driver shares: a statement in the driver's form, the values bound to it, the
//! rows it read, why it failed, and the client-side deadline that makes sure a hung
//! connection never holds a caller (the connection is then closed, not reused).

use std::time::Duration;

use serde_json::Value;
use sqlx::pool::PoolConnection;
use tokio::time::Instant;

/// How long a run may take beyond its statement timeout before the client gives up on the
/// connection: the server's own timeout should have ended it by then.
pub(crate) const CLIENT_MARGIN: Duration = Duration::from_secs(1);

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// A statement as its driver takes it.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    /// The text sent (for MySQL with `?` for `$n`).
    pub sql: String,
    /// For each placeholder the driver binds, in order, the index of the parameter it takes.
    pub binds: Vec<usize>,
}

/// Rows as read, before redaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fetched {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// More rows than the limit were there.
    pub truncated: bool,
}

impl Fetched {
    /// Nothing read yet, with the statement's column names.
    pub fn with_columns<'c, C: sqlx::Column + 'c>(
        columns: impl IntoIterator<Item = &'c C>,
    ) -> Self {
        Self {
            columns: columns.into_iter().map(|c| c.name().to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Reads `rows` until `limit` of them are kept, noting whether there were more (the
    /// statement asks for one more than it shows).
    pub async fn read<R>(
        &mut self,
        mut rows: impl futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
        limit: usize,
        decode: impl Fn(&R) -> Vec<Value>,
    ) -> Result<(), sqlx::Error> {
        use futures_util::TryStreamExt;
        while let Some(row) = rows.try_next().await? {
            if self.rows.len() == limit {
                self.truncated = true;
                break;
            }
            self.rows.push(decode(&row));
        }
        Ok(())
    }
}

/// Why a run failed, with the driver's own words (made safe by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    Timeout,
    Unreachable,
    ReadOnly,
    Query,
}

#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An error outside the database's own (pool, I/O, TLS, protocol).
    pub fn of_client(err: &sqlx::Error) -> Self {
        use sqlx::Error as E;
        let kind = match err {
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::Configuration(_) => {
                FailureKind::Unreachable
            }
            _ => FailureKind::Query,
        };
        Self::new(kind, err.to_string())
    }
}

/// A pooled connection within `budget`, or why there is none.
pub(crate) async fn acquire<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    budget: Duration,
) -> Result<(PoolConnection<DB>, Instant), Failure> {
    let deadline = Instant::now() + budget;
    match tokio::time::timeout_at(deadline, pool.acquire()).await {
        Ok(Ok(conn)) => Ok((conn, deadline)),
        // Whatever stops a connection being made (refused, bad credentials, a missing
        // file) makes the database unreachable to this caller.
        Ok(Err(err)) => Err(Failure::new(
            FailureKind::Unreachable,
            match &err {
                sqlx::Error::Database(db) => db.message().to_owned(),
                other => other.to_string(),
            },
        )),
        Err(_) => Err(Failure::new(
            FailureKind::Unreachable,
            format!(
                "no connection within {} (the database accepted none, or every pooled \
                 connection stayed busy)",
                humanize(budget)
            ),
        )),
    }
}

/// The outcome of a run bounded by `tokio::time::timeout_at`: past its deadline the
/// connection is closed rather than returned to the pool, since it may be stuck
/// mid-statement.
pub(crate) fn settle<DB: sqlx::Database, T>(
    conn: &mut PoolConnection<DB>,
    result: Result<Result<T, Failure>, tokio::time::error::Elapsed>,
    budget: Duration,
) -> Result<T, Failure> {
    match result {
        Ok(result) => result,
        Err(_) => {
            conn.close_on_drop();
            Err(Failure::new(
                FailureKind::Timeout,
                format!("no answer within {}", humanize(budget)),
            ))
        }
    }
}

/// `2s`, `1.5s`.
pub(crate) fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{}ms", ms)
    }
}
