//! SQLite as a [`Dialect`].

use opsdeck_core::Backend;
use sqlx::error::DatabaseError;
use sqlx::sqlite::{SqliteConnection, SqliteQueryResult};
use sqlx::{Executor, Pool, Sqlite};

use crate::dialect::Dialect;

impl Dialect for Sqlite {
    const BACKEND: Backend = Backend::Sqlite;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const COPIES_BOUND_TEXT: bool = true;

    fn on_pool<'c>(pool: &'c Pool<Self>) -> impl Executor<'c, Database = Self> {
        pool
    }

    fn on_conn<'c>(conn: &'c mut SqliteConnection) -> impl Executor<'c, Database = Self> {
        conn
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    /// Result codes (primary code = low byte) meaning the database cannot serve now: BUSY,
    /// LOCKED, IOERR, FULL, CANTOPEN.
    fn unavailable(error: &dyn DatabaseError) -> bool {
        matches!(super::primary_code(error), Some(5 | 6 | 10 | 13 | 14))
    }
}
