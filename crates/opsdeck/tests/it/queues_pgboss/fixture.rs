//! A real pg-boss installation for one test: its own schema (`pgboss_<random>`) on the test
//! PostgreSQL server, installed by pg-boss's own `start()` (12.38.1 or 10.4.2), jobs sent
//! with its `send()`, and worked by pg-boss itself (`tests/fixtures/queues/pgboss/boss.mjs`:
//! `fetch` then `fail`/`complete`, or a `work()` worker). The schema is dropped when the
//! fixture is.

use std::process::Stdio;
use std::time::Duration;

use opsdeck_connectors::queues::pgboss::PgBoss;
use opsdeck_core::secret::Secret;
use serde_json::{Value, json};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

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
        "/tests/fixtures/queues/pgboss/boss.mjs"
    )
    .to_owned()
}

/// The pg-boss release a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// pg-boss 10.4.2, schema version 24.
    V10,
    /// pg-boss 12.38.1, schema version 46.
    V12,
}

impl Version {
    fn arg(self) -> &'static str {
        match self {
            Version::V10 => "10",
            Version::V12 => "12",
        }
    }

    /// The version opsdeck reports.
    pub fn shown(self) -> &'static str {
        match self {
            Version::V10 => "pg-boss 10.x (schema version 24)",
            Version::V12 => "pg-boss 12.x (schema version 46)",
        }
    }
}

/// A worker working jobs until stopped.
pub struct Worker {
    child: Child,
}

impl Worker {
    /// Lets it finish what it holds and stop.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(NODE_TIMEOUT, self.child.wait()).await;
    }
}

/// One pg-boss installation.
pub struct PgBossDb {
    pub version: Version,
    pub schema: String,
    pub url: String,
    pub pool: PgPool,
}

/// What a worker run does with each job.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The job succeeds.
    Succeed,
    /// The job throws: its data's `error`, else this text.
    Fail(&'a str),
}

impl PgBossDb {
    /// A fresh installation with `queues` (`[{name, options}]`, dead-letter queues first),
    /// or `None` (said on stderr) when PostgreSQL cannot be reached outside CI.
    pub async fn install(version: Version, queues: Value) -> Option<Self> {
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
        let schema = format!("pgboss_{}", uuid::Uuid::new_v4().simple());
        let db = Self {
            version,
            schema,
            url,
            pool,
        };
        let mut command = db.command("migrate");
        command.env("PB_QUEUES", queues.to_string());
        db.node(command, None).await;
        Some(db)
    }

    /// The source keys of this installation.
    pub fn keys(&self) -> PgBoss {
        PgBoss {
            url: Secret::new(self.url.clone()),
            schema: self.schema.clone(),
            queues: None,
        }
    }

    fn command(&self, mode: &str) -> Command {
        let mut command = Command::new("node");
        command
            .arg(script())
            .arg(mode)
            .env("DATABASE_URL", &self.url)
            .env("PB_SCHEMA", &self.schema)
            .env("PB_VERSION", self.version.arg())
            .env_remove("PB_FAIL")
            .kill_on_drop(true);
        command
    }

    /// Runs `command` with `input` on its stdin; returns its stdout.
    async fn node(&self, mut command: Command, input: Option<&Value>) -> String {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .expect("node runs (the Node fixtures are installed by .ci/run)");
        let mut stdin = child.stdin.take().expect("piped stdin");
        if let Some(input) = input {
            stdin
                .write_all(input.to_string().as_bytes())
                .await
                .expect("write stdin");
        }
        drop(stdin);
        let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
            .await
            .expect("node boss.mjs did not finish")
            .expect("node boss.mjs");
        assert!(
            output.status.success(),
            "node boss.mjs: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// Sends jobs with pg-boss's `send()`: `[{name, data, options}]`; returns their ids.
    pub async fn send(&self, jobs: Value) -> Vec<String> {
        let out = self.node(self.command("send"), Some(&jobs)).await;
        serde_json::from_str(out.trim()).expect("the ids sent")
    }

    /// Sends one job to `queue`; returns its id.
    pub async fn send_one(&self, queue: &str, data: Value, options: Value) -> String {
        let mut ids = self
            .send(json!([{"name": queue, "data": data, "options": options}]))
            .await;
        ids.pop().expect("one id")
    }

    /// Works every job of `queues` due now, once, with `outcome`.
    pub async fn work_once(&self, queues: &[&str], outcome: Outcome<'_>) {
        let mut command = self.command("once");
        command.env("PB_NAMES", queues.join(","));
        if let Outcome::Fail(text) = outcome {
            command.env("PB_FAIL", text);
        }
        self.node(command, None).await;
    }

    /// pg-boss's `work()` on `queues` until stopped, each job taking `delay_ms`.
    pub async fn spawn_worker(&self, queues: &[&str], delay_ms: u64) -> Worker {
        let mut command = self.command("run");
        command
            .env("PB_NAMES", queues.join(","))
            .env("PB_DELAY_MS", delay_ms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = command.spawn().expect("node runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
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
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Worker { child }
    }

    /// pg-boss's own view: `{queue: getQueue(name), jobs: [getJobById(name, id)…]}` (12.x
    /// refreshes its cached counts first).
    pub async fn inspect(&self, queue: &str, ids: &[String]) -> Value {
        let out = self
            .node(
                self.command("inspect"),
                Some(&json!({"name": queue, "ids": ids})),
            )
            .await;
        serde_json::from_str(out.trim()).expect("pg-boss's view")
    }

    /// One number from a query on the schema, written with `{s}` for it.
    pub async fn count(&self, sql: &str) -> i64 {
        let sql = sql.replace("{s}", &format!("\"{}\"", self.schema));
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// A job's pg-boss state.
    pub async fn state(&self, id: &str) -> Option<String> {
        let sql = format!(
            "SELECT state::text FROM \"{}\".job WHERE id = $1::uuid",
            self.schema
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .expect("state")
    }

    /// How often job `id` ran: (succeeded, failed).
    pub async fn runs(&self, id: &str) -> (i64, i64) {
        let ok = self
            .count(&format!(
                "SELECT count(*) FROM {{s}}.test_runs WHERE job_id = '{id}' AND ok"
            ))
            .await;
        let failed = self
            .count(&format!(
                "SELECT count(*) FROM {{s}}.test_runs WHERE job_id = '{id}' AND NOT ok"
            ))
            .await;
        (ok, failed)
    }

    /// Sessions left idle in a transaction that last read this schema.
    pub async fn idle_in_transaction(&self) -> i64 {
        crate::support::db::idle_in_transaction(&self.pool, &self.schema).await
    }

    /// Runs a statement on the schema (written with `{s}` for it).
    pub async fn execute(&self, sql: &str) {
        crate::support::db::execute_in_schema(&self.pool, &self.schema, sql).await;
    }
}

impl Drop for PgBossDb {
    fn drop(&mut self) {
        crate::support::db::drop_schema_blocking(&self.url, &self.schema, "pg-boss");
    }
}
