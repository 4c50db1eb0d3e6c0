//! PostgreSQL as a [`Dialect`].

use opsdeck_core::Backend;
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnection, PgQueryResult};
use sqlx::{Executor, Pool, Postgres};

use crate::dialect::Dialect;

impl Dialect for Postgres {
    const BACKEND: Backend = Backend::Postgres;
    const BEGIN_WRITE: &'static str = "BEGIN";
    const COPIES_BOUND_TEXT: bool = false;

    fn on_pool<'c>(pool: &'c Pool<Self>) -> impl Executor<'c, Database = Self> {
        pool
    }

    fn on_conn<'c>(conn: &'c mut PgConnection) -> impl Executor<'c, Database = Self> {
        conn
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    /// SQLSTATEs meaning the server cannot serve now: class 08 (connection exception), class
    /// 53 (insufficient resources: too many connections, disk full), 57P01–57P03 (shutting
    /// down, crashed, starting up).
    fn unavailable(error: &dyn DatabaseError) -> bool {
        error.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(&*code, "57P01" | "57P02" | "57P03")
        })
    }
}
