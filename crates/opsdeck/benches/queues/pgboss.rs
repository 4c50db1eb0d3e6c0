//! The pg-boss part of the queue benchmark: a million failed jobs in a schema pg-boss's own
//! `start()` installed, for pg-boss 12.38.1 and 10.4.2, and opsdeck in-process with the
//! source.
//!
//! Printed per release: `GET /ops/queues` p50/p99; the first and a deep page of failed jobs
//! p50/p99; the statements and time one fast and one slow poll cost PostgreSQL, and the
//! share of its time the poll cycle takes at the poller's adaptive cadence; a bulk retry of
//! `BENCH_PGBOSS_BULK` failed jobs through opsdeck (dry run, run, longest statement) next to
//! pg-boss's own `retry(name, ids)` of the same ids, reseeded identically, timed in the same
//! run (its one statement is its longest), with the ratios.
//!
//! Jobs are seeded with one `INSERT … SELECT generate_series` into pg-boss's `job` table in
//! its own layout after pg-boss created the schema and queues: state `failed`, no retries
//! left, an `output` like pg-boss's own failures (`{name, message, stack}`). Two queues:
//! `charge` holds the jobs the bulk retry takes, `email` the rest. 12.x's cached counts are
//! refreshed once by pg-boss itself (`getQueueStats` with `force`), as its monitor would.
//!
//! `BENCH_PGBOSS_JOBS` (default 1,000,000), `BENCH_PGBOSS_BULK` (100,000),
//! `BENCH_PGBOSS_REQUESTS` (requests per figure, 300) and `BENCH_PGBOSS_VERSIONS` (`12,10`)
//! make a quicker run. Needs PostgreSQL (`OPSDECK_TEST_POSTGRES_URL`) and the Node fixtures;
//! the schema is dropped at the end.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::measure::{
    BulkRun, DropSchema, Served, bulk_retry, env_or, latencies, ms, p50_p99_ms, poll_cost,
};
use opsdeck_connectors::queues::pgboss::PgBoss;
use opsdeck_connectors::queues::{QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use opsdeck_core::secret::Secret;
use opsdeck_server::config::SourceConfig;
use serde_json::{Value, json};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::io::AsyncWriteExt;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";
/// The poller's default interval; its rule for slow polls is the server's own.
const POLL_INTERVAL: Duration = Duration::from_secs(10);
const SLOW_FACTOR: u32 = opsdeck_server::queues::SLOW_COST_FACTOR;
const SLOW_MAX_GAP: Duration = opsdeck_server::queues::SLOW_MAX_GAP;

/// When seeded job `g` failed (`data.n`), so a reseed puts each back exactly.
const FAILED_AT: &str = "now() - interval '3 hours' + (data->>'n')::int * interval '1 millisecond'";

struct Bench {
    pool: PgPool,
    url: String,
    schema: String,
    /// `12` or `10`.
    version: &'static str,
    jobs: i64,
    bulk: i64,
}

impl Bench {
    fn s(&self) -> String {
        format!("\"{}\"", self.schema)
    }

    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.replace("{s}", &self.s())))
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// `node boss.mjs <mode>` with `input` on stdin; its stdout.
    async fn node(&self, mode: &str, queues: &Value, input: Option<&Value>) -> String {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/queues/pgboss/boss.mjs"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(mode)
            .env("DATABASE_URL", &self.url)
            .env("PB_SCHEMA", &self.schema)
            .env("PB_VERSION", self.version)
            .env("PB_QUEUES", queues.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs (the Node fixtures are installed by .ci/run)");
        let mut stdin = child.stdin.take().expect("piped stdin");
        if let Some(input) = input {
            stdin.write_all(input.to_string().as_bytes()).await.unwrap();
        }
        drop(stdin);
        let output = child.wait_with_output().await.unwrap();
        assert!(
            output.status.success(),
            "boss.mjs {mode}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// pg-boss's own `start()` and its queues.
    async fn install(&self) {
        let queues = json!([
            {"name": "charge", "options": {"retryLimit": 0}},
            {"name": "email", "options": {"retryLimit": 0}},
        ]);
        self.node("migrate", &queues, None).await;
    }

    /// `jobs` failed jobs, the first `bulk` of them in `charge`.
    async fn seed(&self) {
        self.exec(&format!(
            "INSERT INTO {{s}}.job (id, name, data, state, retry_limit, retry_count, \
               start_after, created_on, started_on, completed_on, output, policy) \
             SELECT gen_random_uuid(), CASE WHEN g <= {bulk} THEN 'charge' ELSE 'email' END, \
               jsonb_build_object('n', g, 'tenantId', 'tenant-' || (g % 500), \
                 'to', 'user' || g || '@example.com'), \
               'failed', 0, 0, now() - interval '4 hours', now() - interval '4 hours', \
               now() - interval '3 hours' + g * interval '1 millisecond' - interval '1 second', \
               now() - interval '3 hours' + g * interval '1 millisecond', \
               jsonb_build_object('name', 'Error', \
                 'message', 'upstream answered 503 for job ' || g, \
                 'stack', 'Error: upstream answered 503 for job ' || g || \
                   E'\\n    at charge (/app/jobs/charge.js:12:11)'), \
               'standard' \
             FROM generate_series(1, {jobs}) g",
            bulk = self.bulk,
            jobs = self.jobs
        ))
        .await;
        self.exec("ANALYZE {s}.job").await;
        if self.version == "12" {
            // pg-boss's monitor would cache the counts; its own forced refresh does it now.
            for queue in ["charge", "email"] {
                self.node(
                    "inspect",
                    &json!([]),
                    Some(&json!({"name": queue, "ids": []})),
                )
                .await;
            }
        }
    }

    /// The bulk jobs back as seeded: failed, with their seeded times.
    async fn reseed(&self) {
        self.exec(&format!(
            "UPDATE {{s}}.job SET state = 'failed', retry_limit = 0, retry_count = 0, \
               start_after = now() - interval '4 hours', completed_on = {FAILED_AT} \
             WHERE name = 'charge'"
        ))
        .await;
        self.exec("VACUUM ANALYZE {s}.job").await;
    }

    async fn failed_bulk_ids(&self) -> Vec<String> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id::text FROM {}.job WHERE name = 'charge' AND state = 'failed'",
            self.s()
        )))
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// The cursor of the failed `email` job halfway down its list, in the connector's keyset.
    async fn deep_cursor(&self) -> String {
        let middle = (self.jobs - self.bulk) / 2;
        if self.version == "12" {
            let (at, id): (chrono::DateTime<chrono::Utc>, String) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT completed_on, id::text FROM {}.job WHERE name = 'email' \
                     ORDER BY completed_on DESC, id DESC OFFSET $1 LIMIT 1",
                    self.s()
                )))
                .bind(middle)
                .fetch_one(&self.pool)
                .await
                .unwrap();
            format!("t{}_{id}", at.timestamp_micros())
        } else {
            let id: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT id::text FROM {}.job WHERE name = 'email' ORDER BY id DESC \
                 OFFSET $1 LIMIT 1",
                self.s()
            )))
            .bind(middle)
            .fetch_one(&self.pool)
            .await
            .unwrap();
            format!("i{id}")
        }
    }
}

#[expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]
pub async fn run() {
    let server = std::env::var("OPSDECK_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned());
    let pool = match PgPoolOptions::new()
        .max_connections(2)
        .connect(&server)
        .await
    {
        Ok(pool) => pool,
        Err(err) => {
            println!("pg-boss: skipped, PostgreSQL is unreachable ({err})");
            return;
        }
    };
    let jobs = i64::try_from(env_or("BENCH_PGBOSS_JOBS", 1_000_000)).unwrap_or(i64::MAX);
    let bulk = i64::try_from(env_or("BENCH_PGBOSS_BULK", 100_000))
        .unwrap_or(i64::MAX)
        .min(jobs);
    let requests = env_or("BENCH_PGBOSS_REQUESTS", 300);
    let versions = std::env::var("BENCH_PGBOSS_VERSIONS").unwrap_or_else(|_| "12,10".into());
    for version in versions.split(',').map(str::trim) {
        let (version, release) = match version {
            "12" => ("12", "pg-boss 12.38.1"),
            "10" => ("10", "pg-boss 10.4.2"),
            other => panic!("BENCH_PGBOSS_VERSIONS: {other} is not 12 or 10"),
        };
        let schema = format!("pgboss_bench_{}", uuid::Uuid::new_v4().simple());
        let bench = Bench {
            pool: pool.clone(),
            url: server.clone(),
            schema: schema.clone(),
            version,
            jobs,
            bulk,
        };
        println!("{release}: {jobs} failed jobs ({bulk} in charge), schema {schema}");
        // Dropped at the end, or when a step fails.
        let _schema = DropSchema {
            server: server.clone(),
            schema,
        };
        bench.install().await;
        let started = Instant::now();
        bench.seed().await;
        println!(
            "  seeded in {:.1} s (INSERT … SELECT generate_series, ANALYZE{})",
            started.elapsed().as_secs_f64(),
            if version == "12" {
                ", pg-boss's own count refresh"
            } else {
                ""
            }
        );
        measure(&bench, requests).await;
    }
}

#[expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]
async fn measure(bench: &Bench, requests: u64) {
    let keys = PgBoss {
        url: Secret::new(bench.url.clone()),
        schema: bench.schema.clone(),
        queues: None,
    };

    // What one poll costs PostgreSQL.
    let context = SourceContext {
        source: SourceName::parse("pb").unwrap(),
        tenant_path: None,
        read_timeout: Duration::from_secs(2),
    };
    let connector = keys.connect(context).await.unwrap();
    let (fast, fast_commands) = poll_cost(connector.as_ref(), false, 20).await;
    let (slow, slow_commands) = poll_cost(connector.as_ref(), true, 5).await;
    let slow_gap = (slow * SLOW_FACTOR).max(POLL_INTERVAL).min(SLOW_MAX_GAP);
    let share = fast.as_secs_f64() / POLL_INTERVAL.as_secs_f64()
        + slow.as_secs_f64() / slow_gap.as_secs_f64();
    println!(
        "  poll, fast: {fast_commands} statements, {:.2} ms (median of 20); slow: {slow_commands} statements, {:.1} ms (median of 5)",
        ms(fast),
        ms(slow)
    );
    println!(
        "  poll cycle at the adaptive cadence (fast every {} s, slow every {:.0} s): {:.3} % of one PostgreSQL backend's time",
        POLL_INTERVAL.as_secs(),
        slow_gap.as_secs_f64(),
        share * 100.0
    );

    let served = Served::start(
        vec![SourceConfig {
            poll_interval: Some(Duration::from_secs(2)),
            ..SourceConfig::system("pb", keys)
        }],
        u64::try_from(bench.bulk).unwrap_or(u64::MAX),
    )
    .await;
    let (addr, state, token) = (served.addr, served.state.clone(), served.token.clone());
    let client = reqwest::Client::new();
    // The slow poll's counts (completed jobs) are in once it ran.
    served.wait_for(&client, "\"completed\"").await;

    let overview = format!("http://{addr}/ops/queues");
    let mut view = latencies(&client, &overview, &token, requests).await;
    let (p50, p99) = p50_p99_ms(&mut view);
    println!("  GET /ops/queues: p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 20 ms)");
    let first = format!("http://{addr}/ops/queues/pb/email/jobs?state=failed&limit=50");
    let mut first_page = latencies(&client, &first, &token, requests).await;
    let deep = format!("{first}&cursor={}", bench.deep_cursor().await);
    let mut deep_page = latencies(&client, &deep, &token, requests).await;
    let (first50, first99) = p50_p99_ms(&mut first_page);
    let (deep50, deep99) = p50_p99_ms(&mut deep_page);
    println!(
        "  failed jobs, first page p50 {first50:.2} ms p99 {first99:.2} ms; deep page (halfway) p50 {deep50:.2} ms p99 {deep99:.2} ms (goal <= 50 ms)"
    );

    // Bulk retry through opsdeck, then pg-boss's own retry of the same ids.
    bench.reseed().await;
    let BulkRun {
        dry_time,
        run_time: opsdeck_time,
        count,
        outcome,
    } = bulk_retry(&state, "pb", "charge", None).await;
    assert_eq!(outcome.count, count);
    assert!(
        bench.failed_bulk_ids().await.is_empty(),
        "every job retried"
    );
    served.stop().await;

    bench.reseed().await;
    let ids = bench.failed_bulk_ids().await;
    assert_eq!(u64::try_from(ids.len()).unwrap_or(0), count);
    let started = Instant::now();
    let out = bench
        .node(
            "retry",
            &json!([]),
            Some(&json!({"name": "charge", "ids": ids})),
        )
        .await;
    let direct_wall = started.elapsed();
    let answer: Value = serde_json::from_str(out.trim()).unwrap();
    let direct_ms = answer["ms"].as_f64().unwrap_or(f64::NAN);
    assert_eq!(answer["affected"].as_u64(), Some(count), "{answer}");
    assert!(
        bench.failed_bulk_ids().await.is_empty(),
        "every job retried"
    );
    println!(
        "  bulk retry of {} jobs through opsdeck: dry run {:.2} s, run {:.2} s, longest statement {:.1} ms",
        count,
        dry_time.as_secs_f64(),
        opsdeck_time.as_secs_f64(),
        outcome.longest_step_ms
    );
    println!(
        "  pg-boss's own retry(name, ids) of the same ids: {:.2} s in one statement (its longest); {:.2} s with Node's start",
        direct_ms / 1000.0,
        direct_wall.as_secs_f64()
    );
    println!(
        "  ratios opsdeck / pg-boss: run {:.2}, dry run + run {:.2}, longest statement {:.3}",
        ms(opsdeck_time) / direct_ms,
        ms(dry_time + opsdeck_time) / direct_ms,
        outcome.longest_step_ms / direct_ms
    );
}
