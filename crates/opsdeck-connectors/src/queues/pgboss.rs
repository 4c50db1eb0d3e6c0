//! `type = "pg-boss"`: the application's [pg-boss] queues, in its PostgreSQL schema
//! (`schema`, default `pgboss`), read and acted on over `url`; `queues` limits the source to
//! the queues named (all of them by default; pg-boss's internal `__pgboss__…` queues are never
//! shown).
//!
//! **Versions.** pg-boss records its schema version in `<schema>.version`; it is read in
//! every transaction. Two layouts are known: schema version 24 (pg-boss 10.x, read from
//! 10.4.2: one job table partition per queue, no cached counts) and schema version 46
//! (pg-boss 12.x, read from 12.38.1: counts cached in the `queue` table, dead-letter
//! provenance in `source_*` columns). Any other version, or no such table, is refused with
//! [`QueueError::Unsupported`] before anything else is read or written.
//!
//! **States.** A job's own state maps pg-boss's `job_state` onto opsdeck's: `created` is
//! `waiting` when due (and, in 12.x, not blocked by a flow parent) and `scheduled` otherwise;
//! `retry` (failed, with attempts left) is `retrying` while it waits out its back-off and
//! `waiting` once due again (a retried job is due at once, so it is waiting, not failed or
//! retrying, and a second retry finds nothing to do); `active`, `failed` and `completed` are
//! themselves; `cancelled` is `dead`. In 12.x a job that was dead-lettered into a queue and
//! has not started there (`source_name` set) is `dead` too: what pg-boss's own `redrive`
//! sends back to its original queue. The `waiting` and `scheduled` lists and counts are
//! pg-boss's own: every job not started yet, due now (what a worker would fetch) or later, so
//! they hold the retrying and dead-lettered jobs as well, as pg-boss's `readyCount` and
//! `deferredCount` do.
//!
//! **Counts.** 12.x: every poll reads the counts pg-boss's monitor caches in its `queue` table
//! (ready as `waiting`, deferred and blocked as `scheduled`, `active`, `failed`), each stamped
//! with the monitor's `monitor_on`, and counts `retrying` jobs from its live-jobs index
//! (`job_i14`). 10.x keeps no cached counts: every poll counts the jobs not yet started from
//! its fetch index (`job_i5`: `waiting`, `scheduled`, `retrying` and the oldest waiting job's
//! age). What has no index or cache behind it — `active`, `failed`, `dead` and `completed`
//! on 10.x, `dead` and `completed` on 12.x, and the failures of the last hour on both — is
//! counted by one scan of the source's queues only on the poller's `slow` polls, under a
//! statement timeout of its own (the read timeout, at least 10 s; past it the scan is given
//! up and the last counts stand). A slow poll's exact counts replace the cached ones.
//!
//! **Reads** run in `READ ONLY` transactions with a `statement_timeout` (the source's read
//! timeout), always with `name = $queue` so PostgreSQL reads the queue's partition only.
//! Lists page by keyset cursor and read at most [`jobs::SCAN_MAX`] jobs per page in an index's
//! order: on 12.x failed and completed jobs newest failure first (`job_i16`, `completed_on`),
//! the others newest first (`job_i15`, `created_on`); on 10.x, which has no index by time, in
//! the order of its primary key (`name, id`: random UUIDs, so in no meaningful order).
//!
//! **Actions** run in chunks of [`act::CHUNK`] jobs, each chunk one transaction that makes
//! pg-boss's own move only on jobs still in the state they were seen in and, for a bulk
//! action, failed no later than the dry run: failed and retrying jobs in one guarded statement
//! (each row written once; pg-boss's workers never hold such a row), dead jobs after locking
//! them (`FOR UPDATE SKIP LOCKED`: a worker is never waited on) and re-checking each:
//! - *Retry* a failed job: what pg-boss's `retry()` does — `state = 'retry'`, one more
//!   attempt allowed (`retry_limit + 1`), `completed_on` cleared and `start_after` brought up
//!   to now (10.x's `retry()` does not clear `completed_on`; it is cleared here so pg-boss
//!   10's archiver does not take the job for a finished one). A retrying job is made due
//!   now. A cancelled job is resumed as pg-boss's `resume()` does (`created`, due now). A
//!   dead-lettered job (12.x) is redriven as pg-boss's `redrive()` does: re-created with a
//!   new id in its original queue, with that queue's settings, and removed from the
//!   dead-letter queue. pg-boss 10 records nothing of where a dead-lettered job came from
//!   (its copy has a new id and no source), so there it cannot be sent back.
//! - *Discard* a failed or dead job: pg-boss's `deleteJob()` — the row is deleted, since
//!   pg-boss's `cancel()` only applies to jobs that have not finished; the audit log keeps
//!   what was discarded. A retrying job is cancelled (pg-boss's `cancel()`): no more
//!   attempts, and `resume()` can still bring it back.
//!
//! pg-boss 12's cached counts do not move with an action; its monitor corrects them on its
//! next pass, as it does after pg-boss's own `retry()`. pg-boss has no queue pause (a worker
//! stops with `offWork`), so opsdeck has none.
//!
//! [pg-boss]: https://github.com/timgit/pg-boss

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

/// The schema versions this connector knows, with the pg-boss releases they were read from.
pub const SUPPORTED: [(i32, &str); 2] = [(24, "pg-boss 10.x"), (46, "pg-boss 12.x")];

/// How long a dry run's selection or one chunk of an action may take.
const ACT_TIMEOUT: Duration = Duration::from_secs(30);

/// The least `idle_in_transaction_session_timeout` of a transaction: should opsdeck stall
/// inside one, PostgreSQL ends it rather than let it hold its locks.
const IDLE_MIN: Duration = Duration::from_secs(10);

/// The prefix of pg-boss's own internal queues.
const INTERNAL_PREFIX: &str = "__pgboss__";

/// `type = "pg-boss"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgBoss {
    /// `postgres://USER:PASSWORD@HOST/DB` of the application's database.
    pub url: Secret,
    /// The schema pg-boss was installed in (its `schema` option).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Only these queues (all of them when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
}

fn default_schema() -> String {
    "pgboss".to_owned()
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

/// Which of the known layouts a schema holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Schema version 24: pg-boss 10.x.
    V10,
    /// Schema version 46: pg-boss 12.x.
    V12,
}

impl Layout {
    fn of(version: i32) -> Option<Self> {
        match version {
            24 => Some(Layout::V10),
            46 => Some(Layout::V12),
            _ => None,
        }
    }

    fn version(self) -> i32 {
        match self {
            Layout::V10 => 24,
            Layout::V12 => 46,
        }
    }
}

#[async_trait]
impl QueueType for PgBoss {
    const TYPE: &'static str = "pg-boss";
    const SYSTEM: System = System::PgBoss;

    fn validate(&self) -> Problems {
        let mut problems = Problems::new();
        if !valid_schema(&self.schema) {
            problems.push((
                "schema".to_owned(),
                "must be a plain PostgreSQL identifier (letters, digits, _ and $, not starting \
                 with a digit, at most 63 characters), as given to pg-boss's `schema` option"
                    .to_owned(),
            ));
        }
        if let Err(err) = self.url.expose().parse::<PgConnectOptions>() {
            let why = crate::health::target::strip_credentials(&err.to_string());
            problems.push(("url".to_owned(), format!("not a PostgreSQL URL: {why}")));
        }
        for name in self.queues.iter().flatten() {
            if QueueName::parse(name).is_err() {
                problems.push((
                    "queues".to_owned(),
                    format!("\"{name}\" is not a queue name opsdeck can show"),
                ));
            }
        }
        if self.queues.as_ref().is_some_and(Vec::is_empty) {
            problems.push((
                "queues".to_owned(),
                "is empty: leave it out to show every queue".to_owned(),
            ));
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
        Ok(Box::new(PgBossConnector {
            at: server_address(self.url.expose(), 5432),
            sql: Statements::new(&self.schema, context.tenant_path.as_ref()),
            only: self.queues.clone(),
            pool,
            context,
        }))
    }
}

/// A connection to one pg-boss schema.
pub struct PgBossConnector {
    pool: PgPool,
    sql: Statements,
    /// The `queues` key.
    only: Option<Vec<String>>,
    context: SourceContext,
    /// `host:port`, for messages.
    at: String,
}

impl std::fmt::Debug for PgBossConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBossConnector")
            .field("source", &self.context.source)
            .field("at", &self.at)
            .field("schema", &self.sql.schema)
            .finish_non_exhaustive()
    }
}

/// A job id as pg-boss knows it (a UUID), or `None` for one it cannot have.
fn job_uuid(id: &JobId) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id.as_str()).ok()
}

fn supported_text() -> String {
    SUPPORTED
        .iter()
        .map(|(version, release)| format!("{version} ({release})"))
        .collect::<Vec<_>>()
        .join(" and ")
}

impl PgBossConnector {
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
                Some("3F000" | "42P01" | "42883" | "42703" | "42704") => {
                    QueueError::Unsupported(format!(
                        "schema {} holds no pg-boss layout opsdeck knows (schema versions {}): {}",
                        self.sql.schema,
                        supported_text(),
                        db.message()
                    ))
                }
                Some(code) if code.starts_with("08") || code.starts_with("57P") => {
                    QueueError::Unreachable(format!("PostgreSQL at {}: {}", self.at, db.message()))
                }
                _ => QueueError::Other(format!("PostgreSQL at {}: {}", self.at, db.message())),
            },
            _ => QueueError::Other(format!("PostgreSQL at {}: {err}", self.at)),
        }
    }

    /// A transaction on the source: read-only unless `write`, with `timeout` as its
    /// `statement_timeout`, after checking pg-boss's schema version. Returns the layout found.
    async fn begin(
        &self,
        mode: TxMode,
        timeout: Duration,
    ) -> Result<(Transaction<'static, Postgres>, Layout), QueueError> {
        let begin = format!(
            "{}; SET LOCAL idle_in_transaction_session_timeout = {idle}",
            mode.begin(timeout),
            idle = timeout.max(IDLE_MIN).as_millis()
        );
        let mut tx = self
            .pool
            .begin_with(sqlx::AssertSqlSafe(begin))
            .await
            .map_err(|e| self.fail(e))?;
        match self.check_version(&mut tx).await {
            Ok(layout) => Ok((tx, layout)),
            Err(err) => {
                let _ = tx.rollback().await;
                Err(err)
            }
        }
    }

    /// Ends a transaction of [`Self::begin`] after `result`: committed when it is `Ok`, rolled
    /// back when not. Every transaction ends here: one merely dropped would leave its session
    /// idle in the transaction, holding its locks on pg-boss's tables (against pg-boss's own
    /// migrations and maintenance) until the session is next used.
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

    async fn check_version(
        &self,
        tx: &mut Transaction<'static, Postgres>,
    ) -> Result<Layout, QueueError> {
        let found: Vec<(i32,)> = sqlx::query_as(sqlx::AssertSqlSafe(self.sql.version.as_str()))
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| self.fail(e))?;
        match found.as_slice() {
            [(version,)] => Layout::of(*version).ok_or_else(|| {
                QueueError::Unsupported(format!(
                    "schema {} is at pg-boss schema version {version}; opsdeck knows schema \
                     versions {} and reads nothing else",
                    self.sql.schema,
                    supported_text()
                ))
            }),
            [] => Err(QueueError::Unsupported(format!(
                "schema {} has no pg-boss schema version (its version table is empty)",
                self.sql.schema
            ))),
            _ => Err(QueueError::Unsupported(format!(
                "schema {} has more than one pg-boss schema version",
                self.sql.schema
            ))),
        }
    }

    /// Whether `queue` is one of this source's: shown (not internal, within `queues`) and
    /// known to pg-boss, or `NotFound`.
    async fn check_queue(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        queue: &QueueName,
    ) -> Result<(), QueueError> {
        let missing =
            || QueueError::NotFound(format!("pg-boss has no queue \"{queue}\" in this source"));
        if !self.shows(queue.as_str()) {
            return Err(missing());
        }
        let found: Option<(i32,)> =
            sqlx::query_as(sqlx::AssertSqlSafe(self.sql.queue_exists.as_str()))
                .bind(queue.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(|e| self.fail(e))?;
        found.map(|_| ()).ok_or_else(missing)
    }

    /// Whether a queue of pg-boss's is shown by this source.
    fn shows(&self, name: &str) -> bool {
        !name.starts_with(INTERNAL_PREFIX)
            && self
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|q| q == name))
    }
}

fn version_text(layout: Layout) -> String {
    let release = SUPPORTED
        .iter()
        .find(|(version, _)| *version == layout.version())
        .map_or("pg-boss", |(_, release)| release);
    format!("{release} (schema version {})", layout.version())
}

#[async_trait]
impl QueueConnector for PgBossConnector {
    fn system(&self) -> System {
        System::PgBoss
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            retry: Ok(()),
            discard: Ok(()),
            pause: Err("pg-boss has no queue pause (workers stop with offWork)"),
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
