//! The sidekiq part of the queue benchmark: a million retrying jobs in Sidekiq's `retry`
//! set (checked by Sidekiq's own `Sidekiq::Stats`), opsdeck in-process with the source, and
//! `GET /ops/queues`, a first and a deep page of retrying jobs (p50, p99); the census of the
//! set (slow polls until the per-queue count is known, and the longest of them); and a bulk
//! retry of 100,000 jobs through opsdeck next to Sidekiq's own `RetrySet#retry_all` (Debian's
//! 6.4.1) on an identical set, with opsdeck's longest script as Redis's `SLOWLOG` saw it.
//!
//! `OPSDECK_BENCH_QUEUE_JOBS` (default 1,000,000) and `OPSDECK_BENCH_QUEUE_RETRY` (default
//! 100,000) shrink it for a quick run; `OPSDECK_BENCH_REDIS_URL` (default
//! redis://127.0.0.1:6379) names the Redis. Sidekiq cannot prefix its keys, so the benchmark
//! claims two databases among 10 to 15 (the lock keys the tests use) and flushes them at the
//! end.

use std::time::{Duration, Instant};

use opsdeck_connectors::queues::sidekiq::Sidekiq;
use opsdeck_connectors::queues::{QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use opsdeck_core::queues::JobState;
use opsdeck_server::config::SourceConfig;
use opsdeck_server::ops::queues::BulkFilter;
use redis::aio::MultiplexedConnection;
use serde_json::{Value, json};

use super::measure::{self, BulkRun, Served, env_or, latencies, ms, p50_p99_ms};
use super::redis_side::{RedisSide, longest_script};

const SOURCE: &str = "bench";
const RETRY_SOURCE: &str = "bench-retry";
const BIG: &str = "mail";
/// Requests per latency figure.
const REQUESTS: u64 = 500;
/// Entries per `ZADD`, and `ZADD`s per pipeline.
const PER_ZADD: u64 = 1_000;
const ZADDS_PER_PIPELINE: u64 = 10;

/// Two databases claimed for the run, flushed and released when it ends.
struct Databases {
    base: String,
    dbs: Vec<u8>,
    token: String,
}

fn lock_key(db: u8) -> String {
    format!("opsdeck-sidekiq-db-lock:{db}")
}

impl Databases {
    async fn claim(base: &str) -> Option<Self> {
        let token = uuid::Uuid::new_v4().to_string();
        let mut conn = redis::Client::open(base)
            .ok()?
            .get_multiplexed_async_connection()
            .await
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut dbs = Vec::new();
        while dbs.len() < 2 {
            for db in 10..=15u8 {
                if dbs.len() == 2 || dbs.contains(&db) {
                    continue;
                }
                let claimed: Option<String> = redis::cmd("SET")
                    .arg(lock_key(db))
                    .arg(&token)
                    .arg("NX")
                    .arg("EX")
                    .arg(3_600)
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                if claimed.is_some() {
                    dbs.push(db);
                }
            }
            if dbs.len() < 2 {
                assert!(
                    Instant::now() < deadline,
                    "no two free Redis databases in 10-15"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let claimed = Self {
            base: base.trim_end_matches('/').to_owned(),
            dbs,
            token,
        };
        for db in 0..2 {
            claimed.flush(db);
        }
        Some(claimed)
    }

    fn url(&self, index: usize) -> String {
        format!("{}/{}", self.base, self.dbs[index])
    }

    fn flush(&self, index: usize) {
        if let Ok(mut conn) = redis::Client::open(self.url(index)).and_then(|c| c.get_connection())
        {
            let _: redis::RedisResult<()> = redis::cmd("FLUSHDB").query(&mut conn);
        }
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        for index in 0..self.dbs.len() {
            self.flush(index);
        }
        let Ok(mut conn) = redis::Client::open(self.base.as_str()).and_then(|c| c.get_connection())
        else {
            return;
        };
        for db in &self.dbs {
            let held: Option<String> = redis::cmd("GET")
                .arg(lock_key(*db))
                .query(&mut conn)
                .unwrap_or(None);
            if held.as_deref() == Some(self.token.as_str()) {
                let _: redis::RedisResult<()> =
                    redis::cmd("DEL").arg(lock_key(*db)).query(&mut conn);
            }
        }
    }
}

async fn connection(url: &str) -> MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

/// `count` jobs in the retry set, in `queue`, as Sidekiq 6.4.1 leaves a failed job (float
/// seconds, a compressed backtrace), next retries a millisecond apart, pipelined `ZADD`s.
async fn seed(url: &str, queue: &str, count: u64) {
    let mut conn = connection(url).await;
    let backtrace = "eJy1lctugzAQRX8lYpNWauLych6q+hNdVhU1eAIuBhM/QvL3NTipYNEdXoEs\n";
    let now = chrono::Utc::now().timestamp() as f64;
    let mut n = 0u64;
    while n < count {
        let mut pipe = redis::pipe();
        for _ in 0..ZADDS_PER_PIPELINE {
            if n >= count {
                break;
            }
            let cmd = pipe.cmd("ZADD").arg("retry");
            for _ in 0..PER_ZADD.min(count - n) {
                let failed_at = now - 3_600.0 + n as f64 * 0.000_1;
                let member = json!({
                    "retry": 25, "queue": queue, "class": "MailJob",
                    "args": [{"tenant_id": format!("t{}", n % 100), "user": n}],
                    "backtrace": true, "jid": format!("{n:024x}"),
                    "created_at": failed_at - 1.5, "enqueued_at": failed_at - 1.0,
                    "error_message": "smtp refused", "error_class": "Net::SMTPFatalError",
                    "failed_at": failed_at, "retry_count": 0, "error_backtrace": backtrace,
                })
                .to_string();
                cmd.arg(now + 86_400.0 + n as f64 * 0.001).arg(member);
                n += 1;
            }
            cmd.ignore();
        }
        let _: () = pipe.query_async(&mut conn).await.unwrap();
    }
    let _: () = redis::cmd("SADD")
        .arg("queues")
        .arg(queue)
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// Runs the test driver (`tests/fixtures/queues/sidekiq/driver.rb`) with Debian's Sidekiq.
async fn ruby(url: &str, command: &str) -> Value {
    let driver = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/queues/sidekiq/driver.rb");
    let out = tokio::process::Command::new("ruby")
        .arg(driver)
        .arg(command)
        .arg(json!({"url": url}).to_string())
        .output()
        .await
        .expect("ruby runs");
    assert!(
        out.status.success(),
        "driver {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub async fn run() {
    let jobs = env_or("OPSDECK_BENCH_QUEUE_JOBS", 1_000_000);
    let retry_jobs = env_or("OPSDECK_BENCH_QUEUE_RETRY", 100_000);
    let base = std::env::var("OPSDECK_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let Some(dbs) = Databases::claim(&base).await else {
        println!("sidekiq: Redis at {base} does not answer (set OPSDECK_BENCH_REDIS_URL): skipped");
        return;
    };
    let (url, retry_url) = (dbs.url(0), dbs.url(1));
    println!("sidekiq 6.4.1 layout, Redis {url}, {jobs} retrying jobs in one queue");
    let started = Instant::now();
    seed(&url, BIG, jobs).await;
    let stats = ruby(&url, "stats").await;
    println!(
        "  seeded in {:.1} s; Sidekiq::Stats: retry_size {}",
        started.elapsed().as_secs_f64(),
        stats["retry_size"]
    );
    assert_eq!(stats["retry_size"].as_u64(), Some(jobs), "{stats}");

    census(&url, jobs).await;

    let served = Served::start(
        vec![
            SourceConfig {
                poll_interval: Some(Duration::from_secs(2)),
                ..SourceConfig::system(SOURCE, Sidekiq::new(&url))
            },
            SourceConfig {
                poll_interval: Some(Duration::from_secs(2)),
                ..SourceConfig::system(RETRY_SOURCE, Sidekiq::new(&retry_url))
            },
        ],
        retry_jobs.max(100_000),
    )
    .await;
    let (addr, state, viewer) = (served.addr, served.state.clone(), served.token.clone());
    let client = reqwest::Client::new();
    let overview = format!("http://{addr}/ops/queues");
    served
        .wait_until(&client, |body| {
            body["queues"]
                .as_array()
                .is_some_and(|q| q.iter().any(|q| q["queue"] == BIG))
        })
        .await;
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &overview, &viewer, REQUESTS).await);
    println!("  GET /ops/queues: p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 20 ms)");
    let first = format!("http://{addr}/ops/queues/{SOURCE}/{BIG}/jobs?state=retrying&limit=50");
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &first, &viewer, REQUESTS).await);
    println!(
        "  first page of retrying jobs (50): p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 50 ms)"
    );
    // The page after the entry half-way down the set, as a `next` cursor names it.
    let mut conn = connection(&url).await;
    let middle: Vec<String> = redis::cmd("ZREVRANGE")
        .arg("retry")
        .arg(jobs / 2)
        .arg(jobs / 2)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    let deep = format!("{first}&cursor=0%3A1%3A{}", middle[1]);
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &deep, &viewer, REQUESTS).await);
    println!(
        "  page {} of retrying jobs (50): p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 50 ms)",
        jobs / 2 / 50 + 1
    );

    bulk_retry(&state, &retry_url, retry_jobs).await;

    served.stop().await;
    drop(dbs);
}

/// Slow polls straight on a connector until the census has counted the queue's retries.
async fn census(url: &str, jobs: u64) {
    let connector = Sidekiq::new(url)
        .connect(SourceContext {
            source: SourceName::parse(SOURCE).unwrap(),
            tenant_path: None,
            read_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
    // The first call connects.
    connector.poll(false).await.unwrap();
    let fast = connector.poll(false).await.unwrap();
    println!(
        "  fast poll: {} commands, {:.2} ms waited",
        fast.cost.commands,
        ms(fast.cost.elapsed)
    );
    let started = Instant::now();
    let mut polls = 0u64;
    let mut longest = Duration::ZERO;
    let mut commands = 0;
    let count = loop {
        let poll = connector.poll(true).await.unwrap();
        polls += 1;
        longest = longest.max(poll.cost.elapsed);
        commands += poll.cost.commands;
        let count = poll
            .queues
            .iter()
            .find(|q| q.queue.as_str() == BIG)
            .and_then(|q| q.count(JobState::Retrying));
        if let Some(count) = count {
            break count;
        }
    };
    assert_eq!(count, jobs);
    let interval = opsdeck_server::config::QueuesConfig::default().poll_interval;
    let gap = (longest * opsdeck_server::queues::SLOW_COST_FACTOR).max(interval);
    println!(
        "  census of the retry set by queue: {polls} slow polls ({commands} commands, {:.0} ms \
         in all, the longest {:.2} ms); at the poller's spacing about {:.0} s until the first \
         per-queue count",
        ms(started.elapsed()),
        ms(longest),
        gap.as_secs_f64() * polls as f64
    );
}

/// Bulk retry of `count` jobs through opsdeck, then Sidekiq's own retry_all on an identical
/// reseeded set.
async fn bulk_retry(state: &opsdeck_server::state::AppState, url: &str, count: u64) {
    let queue = format!("resend-{}", uuid::Uuid::new_v4().simple());
    seed(url, &queue, count).await;
    let side = RedisSide::connect(url).await;
    side.start_slowlog().await;
    let retrying = BulkFilter {
        state: Some("retrying".into()),
        q: None,
        tenant_id: None,
    };
    let BulkRun {
        dry_time,
        run_time: ours,
        outcome,
        ..
    } = measure::bulk_retry(state, RETRY_SOURCE, &queue, Some(retrying)).await;
    assert_eq!(outcome.count, count, "{outcome:?}");
    let logged = side.slowlog(&queue).await;
    let ours_script = longest_script(&logged);
    let mut scripts: Vec<u64> = logged
        .iter()
        .filter(|l| l.command == "EVALSHA")
        .map(|l| l.micros)
        .collect();
    scripts.sort_unstable();
    let median_script = scripts.get(scripts.len() / 2).copied();
    side.stop_slowlog().await;
    let stats = ruby(url, "stats").await;
    assert_eq!(stats["queues"][&queue].as_u64(), Some(count), "{stats}");
    assert_eq!(stats["retry_size"].as_u64(), Some(0), "{stats}");

    let mut conn = connection(url).await;
    let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
    seed(url, &queue, count).await;
    let theirs = ruby(url, "retry_all").await;
    let theirs_ms = theirs["seconds"].as_f64().unwrap_or(0.0) * 1000.0;
    let stats = ruby(url, "stats").await;
    assert_eq!(stats["queues"][&queue].as_u64(), Some(count), "{stats}");

    let ours_ms = ms(ours);
    println!(
        "  bulk retry of {count} retrying jobs: opsdeck {ours_ms:.0} ms (dry run {:.0} ms \
         before it), longest script {:.2} ms as opsdeck timed it, {} as Redis logged it \
         (median of its {} scripts {})",
        ms(dry_time),
        outcome.longest_step_ms,
        ours_script.map_or_else(
            || "-".to_owned(),
            |us| format!("{:.2} ms", us as f64 / 1000.0)
        ),
        scripts.len(),
        median_script.map_or_else(
            || "-".to_owned(),
            |us| format!("{:.2} ms", us as f64 / 1000.0)
        ),
    );
    println!(
        "  Sidekiq's RetrySet#retry_all (6.4.1, Ruby) on the same set: {theirs_ms:.0} ms; \
         ratio opsdeck / Sidekiq {:.2}",
        ours_ms / theirs_ms.max(f64::MIN_POSITIVE)
    );
}
