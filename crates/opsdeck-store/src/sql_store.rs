//! [`SqlStore`]: the store over one database, generic over its [`Dialect`]. Each capability
//! implements its store trait for it once (`crate::shared`); the backends add connecting and
//! migrating (`SqliteStore`, `PgStore`).

use std::fmt;
use std::sync::Arc;

use opsdeck_core::store::Availability;
use opsdeck_core::{Backend, StoreError, StoreResult};
use sqlx::query::Query;
use sqlx::{Executor, Pool, Transaction};

use crate::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::store_error;

pub(crate) struct SqlStore<DB: Dialect> {
    pool: Pool<DB>,
    pub(crate) url: DatabaseUrl,
    /// The breaker: open while the database is unreachable, so calls fail at once.
    availability: Arc<Availability>,
}

impl<DB: Dialect> SqlStore<DB> {
    pub(crate) fn new(pool: Pool<DB>, url: &DatabaseUrl) -> Self {
        Self {
            pool,
            url: url.clone(),
            availability: Arc::default(),
        }
    }

    pub(crate) fn availability(&self) -> &Availability {
        &self.availability
    }

    /// Maps a driver error to the domain's, passwords scrubbed. On PostgreSQL an unreachable
    /// database trips the breaker; SQLite's "busy" passes on its own and is not an outage.
    pub(crate) fn fail(&self, error: sqlx::Error) -> StoreError {
        let error = store_error(error, self.url.secrets(), DB::unavailable);
        if matches!(error, StoreError::Unavailable(_))
            && DB::BACKEND == Backend::Postgres
            && self.availability.tripped(chrono::Utc::now())
        {
            let cause = std::error::Error::source(&error).map(ToString::to_string);
            tracing::error!(
                cause = cause.as_deref().unwrap_or("unknown"),
                "opsdeck's database is unreachable; calls fail at once until it answers again"
            );
        }
        error
    }

    /// `Err` at once while the breaker is open.
    fn open(&self) -> StoreResult<()> {
        match self.availability.refusal() {
            Some(outage) => Err(StoreError::Unavailable(Box::new(outage))),
            None => Ok(()),
        }
    }

    /// The pool, whatever the breaker says: for the probe that closes it.
    pub(crate) fn pool_unguarded(&self) -> &Pool<DB> {
        &self.pool
    }

    /// A statement on this store's backend, to bind (`.arg`) and run.
    pub(crate) fn query(&self, sql: &'static str) -> Query<'static, DB, DB::Arguments> {
        sqlx::query(sql)
    }

    /// The pool, to run one statement on; `Err` at once during an outage.
    pub(crate) fn db(&self) -> StoreResult<impl Executor<'_, Database = DB>> {
        self.open()?;
        Ok(DB::on_pool(&self.pool))
    }

    /// The pool, for a transaction or a backend's own use; `Err` at once during an outage.
    pub(crate) fn pool(&self) -> StoreResult<&Pool<DB>> {
        self.open()?;
        Ok(&self.pool)
    }

    /// A transaction that will write (see [`Dialect::BEGIN_WRITE`]).
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, DB>> {
        self.pool()?
            .begin_with(DB::BEGIN_WRITE)
            .await
            .map_err(|e| self.fail(e))
    }

    pub(crate) async fn commit(&self, tx: Transaction<'static, DB>) -> StoreResult<()> {
        tx.commit().await.map_err(|e| self.fail(e))
    }
}

impl<DB: Dialect> fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match DB::BACKEND {
            Backend::Sqlite => "SqliteStore",
            Backend::Postgres => "PgStore",
        };
        f.debug_struct(name)
            .field("url", &self.url)
            .field("connections", &self.pool.size())
            .field("closed", &self.pool.is_closed())
            .finish()
    }
}
