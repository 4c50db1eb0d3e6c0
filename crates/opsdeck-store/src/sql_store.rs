//! [`SqlStore`]: the store over one database, generic over its [`Dialect`]. Each capability
//! implements its store trait for it once (`crate::shared`); the backends add connecting and
//! migrating (`SqliteStore`, `PgStore`).

use std::fmt;

use opsdeck_core::{Backend, StoreError, StoreResult};
use sqlx::query::Query;
use sqlx::{Executor, Pool, Transaction};

use crate::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::store_error;

pub(crate) struct SqlStore<DB: Dialect> {
    pub(crate) pool: Pool<DB>,
    pub(crate) url: DatabaseUrl,
}

impl<DB: Dialect> SqlStore<DB> {
    pub(crate) fn new(pool: Pool<DB>, url: &DatabaseUrl) -> Self {
        Self {
            pool,
            url: url.clone(),
        }
    }

    /// Maps a driver error to the domain's, passwords scrubbed.
    pub(crate) fn fail(&self, error: sqlx::Error) -> StoreError {
        store_error(error, self.url.secrets(), DB::unavailable)
    }

    /// A statement on this store's backend, to bind (`.arg`) and run.
    pub(crate) fn query(&self, sql: &'static str) -> Query<'static, DB, DB::Arguments> {
        sqlx::query(sql)
    }

    /// The pool, to run one statement on.
    pub(crate) fn db(&self) -> impl Executor<'_, Database = DB> {
        DB::on_pool(&self.pool)
    }

    /// A transaction that will write (see [`Dialect::BEGIN_WRITE`]).
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, DB>> {
        self.pool
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
