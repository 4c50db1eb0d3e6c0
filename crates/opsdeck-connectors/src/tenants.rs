//! Tenant sources (SPEC §6): read-only SQL on the application's own database —
//! `[tenants] directory`, which lists and searches tenants, and `[[tenants.queries]]`, the
//! facts (`profile`) and short lists (`table`) shown on a tenant's page — on PostgreSQL,
//! MySQL/MariaDB and SQLite.
//!
//! What every run promises:
//! - **Read-only.** Each run is its own transaction, opened read-only and always rolled
//!   back: PostgreSQL `BEGIN READ ONLY`; MySQL/MariaDB `START TRANSACTION READ ONLY`;
//!   SQLite a connection opened `mode=ro` with `PRAGMA query_only`. A write, however it is
//!   spelt (a CTE, a function with side effects), is refused by the database itself:
//!   [`TenantError::ReadOnly`]. The statement text is also checked when the configuration
//!   loads ([`check_statement`]), which only names a mistake early.
//! - **Bounded.** A statement timeout on the server (PostgreSQL `statement_timeout`,
//!   MariaDB `max_statement_time`, MySQL `max_execution_time`, a SQLite progress handler)
//!   and, a second later, the client gives up on the connection and closes it, so a hung
//!   database never holds a caller. At most `row_limit` rows are read (one more is asked for
//!   to know there were more: `truncated`). Pools are made on first use and small
//!   ([`POOL_SIZE`] connections per URL, shared by the queries with the same URL).
//! - **Minimal data.** Every value passes the redactor; columns named in `mask`, and
//!   columns whose name says they hold a secret, are replaced whole by `***` (`null` stays
//!   `null`). Error messages are the driver's, without the URL or its password, redacted.
//! - **Isolated.** One query's failure is its own: [`TenantSources::run_all`] runs every
//!   query at once and answers each with its own `Result`.
//!
//! Placeholders are written `$1` (and `$2`) whatever the database: `$1` is the tenant id
//! (as text) for a query; the search text and `$2` the row limit for the directory. MySQL
//! statements are sent with `?` in their place.

mod cells;
mod database;
mod mysql;
mod postgres;
mod run;
mod sql;
mod sqlite;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck_core::ids::TenantId;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use cells::MASKED;
use database::{Database, statement};
use run::{Param, Statement};

/// A query's statement timeout unless it sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest statement timeout a query may set: the tenant page waits for it.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// The rows a `table` query shows unless it sets `row_limit`.
pub const DEFAULT_ROW_LIMIT: u32 = 50;
/// The most rows a `table` query may show.
pub const MAX_ROW_LIMIT: u32 = 1000;
/// The most tenants one directory search returns.
pub const MAX_DIRECTORY_LIMIT: usize = 200;
/// The longest search text passed to the directory query, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Connections per database URL.
pub const POOL_SIZE: u32 = 2;

/// What a query shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryKind {
    /// One row of facts (the first row the statement returns).
    Profile,
    /// A few rows.
    Table,
}

impl QueryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Profile => "profile",
            QueryKind::Table => "table",
        }
    }
}

/// The database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

impl Dialect {
    /// The dialect of `url`'s scheme: `postgres`/`postgresql`, `mysql`/`mariadb`, `sqlite`.
    /// The message never quotes the URL.
    pub fn of_url(url: &str) -> Result<Self, String> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Ok(Dialect::Postgres),
            Some("mysql" | "mariadb") => Ok(Dialect::Mysql),
            Some("sqlite") => Ok(Dialect::Sqlite),
            _ => Err(
                "unsupported database URL; expected postgres://…, mysql://… (or mariadb://…) \
                 or sqlite://FILE"
                    .to_owned(),
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }
}

/// Why `sql` cannot be a tenant statement on `dialect` taking `$1..=$max_placeholder`:
/// not exactly one statement, not starting as a read, a write keyword outside strings and
/// comments, or another placeholder.
pub fn check_statement(sql: &str, dialect: Dialect, max_placeholder: usize) -> Result<(), String> {
    sql::check(sql, dialect, max_placeholder)
}

/// Why `url` cannot be opened, without connecting (a malformed URL); never quotes it.
pub fn check_url(url: &str) -> Result<Dialect, String> {
    let dialect = Dialect::of_url(url)?;
    let parsed = match dialect {
        Dialect::Postgres => postgres::pool_options(url).map(drop),
        Dialect::Mysql => mysql::connect_options(url).map(drop),
        Dialect::Sqlite => sqlite::connect_options(url).map(drop),
    };
    parsed.map(|()| dialect)
}

/// One `[[tenants.queries]]` entry, validated.
#[derive(Debug, Clone)]
pub struct TenantQuery {
    pub name: String,
    pub url: Secret,
    /// One statement; `$1` is the tenant id.
    pub sql: String,
    pub kind: QueryKind,
    /// Columns shown as [`MASKED`] (matched without regard to case).
    pub mask: Vec<String>,
    pub timeout: Duration,
    /// The most rows shown (a profile shows one).
    pub row_limit: u32,
}

/// `[tenants] directory`, validated.
#[derive(Debug, Clone)]
pub struct DirectoryQuery {
    pub url: Secret,
    /// One statement returning `id` and `name` (and `plan`, `status` where the application
    /// has them); `$1` is the search text (empty: list), `$2` the row limit.
    pub sql: String,
    pub timeout: Duration,
}

/// What a query read, redacted and masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rows {
    /// Column names, in the statement's order.
    pub columns: Vec<String>,
    /// Each row's values, in the order of `columns`.
    pub rows: Vec<Vec<Value>>,
    /// More rows were there than shown.
    pub truncated: bool,
    /// How long the run took.
    #[serde(rename = "elapsed_ms", serialize_with = "as_millis")]
    pub elapsed: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One query's answer in [`TenantSources::run_all`].
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    pub name: String,
    pub kind: QueryKind,
    pub result: Result<Rows, TenantError>,
}

/// One tenant as the directory lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryEntry {
    /// The tenant's id as the application keys it: not redacted, as it is what links to the
    /// tenant, and always a valid `TenantId` (rows with other ids are left out).
    pub id: String,
    pub name: Option<String>,
    pub plan: Option<String>,
    pub status: Option<String>,
}

/// A directory search's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryPage {
    pub tenants: Vec<DirectoryEntry>,
    /// More tenants matched than the limit.
    pub truncated: bool,
    #[serde(rename = "elapsed_ms", serialize_with = "as_millis")]
    pub elapsed: Duration,
}

/// What [`TenantSources::prepare_all`] prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Directory,
    /// A query, by its position in the configuration and its name.
    Query(usize, String),
}

/// Why a tenant source could not answer. Messages are safe to show: they never hold the
/// URL or its password, and the driver's words are redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("no tenant query is named \"{0}\"")]
    UnknownQuery(String),
    #[error("no tenant directory query is configured")]
    NoDirectory,
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("database unreachable: {0}")]
    Unreachable(String),
    #[error("refused by the read-only transaction: {0}")]
    ReadOnly(String),
    #[error("query failed: {0}")]
    Query(String),
}

impl TenantError {
    /// A snake_case code for JSON answers.
    pub fn code(&self) -> &'static str {
        match self {
            TenantError::UnknownQuery(_) => "unknown_query",
            TenantError::NoDirectory => "no_directory",
            TenantError::Misconfigured(_) => "misconfigured",
            TenantError::Timeout(_) => "timeout",
            TenantError::Unreachable(_) => "unreachable",
            TenantError::ReadOnly(_) => "read_only",
            TenantError::Query(_) => "query_failed",
        }
    }
}

/// The tenant sources of a configuration: cheap to clone, pools made on first use.
#[derive(Clone)]
pub struct TenantSources {
    inner: Arc<Inner>,
}

struct Inner {
    directory: Option<Runner>,
    queries: Vec<Runner>,
}

impl fmt::Debug for TenantSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.inner.queries.iter().map(|q| q.name.as_str()).collect();
        f.debug_struct("TenantSources")
            .field("directory", &self.inner.directory.is_some())
            .field("queries", &names)
            .finish()
    }
}

/// One statement ready to run on its database.
struct Runner {
    name: String,
    kind: QueryKind,
    mask: Vec<String>,
    /// A column shown as read, not redacted: the directory's `id`, which links to the
    /// tenant.
    keep: Option<&'static str>,
    timeout: Duration,
    row_limit: usize,
    statement: Result<Statement, String>,
    database: Arc<Database>,
}

impl TenantSources {
    /// Sources with nothing configured: every call answers that nothing is.
    pub fn none() -> Self {
        Self::new(None, Vec::new())
    }

    /// Sources for `directory` and `queries`. Nothing connects until a query runs; a
    /// statement or URL that cannot be used fails that query only.
    pub fn new(directory: Option<DirectoryQuery>, queries: Vec<TenantQuery>) -> Self {
        let mut budgets: BTreeMap<String, Duration> = BTreeMap::new();
        let timeouts = directory
            .iter()
            .map(|d| (d.url.expose(), d.timeout))
            .chain(queries.iter().map(|q| (q.url.expose(), q.timeout)));
        for (url, timeout) in timeouts {
            let budget = budgets.entry(url.to_owned()).or_default();
            *budget = (*budget).max(timeout.min(MAX_TIMEOUT));
        }
        let databases: BTreeMap<String, Arc<Database>> = budgets
            .into_iter()
            .map(|(url, timeout)| {
                let database = Database::new(&url, timeout + run::CLIENT_MARGIN);
                (url, Arc::new(database))
            })
            .collect();
        let database = |url: &Secret| Arc::clone(&databases[url.expose()]);
        let directory = directory.map(|d| Runner {
            name: "directory".to_owned(),
            kind: QueryKind::Table,
            mask: Vec::new(),
            keep: Some("id"),
            timeout: d.timeout.min(MAX_TIMEOUT),
            row_limit: MAX_DIRECTORY_LIMIT,
            statement: statement(&d.sql, &d.url, 2),
            database: database(&d.url),
        });
        let queries = queries
            .into_iter()
            .map(|q| Runner {
                row_limit: match q.kind {
                    QueryKind::Profile => 1,
                    QueryKind::Table => q.row_limit.clamp(1, MAX_ROW_LIMIT) as usize,
                },
                statement: statement(&q.sql, &q.url, 1),
                database: database(&q.url),
                timeout: q.timeout.min(MAX_TIMEOUT),
                name: q.name,
                kind: q.kind,
                mask: q.mask,
                keep: None,
            })
            .collect();
        Self {
            inner: Arc::new(Inner { directory, queries }),
        }
    }

    /// Whether a directory query is configured.
    pub fn has_directory(&self) -> bool {
        self.inner.directory.is_some()
    }

    /// The queries, in configuration order: name and kind.
    pub fn queries(&self) -> Vec<(&str, QueryKind)> {
        self.inner
            .queries
            .iter()
            .map(|q| (q.name.as_str(), q.kind))
            .collect()
    }

    /// Runs the query `name` for `tenant`.
    pub async fn run_query(&self, name: &str, tenant: &TenantId) -> Result<Rows, TenantError> {
        let runner = self
            .inner
            .queries
            .iter()
            .find(|q| q.name == name)
            .ok_or_else(|| TenantError::UnknownQuery(name.to_owned()))?;
        runner
            .rows(&[Param::Text(tenant.as_str().to_owned())], runner.row_limit)
            .await
    }

    /// Runs every query for `tenant` at once; each answers on its own, in configuration
    /// order.
    pub async fn run_all(&self, tenant: &TenantId) -> Vec<QueryOutcome> {
        let params = [Param::Text(tenant.as_str().to_owned())];
        let runs = self.inner.queries.iter().map(|runner| {
            let params = &params;
            async move {
                QueryOutcome {
                    name: runner.name.clone(),
                    kind: runner.kind,
                    result: runner.rows(params, runner.row_limit).await,
                }
            }
        });
        futures_util::future::join_all(runs).await
    }

    /// Tenants matching `q` (trimmed, at most [`MAX_SEARCH_CHARS`]; empty lists them), at
    /// most `limit` (1 to [`MAX_DIRECTORY_LIMIT`]).
    pub async fn directory_search(
        &self,
        q: &str,
        limit: usize,
    ) -> Result<DirectoryPage, TenantError> {
        let runner = self
            .inner
            .directory
            .as_ref()
            .ok_or(TenantError::NoDirectory)?;
        let limit = limit.clamp(1, MAX_DIRECTORY_LIMIT);
        let q: String = q.trim().chars().take(MAX_SEARCH_CHARS).collect();
        let asked = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let rows = runner
            .rows(&[Param::Text(q), Param::Int(asked)], limit)
            .await?;
        let column = |name: &str| {
            rows.columns
                .iter()
                .position(|c| c.eq_ignore_ascii_case(name))
        };
        let Some(id) = column("id") else {
            return Err(TenantError::Misconfigured(
                "the directory query returns no `id` column".to_owned(),
            ));
        };
        let (name, plan, status) = (column("name"), column("plan"), column("status"));
        let text = |row: &[Value], at: Option<usize>| match at.and_then(|i| row.get(i)) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        // A row whose id is not a tenant id opsdeck accepts could not be linked to: left out.
        let tenants = rows
            .rows
            .iter()
            .filter_map(|row| {
                Some(DirectoryEntry {
                    id: text(row, Some(id)).filter(|id| TenantId::parse(id).is_ok())?,
                    name: text(row, name),
                    plan: text(row, plan),
                    status: text(row, status),
                })
            })
            .collect();
        Ok(DirectoryPage {
            tenants,
            truncated: rows.truncated,
            elapsed: rows.elapsed,
        })
    }

    /// The directory's row for `tenant`: the directory searched for its id, and the row
    /// whose `id` is exactly it. The directory query must match a tenant by its exact id
    /// (`id = $1 OR …`).
    pub async fn directory_get(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<DirectoryEntry>, TenantError> {
        let page = self
            .directory_search(tenant.as_str(), MAX_DIRECTORY_LIMIT)
            .await?;
        Ok(page.tenants.into_iter().find(|t| t.id == tenant.as_str()))
    }

    /// Prepares every statement on its database, executing none, in a read-only
    /// transaction: the directory first, then each query. The directory must return an
    /// `id` column. For `check-config --connect`.
    pub async fn prepare_all(&self) -> Vec<(Target, Result<(), TenantError>)> {
        let directory = self.inner.directory.iter().map(|runner| async move {
            let params = [Param::Text(String::new()), Param::Int(1)];
            let result = runner.prepare(&params).await.and_then(|columns| {
                if columns.iter().any(|c| c.eq_ignore_ascii_case("id")) {
                    Ok(())
                } else {
                    Err(TenantError::Misconfigured(format!(
                        "the directory query returns no `id` column (it returns {})",
                        columns.join(", ")
                    )))
                }
            });
            (Target::Directory, result)
        });
        let mut out = futures_util::future::join_all(directory).await;
        let queries = self
            .inner
            .queries
            .iter()
            .enumerate()
            .map(|(index, runner)| async move {
                let params = [Param::Text(String::new())];
                let result = runner.prepare(&params).await.map(drop);
                (Target::Query(index, runner.name.clone()), result)
            });
        out.extend(futures_util::future::join_all(queries).await);
        out
    }
}

impl Runner {
    async fn rows(&self, params: &[Param], limit: usize) -> Result<Rows, TenantError> {
        let statement = self
            .statement
            .as_ref()
            .map_err(|e| TenantError::Misconfigured(e.clone()))?;
        let started = Instant::now();
        let fetched = self
            .database
            .run(statement, params, limit, self.timeout)
            .await
            .map_err(|f| self.database.error(f))?;
        let mut rows = fetched.rows;
        for row in &mut rows {
            cells::protect(&fetched.columns, &self.mask, self.keep, row);
        }
        Ok(Rows {
            columns: fetched.columns,
            rows,
            truncated: fetched.truncated,
            elapsed: started.elapsed(),
        })
    }

    async fn prepare(&self, params: &[Param]) -> Result<Vec<String>, TenantError> {
        let statement = self
            .statement
            .as_ref()
            .map_err(|e| TenantError::Misconfigured(e.clone()))?;
        self.database
            .prepare(statement, params, self.timeout)
            .await
            .map_err(|f| self.database.error(f))
    }
}
