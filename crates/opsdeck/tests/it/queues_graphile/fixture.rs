//! A real graphile-worker 0.18.0 installation for one test: its own schema
//! (`graphile_worker_<random>`) on the test PostgreSQL server, installed by graphile-worker's
//! own migrations, jobs added with its `add_job` SQL function, and its Node worker
//! (`tests/fixtures/queues/graphile/worker.mjs`) working them. The schema is dropped when the
//! fixture is.

use std::process::Stdio;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use opsdeck_connectors::queues::graphile::Graphile;
use opsdeck_core::secret::Secret;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

/// How long one Node run may take.
const NODE_TIMEOUT: Duration = Duration::from_secs(60);

fn server_url() -> String {
    std::env::var("OPSDECK_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

fn script() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/queues/graphile/worker.mjs"
    )
    .to_owned()
}

/// Held (shared) while a worker runs, and (alone) while graphile-worker's migrations run: a
/// running worker hears every schema's migrations on the one `worker:migrate` channel and
/// shuts down at a breaking one, so no test installs while another's worker runs.
static WORKERS: LazyLock<Arc<RwLock<()>>> = LazyLock::new(|| Arc::new(RwLock::new(())));

/// A worker working jobs until stopped.
pub struct Worker {
    child: Child,
    _running: OwnedRwLockReadGuard<()>,
}

impl Worker {
    /// Lets it finish what it holds and stop.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(NODE_TIMEOUT, self.child.wait()).await;
    }
}

/// One graphile-worker installation.
pub struct GraphileDb {
    pub schema: String,
    pub url: String,
    pub pool: PgPool,
}

/// What a worker run does with each job.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The job succeeds.
    Succeed,
    /// The job throws: its payload's `error`, else this text.
    Fail(&'a str),
}

impl GraphileDb {
    /// A fresh installation, or `None` (said on stderr) when PostgreSQL cannot be reached
    /// outside CI.
    pub async fn install() -> Option<Self> {
        let url = server_url();
        let pool = match PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
        {
            Ok(pool) => pool,
            Err(err) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("PostgreSQL is unreachable on CI: {err}")
            }
            Err(err) => {
                eprintln!("skipped: PostgreSQL is unreachable ({err})");
                return None;
            }
        };
        let schema = format!("graphile_worker_{}", uuid::Uuid::new_v4().simple());
        let db = Self { schema, url, pool };
        {
            let _alone = WORKERS.write().await;
            db.node("migrate", &[], Outcome::Succeed).await;
        }
        Some(db)
    }

    /// The source keys of this installation.
    pub fn keys(&self) -> Graphile {
        Graphile {
            url: Secret::new(self.url.clone()),
            schema: self.schema.clone(),
        }
    }

    fn command(&self, mode: &str, tasks: &[&str], outcome: Outcome<'_>) -> Command {
        let mut command = Command::new("node");
        command
            .arg(script())
            .arg(mode)
            .env("DATABASE_URL", &self.url)
            .env("GW_SCHEMA", &self.schema)
            .env("GW_TASKS", tasks.join(","))
            .env_remove("GW_FAIL")
            .kill_on_drop(true);
        if let Outcome::Fail(text) = outcome {
            command.env("GW_FAIL", text);
        }
        command
    }

    async fn node(&self, mode: &str, tasks: &[&str], outcome: Outcome<'_>) {
        let output =
            tokio::time::timeout(NODE_TIMEOUT, self.command(mode, tasks, outcome).output())
                .await
                .unwrap_or_else(|_| panic!("node worker.mjs {mode} did not finish"))
                .expect("node runs (the Node fixtures are installed by .ci/run)");
        assert!(
            output.status.success(),
            "node worker.mjs {mode}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Works every job of `tasks` due now, once, with `outcome`.
    pub async fn work_once(&self, tasks: &[&str], outcome: Outcome<'_>) {
        let _running = WORKERS.read().await;
        self.node("once", tasks, outcome).await;
    }

    /// A worker working `tasks` until dropped, `concurrency` jobs at a time, each taking
    /// `delay_ms`.
    pub async fn spawn_worker(&self, tasks: &[&str], concurrency: u32, delay_ms: u64) -> Worker {
        let running = WORKERS.clone().read_owned().await;
        let mut command = self.command("run", tasks, Outcome::Succeed);
        command
            .env("GW_CONCURRENCY", concurrency.to_string())
            .env("GW_DELAY_MS", delay_ms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = command.spawn().expect("node runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        // graphile-worker logs to stdout too: the script says `ready` once it works.
        let ready = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "ready" {
                    return true;
                }
            }
            false
        };
        let started = tokio::time::timeout(NODE_TIMEOUT, ready).await;
        assert_eq!(started, Ok(true), "the worker did not start");
        // Its later lines are read and dropped, so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Worker {
            child,
            _running: running,
        }
    }

    /// Adds a job with graphile-worker's own `add_job`; returns its id.
    pub async fn add(&self, task: &str, payload: &Value, max_attempts: i32) -> i64 {
        let sql = format!(
            "SELECT id FROM \"{}\".add_job($1, $2::json, max_attempts => $3)",
            self.schema
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(task)
            .bind(payload)
            .bind(max_attempts)
            .fetch_one(&self.pool)
            .await
            .expect("add_job")
    }

    /// Adds a job due in an hour.
    pub async fn add_later(&self, task: &str, payload: &Value) -> i64 {
        let sql = format!(
            "SELECT id FROM \"{}\".add_job($1, $2::json, run_at => now() + interval '1 hour')",
            self.schema
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(task)
            .bind(payload)
            .fetch_one(&self.pool)
            .await
            .expect("add_job")
    }

    /// One number from graphile-worker's public `jobs` view (or any query on the schema,
    /// written with `{s}` for it).
    pub async fn count(&self, sql: &str) -> i64 {
        let sql = sql.replace("{s}", &format!("\"{}\"", self.schema));
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// How often job `id` ran: (succeeded, failed).
    pub async fn runs(&self, id: i64) -> (i64, i64) {
        let ok = self
            .count(&format!(
                "SELECT count(*) FROM {{s}}.test_runs WHERE job_id = {id} AND ok"
            ))
            .await;
        let failed = self
            .count(&format!(
                "SELECT count(*) FROM {{s}}.test_runs WHERE job_id = {id} AND NOT ok"
            ))
            .await;
        (ok, failed)
    }

    /// Runs a statement on the schema (written with `{s}` for it).
    pub async fn execute(&self, sql: &str) {
        crate::support::db::execute_in_schema(&self.pool, &self.schema, sql).await;
    }
}

impl Drop for GraphileDb {
    fn drop(&mut self) {
        crate::support::db::drop_schema_blocking(&self.url, &self.schema, "graphile-worker");
    }
}
