//! The graphile-worker part of the queue benchmark: a million failed jobs in a schema
//! installed by graphile-worker's own migrations, and opsdeck in-process with the source.
//!
//! Printed: `GET /ops/queues` p50/p99; the first and a deep page of failed jobs p99; the
//! statements and time one fast and one slow poll cost PostgreSQL, and the share of its time
//! the poll cycle takes at the poller's adaptive cadence; a bulk retry of
//! `BENCH_GRAPHILE_BULK` failed jobs through opsdeck (dry run, run, longest statement) next
//! to graphile-worker's `reschedule_jobs` run directly in chunks of 1,000 on the same jobs,
//! reseeded identically, with the ratios.
//!
//! Jobs are seeded with one `INSERT … SELECT generate_series` into `_private_jobs` in
//! graphile-worker's own layout: attempts used up, `last_error` set. Two tasks: `charge_card`
//! holds the jobs the bulk retry takes, `send_email` the rest.
//!
//! `BENCH_GRAPHILE_JOBS` (default 1,000,000), `BENCH_GRAPHILE_BULK` (100,000),
//! `BENCH_GRAPHILE_REQUESTS` (requests per figure, 300) make a quicker run. Needs
//! PostgreSQL (`OPSDECK_TEST_POSTGRES_URL`) and the Node fixtures; the schema is dropped at
//! the end.

use std::time::{Duration, Instant};

use super::measure::{
    BulkRun, DropSchema, Served, bulk_retry, env_or, latencies, ms, percentile, poll_cost,
};
use opsdeck_connectors::queues::graphile::Graphile;
use opsdeck_connectors::queues::{QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use opsdeck_core::secret::Secret;
use opsdeck_server::config::SourceConfig;
use sqlx::postgres::{PgPool, PgPoolOptions};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";
/// The poller's default interval; its rule for slow polls is the server's own: no sooner
/// than `SLOW_COST_FACTOR` times what the last one cost, no later than `SLOW_MAX_GAP`.
const POLL_INTERVAL: Duration = Duration::from_secs(10);
const SLOW_FACTOR: u32 = opsdeck_server::queues::SLOW_COST_FACTOR;
const SLOW_MAX_GAP: Duration = opsdeck_server::queues::SLOW_MAX_GAP;

struct Bench {
    pool: PgPool,
    url: String,
    schema: String,
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

    /// graphile-worker's own migrations, through its Node package.
    async fn install(&self) {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/queues/graphile/worker.mjs"
        );
        let output = tokio::process::Command::new("node")
            .arg(script)
            .arg("migrate")
            .env("DATABASE_URL", &self.url)
            .env("GW_SCHEMA", &self.schema)
            .output()
            .await
            .expect("node runs (the Node fixtures are installed by .ci/run)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `jobs` failed jobs, the first `bulk` of them in `charge_card`.
    async fn seed(&self) {
        self.exec(
            "INSERT INTO {s}._private_tasks (identifier) VALUES ('charge_card'), ('send_email')",
        )
        .await;
        self.exec(&format!(
            "INSERT INTO {{s}}._private_jobs (task_id, payload, run_at, attempts, max_attempts, \
               last_error, created_at, updated_at) \
             SELECT CASE WHEN g <= {bulk} THEN c.id ELSE e.id END, \
               json_build_object('tenantId', 'tenant-' || (g % 500), 'to', 'user' || g || '@example.com'), \
               now() - interval '3 hours' + g * interval '1 millisecond', 25, 25, \
               'Error: upstream answered 503 for job ' || g, \
               now() - interval '4 hours', now() - interval '4 hours' \
             FROM generate_series(1, {jobs}) g, \
               {{s}}._private_tasks c, {{s}}._private_tasks e \
             WHERE c.identifier = 'charge_card' AND e.identifier = 'send_email'",
            bulk = self.bulk,
            jobs = self.jobs
        ))
        .await;
        self.exec("VACUUM ANALYZE {s}._private_jobs").await;
    }

    /// The bulk jobs back as seeded: failed, with their seeded times.
    async fn reseed(&self) {
        self.exec(
            "UPDATE {s}._private_jobs j SET attempts = 25, max_attempts = 25, \
               run_at = now() - interval '3 hours' + j.id * interval '1 millisecond', \
               updated_at = now() - interval '4 hours', locked_at = NULL, locked_by = NULL \
             FROM {s}._private_tasks t WHERE t.id = j.task_id AND t.identifier = 'charge_card'",
        )
        .await;
        self.exec("VACUUM ANALYZE {s}._private_jobs").await;
    }

    async fn failed_bulk_jobs(&self) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}.jobs WHERE task_identifier = 'charge_card' \
             AND attempts >= max_attempts",
            self.s()
        )))
        .fetch_one(&self.pool)
        .await
        .unwrap()
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
            println!("graphile-worker: skipped, PostgreSQL is unreachable ({err})");
            return;
        }
    };
    let jobs = i64::try_from(env_or("BENCH_GRAPHILE_JOBS", 1_000_000)).unwrap_or(i64::MAX);
    let bulk = i64::try_from(env_or("BENCH_GRAPHILE_BULK", 100_000))
        .unwrap_or(i64::MAX)
        .min(jobs);
    let requests = env_or("BENCH_GRAPHILE_REQUESTS", 300);
    let schema = format!("graphile_worker_bench_{}", uuid::Uuid::new_v4().simple());
    let bench = Bench {
        pool,
        url: server.clone(),
        schema: schema.clone(),
        jobs,
        bulk,
    };
    println!(
        "graphile-worker 0.18.0: {jobs} failed jobs ({bulk} in charge_card), schema {}",
        bench.schema
    );
    // Dropped at the end, or when a step fails.
    let _schema = DropSchema { server, schema };
    bench.install().await;
    let started = Instant::now();
    bench.seed().await;
    println!(
        "  seeded in {:.1} s (INSERT … SELECT generate_series, VACUUM ANALYZE)",
        started.elapsed().as_secs_f64()
    );
    measure(&bench, requests).await;
}

#[expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]
async fn measure(bench: &Bench, requests: u64) {
    let keys = Graphile {
        url: Secret::new(bench.url.clone()),
        schema: bench.schema.clone(),
    };

    // What one poll costs PostgreSQL.
    let context = SourceContext {
        source: SourceName::parse("gw").unwrap(),
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

    // opsdeck in-process, its own store in a temporary SQLite file.
    let served = Served::start(
        vec![SourceConfig {
            poll_interval: Some(Duration::from_secs(2)),
            ..SourceConfig::system("gw", keys)
        }],
        u64::try_from(bench.bulk).unwrap_or(u64::MAX),
    )
    .await;
    let (addr, state, token) = (served.addr, served.state.clone(), served.token.clone());
    let client = reqwest::Client::new();
    let overview = format!("http://{addr}/ops/queues");
    served.wait_for(&client, "\"failed\"").await;

    let mut view = latencies(&client, &overview, &token, requests).await;
    println!(
        "  GET /ops/queues: p50 {:.2} ms, p99 {:.2} ms (goal p99 <= 20 ms)",
        ms(percentile(&mut view, 50)),
        ms(percentile(&mut view, 99))
    );
    let first = format!("http://{addr}/ops/queues/gw/send_email/jobs?state=failed&limit=50");
    let mut first_page = latencies(&client, &first, &token, requests).await;
    // A page halfway down the failed jobs: the cursor is the keyset of the connector (jobs
    // before an id, newest first).
    let middle = bench.bulk + (bench.jobs - bench.bulk) / 2;
    let deep = format!("{first}&cursor=i{middle}");
    let mut deep_page = latencies(&client, &deep, &token, requests).await;
    println!(
        "  failed jobs, first page p99 {:.2} ms, deep page (job {middle}) p99 {:.2} ms (goal <= 50 ms)",
        ms(percentile(&mut first_page, 99)),
        ms(percentile(&mut deep_page, 99))
    );

    // Bulk retry through opsdeck, then graphile-worker's own function on the same jobs.
    bench.reseed().await;
    let BulkRun {
        dry_time,
        run_time: opsdeck_time,
        count,
        outcome,
    } = bulk_retry(&state, "gw", "charge_card", None).await;
    assert_eq!(outcome.count, count);
    assert_eq!(bench.failed_bulk_jobs().await, 0, "every job retried");
    served.stop().await;

    bench.reseed().await;
    let (direct_time, direct_longest, direct_count) = direct_retry(bench).await;
    assert_eq!(direct_count, count);
    println!(
        "  bulk retry of {} jobs through opsdeck: dry run {:.2} s, run {:.2} s, longest statement {:.1} ms",
        count,
        dry_time.as_secs_f64(),
        opsdeck_time.as_secs_f64(),
        outcome.longest_step_ms
    );
    println!(
        "  reschedule_jobs in chunks of 1,000, directly: {:.2} s, longest chunk {:.1} ms",
        direct_time.as_secs_f64(),
        ms(direct_longest)
    );
    println!(
        "  ratios opsdeck / direct: run {:.2}, dry run + run {:.2}, longest step {:.2}",
        opsdeck_time.as_secs_f64() / direct_time.as_secs_f64(),
        (dry_time + opsdeck_time).as_secs_f64() / direct_time.as_secs_f64(),
        outcome.longest_step_ms / ms(direct_longest)
    );
}

/// graphile-worker's `reschedule_jobs` on every failed `charge_card` job, 1,000 ids a call
/// (each call its own transaction): total time, longest call, jobs rescheduled.
async fn direct_retry(bench: &Bench) -> (Duration, Duration, u64) {
    let started = Instant::now();
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT j.id FROM {s}._private_jobs j JOIN {s}._private_tasks t ON t.id = j.task_id \
         WHERE t.identifier = 'charge_card' AND j.attempts >= j.max_attempts ORDER BY j.id DESC",
        s = bench.s()
    )))
    .fetch_all(&bench.pool)
    .await
    .unwrap();
    let call = format!(
        "SELECT count(*) FROM {}.reschedule_jobs($1, run_at => now(), attempts => 0)",
        bench.s()
    );
    let mut longest = Duration::ZERO;
    let mut done = 0;
    for chunk in ids.chunks(1_000) {
        let sent = Instant::now();
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(call.as_str()))
            .bind(chunk)
            .fetch_one(&bench.pool)
            .await
            .unwrap();
        longest = longest.max(sent.elapsed());
        done += u64::try_from(n).unwrap_or(0);
    }
    (started.elapsed(), longest, done)
}
