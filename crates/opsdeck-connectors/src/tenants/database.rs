//! One database URL of the tenant sources: its pool, made on first use and shared by the
//! statements on that URL, the statement in the form its driver takes, and its failures as
//! the caller sees them.

use std::sync::OnceLock;
use std::time::Duration;

use opsdeck_core::secret::Secret;

use super::run::{self, Failure, FailureKind, Param, Statement};
use super::{Dialect, POOL_SIZE, TenantError, cells, mysql, postgres, sql, sqlite};

/// `sql` in the form `url`'s driver takes, binding `$1..=$max`.
pub(super) fn statement(sql: &str, url: &Secret, max: usize) -> Result<Statement, String> {
    let dialect = Dialect::of_url(url.expose())?;
    let scanned = sql::scan(sql, dialect)?;
    Ok(match dialect {
        Dialect::Mysql => {
            let (sql, binds) = sql::to_question_marks(sql, &scanned);
            Statement { sql, binds }
        }
        Dialect::Postgres | Dialect::Sqlite => Statement {
            sql: sql.to_owned(),
            binds: (0..scanned.max_placeholder().min(max)).collect(),
        },
    })
}

/// One database URL: its pool, made on first use.
pub(super) struct Database {
    url: Secret,
    /// How long a caller may wait for a connection.
    budget: Duration,
    pool: OnceLock<Result<Pool, String>>,
}

enum Pool {
    Postgres(sqlx::PgPool),
    Mysql(mysql::Pool),
    Sqlite(sqlx::SqlitePool),
}

impl Database {
    pub(super) fn new(url: &str, budget: Duration) -> Self {
        Self {
            url: Secret::new(url.to_owned()),
            budget,
            pool: OnceLock::new(),
        }
    }

    fn pool(&self) -> Result<&Pool, Failure> {
        let made = self.pool.get_or_init(|| {
            let url = self.url.expose();
            match Dialect::of_url(url)? {
                Dialect::Postgres => {
                    postgres::pool(url, POOL_SIZE, self.budget).map(Pool::Postgres)
                }
                Dialect::Mysql => mysql::pool(url, POOL_SIZE, self.budget).map(Pool::Mysql),
                Dialect::Sqlite => sqlite::pool(url, POOL_SIZE, self.budget).map(Pool::Sqlite),
            }
        });
        made.as_ref()
            .map_err(|e| Failure::new(FailureKind::Unreachable, e.clone()))
    }

    pub(super) async fn run(
        &self,
        statement: &Statement,
        params: &[Param],
        limit: usize,
        timeout: Duration,
    ) -> Result<run::Fetched, Failure> {
        match self.pool()? {
            Pool::Postgres(pool) => postgres::run(pool, statement, params, limit, timeout).await,
            Pool::Mysql(pool) => mysql::run(pool, statement, params, limit, timeout).await,
            Pool::Sqlite(pool) => sqlite::run(pool, statement, params, limit, timeout).await,
        }
    }

    pub(super) async fn prepare(
        &self,
        statement: &Statement,
        params: &[Param],
        timeout: Duration,
    ) -> Result<Vec<String>, Failure> {
        match self.pool()? {
            Pool::Postgres(pool) => postgres::prepare(pool, statement, params, timeout).await,
            Pool::Mysql(pool) => mysql::prepare(pool, statement, params, timeout).await,
            Pool::Sqlite(pool) => sqlite::prepare(pool, statement, params, timeout).await,
        }
    }

    /// A failure as the caller sees it: the driver's words without the URL or its
    /// password, redacted.
    pub(super) fn error(&self, failure: Failure) -> TenantError {
        let url = self.url.expose();
        let password = url::Url::parse(url)
            .ok()
            .and_then(|u| u.password().map(str::to_owned));
        let mut secrets = vec![url];
        if let Some(password) = password.as_deref() {
            secrets.push(password);
        }
        let message = cells::safe_message(&failure.message, &secrets);
        match failure.kind {
            FailureKind::Timeout => TenantError::Timeout(message),
            FailureKind::Unreachable => TenantError::Unreachable(message),
            FailureKind::ReadOnly => TenantError::ReadOnly(message),
            FailureKind::Query => TenantError::Query(message),
        }
    }
}
