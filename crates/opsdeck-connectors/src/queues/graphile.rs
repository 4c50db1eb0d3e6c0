//! `type = "graphile-worker"`: the application's [graphile-worker] jobs, in its PostgreSQL
//! schema (`schema`, default `graphile_worker`), read and acted on over `url`.
//!
//! **Versions.** The layout of graphile-worker 0.16 to 0.18 — its migrations 16 to 20
//! (`_private_jobs`, `_private_tasks`, `_private_job_queues` and the admin functions that go
//! with them) — read from its own `migrations` table in every transaction. Any other
//! migration, or no such table, is refused with [`QueueError::Unsupported`] before anything
//! else is read or written.
//!
//! **Queues are task identifiers.** Every graphile-worker job has a task (`send_email`,
//! `charge_card`): it is what the application adds jobs by, what its workers are written
//! per, and what its logs name, so it is what its users call a queue. graphile-worker's
//! *named queues* (`queue_name`) are something else: an optional lock that makes the jobs
//! sharing it run one at a time, often one per customer or record, so most jobs have none
//! and some applications have thousands. A job's named queue is shown among its options,
//! and `tenant_path = "queue_name"` reads the tenant from it where that is how the
//! application serialises per tenant.
//!
//! **States.** graphile-worker keeps no state column; opsdeck derives one per job. A job
//! locked by a worker is `active`; an unlocked one whose attempts are used up (`attempts >=
//! max_attempts`) is `failed`; one that failed before (`attempts > 0`, `last_error`) with
//! attempts left is `retrying`; the others are `waiting` when due and `scheduled` when not.
//! Completed jobs are deleted by graphile-worker, so there is no `completed` or `dead`.
//!
//! **Counts.** Its only index over jobs by state, `jobs_main_index`, covers *available* jobs
//! (unlocked, attempts left). Every poll counts from it, per task, the jobs due now
//! (`waiting`, jobs due again after a failure included: they are waiting to run) and due
//! later (`scheduled`, retries in their back-off included), and the oldest due job's age.
//! `failed`, `retrying` and `active`, and the failures of the last hour, have no index
//! behind them: one scan counts them all, only on the poller's `slow` polls, under a
//! statement timeout of its own (the read timeout, at least 10 s; past it the scan is given
//! up and the last counts stand), and each count says when it was taken. graphile-worker records no failure time; a worker's
//! failure sets `run_at` to the failure time plus `exp(min(attempts, 10))` seconds, so
//! that is read back (or `updated_at`, for jobs failed by `permanently_fail_jobs`):
//! "failures in the last hour" are the jobs whose latest failure is that recent.
//!
//! **Reads** run in `READ ONLY` transactions with a `statement_timeout` (the source's read
//! timeout). Lists page by keyset cursor: failed, retrying and active jobs newest first by
//! id (the primary key), waiting and scheduled jobs in the order workers take them
//! (priority, run_at: `jobs_main_index`); each page reads at most [`jobs::SCAN_MAX`] jobs,
//! of any task, so a page that matches few says how far it looked.
//!
//! **Actions** run in chunks of [`act::CHUNK`] jobs, each chunk one transaction, and act
//! only on jobs that are still in this queue, not locked by a worker, still in the state
//! they were seen in and, for a bulk action, failed no later than the dry run; the others
//! are skipped with the reason.
//! - *Retry* a failed job: what `reschedule_jobs(ids, run_at => now(), attempts => 0)` does,
//!   the documented way to run a job again with its full number of attempts — its own
//!   `UPDATE`, made by opsdeck with the guard in its `WHERE`, so that PostgreSQL re-checks
//!   the guard on any row changed meanwhile and each row is written once; a retrying job is
//!   only brought forward (`run_at => now()`), its attempts kept.
//! - *Discard* a failed job: `complete_jobs(ids)`, which deletes it — graphile-worker keeps
//!   no finished jobs, so deletion is the terminal state its users know (the audit log keeps
//!   what was discarded). A retrying job is discarded with `permanently_fail_jobs`, which
//!   stops its retries and leaves it failed, where it can be looked at and removed. Both on
//!   rows locked first (`FOR UPDATE SKIP LOCKED`, so a worker is never waited on) and
//!   re-checked.
//!
//! graphile-worker has no pause.
//!
//! [graphile-worker]: https://worker.graphile.org

mod act;
mod jobs;
mod poll;
mod sql;

use std::time::Duration;

use async_trait::async_trait;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{JobDetail, JobFilter, System};
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Postgres, Transaction};

use super::{
    ActGuard, ActionReport, Capabilities, JobPage, JobQuery, Poll, Problems, QueueConnector,
    QueueError, QueueType, SourceContext,
};
use crate::health::target::{server_address, shown_target};
use crate::queues::pg_tx::TxMode;
use sql::Statements;

/// The migrations of the layout this connector knows: graphile-worker 0.16 (16, the
/// `_private_*` tables) to 0.18 (20).
pub const MIGRATIONS: std::ops::RangeInclusive<i32> = 16..=20;

/// How long a dry run's selection or one chunk of an action may take.
const ACT_TIMEOUT: Duration = Duration::from_secs(30);

/// `type = "graphile-worker"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graphile {
    /// `postgres://USER:PASSWORD@HOST/DB` of the application's database.
    pub url: Secret,
    /// The schema graphile-worker was installed in (its `schema` option).
    #[serde(default = "default_schema")]
    pub schema: String,
}

fn default_schema() -> String {
    "graphile_worker".to_owned()
}

/// Whether `name` is a schema name opsdeck quotes safely: a plain PostgreSQL identifier.
fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[async_trait]
impl QueueType for Graphile {
    const TYPE: &'static str = "graphile-worker";
    const SYSTEM: System = System::GraphileWorker;

    fn validate(&self) -> Problems {
        let mut problems = Problems::new();
        if !valid_schema(&self.schema) {
            problems.push((
                "schema".to_owned(),
                "must be a plain PostgreSQL identifier (letters, digits, _ and $, not starting \
                 with a digit, at most 63 characters), as given to graphile-worker's `schema` \
                 option"
                    .to_owned(),
            ));
        }
        if let Err(err) = self.url.expose().parse::<PgConnectOptions>() {
            let why = crate::health::target::strip_credentials(&err.to_string());
            problems.push(("url".to_owned(), format!("not a PostgreSQL URL: {why}")));
        }
        problems
    }

    fn target(&self) -> String {
        format!(
            "{} (schema {})",
            shown_target(self.url.expose()),
            self.schema
        )
    }

    fn secrets(&self) -> Vec<&Secret> {
        vec![&self.url]
    }

    async fn connect(&self, context: SourceContext) -> Result<Box<dyn QueueConnector>, QueueError> {
        let options: PgConnectOptions = self
            .url
            .expose()
            .parse()
            .map_err(|_| QueueError::Other("the url is not a PostgreSQL URL".into()))?;
        // Polls run every few seconds: statement logs would only be noise.
        let options = options
            .application_name("opsdeck")
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .acquire_timeout(context.read_timeout.max(Duration::from_millis(500)))
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(options);
        Ok(Box::new(GraphileConnector {
            at: server_address(self.url.expose(), 5432),
            sql: Statements::new(&self.schema, context.tenant_path.as_ref()),
            pool,
            context,
        }))
    }
}

/// A connection to one graphile-worker schema.
pub struct GraphileConnector {
    pool: PgPool,
    sql: Statements,
    context: SourceContext,
    /// `host:port`, for messages.
    at: String,
}

impl std::fmt::Debug for GraphileConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphileConnector")
            .field("source", &self.context.source)
            .field("at", &self.at)
            .field("schema", &self.sql.schema)
            .finish_non_exhaustive()
    }
}

/// A job id as graphile-worker knows it (`bigint`), or `None` for one it cannot have.
fn job_number(id: &JobId) -> Option<i64> {
    id.as_str().parse().ok().filter(|n| *n > 0)
}

impl GraphileConnector {
    /// What a database error means to the caller.
    fn fail(&self, err: sqlx::Error) -> QueueError {
        use sqlx::Error as E;
        match &err {
            E::PoolTimedOut | E::Io(_) | E::Tls(_) | E::PoolClosed => {
                QueueError::Unreachable(format!("PostgreSQL at {} does not answer: {err}", self.at))
            }
            E::Database(db) => match db.code().as_deref() {
                Some("57014") => QueueError::Other(format!(
                    "PostgreSQL at {} cancelled a statement past its statement_timeout",
                    self.at
                )),
                Some("3F000" | "42P01" | "42883") => QueueError::Unsupported(format!(
                    "schema {} holds no graphile-worker 0.16–0.18 layout ({})",
                    self.sql.schema,
                    db.message()
                )),
                Some(code) if code.starts_with("08") || code.starts_with("57P") => {
                    QueueError::Unreachable(format!("PostgreSQL at {}: {}", self.at, db.message()))
                }
                _ => QueueError::Other(format!("PostgreSQL at {}: {}", self.at, db.message())),
            },
            _ => QueueError::Other(format!("PostgreSQL at {}: {err}", self.at)),
        }
    }

    /// A transaction on the source: read-only unless `write`, with `timeout` as its
    /// `statement_timeout`, after checking graphile-worker's migration. Returns the
    /// migration found.
    async fn begin(
        &self,
        mode: TxMode,
        timeout: Duration,
    ) -> Result<(Transaction<'static, Postgres>, i32), QueueError> {
        let begin = mode.begin(timeout);
        let mut tx = self
            .pool
            .begin_with(sqlx::AssertSqlSafe(begin))
            .await
            .map_err(|e| self.fail(e))?;
        match self.check_version(&mut tx).await {
            Ok(migration) => Ok((tx, migration)),
            Err(err) => {
                let _ = tx.rollback().await;
                Err(err)
            }
        }
    }

    async fn check_version(
        &self,
        tx: &mut Transaction<'static, Postgres>,
    ) -> Result<i32, QueueError> {
        let found: Option<(Option<i32>,)> =
            sqlx::query_as(sqlx::AssertSqlSafe(self.sql.migration.as_str()))
                .fetch_optional(&mut **tx)
                .await
                .map_err(|e| self.fail(e))?;
        match found.and_then(|(id,)| id) {
            Some(id) if MIGRATIONS.contains(&id) => Ok(id),
            Some(id) => Err(QueueError::Unsupported(format!(
                "schema {} is at graphile-worker migration {id}; opsdeck knows migrations {} to \
                 {} (graphile-worker 0.16 to 0.18) and reads nothing else",
                self.sql.schema,
                MIGRATIONS.start(),
                MIGRATIONS.end()
            ))),
            None => Err(QueueError::Unsupported(format!(
                "schema {} has no graphile-worker migrations",
                self.sql.schema
            ))),
        }
    }

    /// The id of the task `queue` names, or `NotFound`.
    async fn task_id(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        queue: &QueueName,
    ) -> Result<i32, QueueError> {
        let found: Option<(i32,)> = sqlx::query_as(sqlx::AssertSqlSafe(self.sql.task_id.as_str()))
            .bind(queue.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.fail(e))?;
        found
            .map(|(id,)| id)
            .ok_or_else(|| QueueError::NotFound(format!("graphile-worker has no task \"{queue}\"")))
    }

    /// Ends a transaction of [`Self::begin`] after `result`: committed when it is `Ok`, rolled
    /// back when not. Every transaction ends here: one merely dropped leaves its session idle
    /// in the transaction (sqlx sends the rollback only when the connection is next used),
    /// holding its locks on graphile-worker's tables against its own migrations.
    async fn finish<T>(
        &self,
        tx: Transaction<'static, Postgres>,
        result: Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        match result {
            Ok(value) => {
                tx.commit().await.map_err(|e| self.fail(e))?;
                Ok(value)
            }
            Err(err) => {
                let _ = tx.rollback().await;
                Err(err)
            }
        }
    }
}

fn version_text(migration: i32) -> String {
    format!("graphile-worker migration {migration}")
}

#[async_trait]
impl QueueConnector for GraphileConnector {
    fn system(&self) -> System {
        System::GraphileWorker
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            retry: Ok(()),
            discard: Ok(()),
            pause: Err("graphile-worker has no pause"),
            bulk: Ok(()),
        }
    }

    async fn poll(&self, slow: bool) -> Result<Poll, QueueError> {
        poll::poll(self, slow).await
    }

    async fn list_jobs(&self, queue: &QueueName, query: &JobQuery) -> Result<JobPage, QueueError> {
        jobs::list(self, queue, query).await
    }

    async fn get_job(
        &self,
        queue: &QueueName,
        id: &JobId,
    ) -> Result<Option<JobDetail>, QueueError> {
        jobs::get(self, queue, id).await
    }

    async fn select(
        &self,
        queue: &QueueName,
        filter: &JobFilter,
        limit: usize,
    ) -> Result<Vec<JobId>, QueueError> {
        jobs::select(self, queue, filter, limit).await
    }

    async fn retry(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        act::act(self, queue, ids, guard, act::Action::Retry).await
    }

    async fn discard(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        act::act(self, queue, ids, guard, act::Action::Discard).await
    }
}
