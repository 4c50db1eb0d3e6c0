//! Each store trait implemented once, for [`SqlStore`] over any
//! [`Dialect`](crate::dialect::Dialect): the control flow, the binding and the decoding of
//! rows. What differs by backend is asked of it through one trait per capability (`…Sql`):
//! the SQL text (a `…Queries` struct of statements, whose docs say what each binds and
//! returns) and, where a backend has a better tool of its own (PostgreSQL's row locks and
//! arrays, SQLite's JSON functions), a hook it implements its own way.
//!
//! A new capability is a `…Queries` struct and a `…Sql: Dialect` trait in a module here, with
//! its store trait implemented once for `SqlStore<DB: …Sql>`; `impl …Sql for Sqlite` and
//! `for Postgres` in a file of that name in each backend, giving the statements; and the
//! trait among the bounds of [`Store`] below.

pub(crate) mod alerts;
pub(crate) mod audit;
pub(crate) mod checks;
pub(crate) mod cron;
pub(crate) mod cron_apply;
pub(crate) mod cron_guard;
pub(crate) mod cron_runs;
pub(crate) mod database;
pub(crate) mod events;
pub(crate) mod impersonation;
pub(crate) mod latest;
pub(crate) mod queues;
pub(crate) mod sessions;
pub(crate) mod tokens;

use async_trait::async_trait;
use opsdeck_core::{Backend, Store};

use crate::sql_store::SqlStore;

/// Everything opsdeck stores, over a backend that gives the SQL of every capability.
#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: alerts::AlertSql
        + audit::AuditSql
        + checks::CheckSql
        + cron::CronSql
        + cron_guard::CronGuardSql
        + cron_runs::CronRunSql
        + database::DatabaseSql
        + impersonation::ImpersonationSql
        + events::EventSql
        + queues::QueueSql
        + sessions::SessionSql
        + tokens::TokenSql,
{
    fn backend(&self) -> Backend {
        DB::BACKEND
    }

    async fn close(&self) {
        self.pool_unguarded().close().await;
    }
}
