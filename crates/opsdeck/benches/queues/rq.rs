//! The rq part of the queue benchmark: a million failed RQ jobs (one failed by a real RQ
//! 3.0.0 worker, the rest written by pipelines as copies of it, so each has the fields,
//! expiry, registry score and result stream RQ leaves; RQ's own registries count them),
//! opsdeck in-process with the source, and the figures of SPEC §5: `GET /ops/queues` and a
//! first and a deep page of failed jobs (p50, p99), then a bulk retry of 100,000 failed jobs
//! through opsdeck next to RQ's own `FailedJobRegistry.requeue` of each on an identical set,
//! with opsdeck's longest script as Redis's clock timed it.
//!
//! `OPSDECK_BENCH_RQ_JOBS` (default 1,000,000) and `OPSDECK_BENCH_RQ_RETRY` (default
//! 100,000) shrink it for a quick run; `OPSDECK_BENCH_REDIS_URL` (default
//! redis://127.0.0.1:6379) names the Redis. Every key it wrote is deleted at the end.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use opsdeck_connectors::queues::rq::Rq;
use opsdeck_connectors::queues::{QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use opsdeck_server::config::SourceConfig;
use redis::aio::MultiplexedConnection;
use serde_json::{Value, json};

use super::measure::{BulkRun, Served, bulk_retry, env_or, latencies, p50_p99_ms};

const QUEUE: &str = "billing";
/// Requests per latency figure.
const REQUESTS: u64 = 500;
/// Jobs per seeding pipeline.
const BATCH: u64 = 2_000;
/// RQ's default failure TTL: the failed registry's score is the failure time plus this.
const FAILURE_TTL: i64 = 31_536_000;

fn python_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/queues/python")
}

/// Runs the RQ driver under `prefix` and answers its JSON.
async fn py(url: &str, prefix: &str, command: &str, args: Value) -> Value {
    let dir = python_dir();
    let out = tokio::process::Command::new(dir.join(".venv/bin/python"))
        .arg(dir.join("rq_driver.py"))
        .arg(command)
        .arg(args.to_string())
        .current_dir(&dir)
        .env("RQ_KEY_PREFIX", prefix)
        .env("OPSDECK_TEST_REDIS", url)
        .output()
        .await
        .expect("the Python fixtures run (.ci/run installs them)");
    assert!(
        out.status.success(),
        "rq driver {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Deletes every key under `<base>*` however the benchmark ends.
struct CleanUp {
    url: String,
    base: String,
}

impl Drop for CleanUp {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return;
        };
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.base))
                .arg("COUNT")
                .arg(5000)
                .query(&mut conn)
            else {
                return;
            };
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(&keys).query(&mut conn);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

/// Field-value pairs of a hash or a stream entry.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A real failed job's hash and result entry, copied under new ids.
struct Template {
    fields: Pairs,
    result: Pairs,
}

/// Fails one job with a real RQ worker under `prefix`; its hash and result as written.
async fn template(conn: &mut MultiplexedConnection, url: &str, prefix: &str) -> Template {
    let out = py(
        url,
        prefix,
        "fail",
        json!({"queue": QUEUE, "jobs": [{"func": "charge", "args": ["acme", 7, "4111 1111 1111 1111", "jane@example.com", "tok"]}]}),
    )
    .await;
    let id = out["ids"][0].as_str().unwrap().to_owned();
    let fields: Pairs = redis::cmd("HGETALL")
        .arg(format!("{prefix}:job:{id}"))
        .query_async(conn)
        .await
        .unwrap();
    let entries: Vec<(String, Pairs)> = redis::cmd("XRANGE")
        .arg(format!("{prefix}:results:{id}"))
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .unwrap();
    Template {
        fields,
        result: entries
            .into_iter()
            .next()
            .map(|(_, f)| f)
            .unwrap_or_default(),
    }
}

fn rq_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `count` failed jobs under `prefix` copied from `template`, failed one millisecond apart
/// ending now, each with its expiry, registry entry and result stream, as RQ leaves them.
async fn seed(conn: &mut MultiplexedConnection, template: &Template, prefix: &str, count: u64) {
    let now = chrono::Utc::now();
    let queue_key = format!("{prefix}:queue:{QUEUE}");
    let _: () = redis::cmd("SADD")
        .arg(format!("{prefix}:queues"))
        .arg(&queue_key)
        .query_async(conn)
        .await
        .unwrap();
    let mut start = 0;
    while start < count {
        let end = (start + BATCH).min(count);
        let mut pipe = redis::pipe();
        for n in start..end {
            let id = format!("{:08x}-bench-{n:08}", n);
            let ended = now - chrono::Duration::milliseconds(i64::try_from(count - n).unwrap());
            let key = format!("{prefix}:job:{id}");
            let mut hset = redis::cmd("HSET");
            hset.arg(&key);
            for (field, value) in &template.fields {
                let value: Vec<u8> = match field.as_slice() {
                    b"created_at" | b"enqueued_at" | b"started_at" => {
                        rq_time(ended - chrono::Duration::milliseconds(5)).into_bytes()
                    }
                    b"ended_at" | b"last_heartbeat" => rq_time(ended).into_bytes(),
                    _ => value.clone(),
                };
                hset.arg(field).arg(value);
            }
            pipe.add_command(hset).ignore();
            pipe.cmd("EXPIRE").arg(&key).arg(FAILURE_TTL).ignore();
            pipe.cmd("ZADD")
                .arg(format!("{prefix}:failed:{QUEUE}"))
                .arg(ended.timestamp() + FAILURE_TTL)
                .arg(&id)
                .ignore();
            let mut xadd = redis::cmd("XADD");
            xadd.arg(format!("{prefix}:results:{id}"))
                .arg("MAXLEN")
                .arg(10)
                .arg("*");
            for (field, value) in &template.result {
                xadd.arg(field).arg(value);
            }
            pipe.add_command(xadd).ignore();
        }
        let _: () = pipe.query_async(conn).await.unwrap();
        start = end;
    }
}

pub async fn run() {
    let jobs = env_or("OPSDECK_BENCH_RQ_JOBS", 1_000_000);
    let retry_jobs = env_or("OPSDECK_BENCH_RQ_RETRY", 100_000);
    let url = std::env::var("OPSDECK_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let base = format!("opsdeck-bench-rq-{}", uuid::Uuid::new_v4().simple());
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let Ok(mut conn) = async {
        redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }
    .await
    else {
        println!("rq: Redis at {url} does not answer (set OPSDECK_BENCH_REDIS_URL): skipped");
        return;
    };
    let _clean_up = CleanUp {
        url: url.clone(),
        base: base.clone(),
    };
    println!("rq 3.0.0, Redis {url}, {jobs} failed jobs in one queue");
    let view = format!("{base}-view");
    let ours = format!("{base}-ours");
    let theirs = format!("{base}-theirs");

    let started = Instant::now();
    let template = template(&mut conn, &url, &view).await;
    seed(&mut conn, &template, &view, jobs.saturating_sub(1)).await;
    let counts = py(&url, &view, "counts", json!({"queue": QUEUE, "ids": false})).await;
    println!(
        "  seeded in {:.1} s; RQ's own registries: failed {}",
        started.elapsed().as_secs_f64(),
        counts["failed"]
    );
    assert_eq!(counts["failed"].as_u64(), Some(jobs.max(1)));

    let served = Served::start(
        vec![
            SourceConfig {
                poll_interval: Some(Duration::from_secs(2)),
                ..SourceConfig::system("rq-view", Rq::new(&url, &view))
            },
            SourceConfig {
                poll_interval: Some(Duration::from_secs(2)),
                ..SourceConfig::system("rq-retry", Rq::new(&url, &ours))
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
                .and_then(|q| q.iter().find(|q| q["source"] == "rq-view"))
                .and_then(|q| q["counts"]["failed"]["count"].as_u64())
                == Some(jobs.max(1))
        })
        .await;
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &overview, &viewer, REQUESTS).await);
    println!("  GET /ops/queues: p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 20 ms)");
    let first = format!("http://{addr}/ops/queues/rq-view/{QUEUE}/jobs?state=failed&limit=50");
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &first, &viewer, REQUESTS).await);
    println!(
        "  first page of failed jobs (50): p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 50 ms)"
    );
    let rank = jobs / 2;
    let middle: Vec<String> = redis::cmd("ZREVRANGE")
        .arg(format!("{view}:failed:{QUEUE}"))
        .arg(rank)
        .arg(rank)
        .query_async(&mut conn)
        .await
        .unwrap();
    let deep = format!(
        "{first}&cursor=0%3A{}%3A{}",
        rank + 1,
        middle.first().cloned().unwrap_or_default()
    );
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &deep, &viewer, REQUESTS).await);
    println!(
        "  page {} of failed jobs (50): p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 50 ms)",
        rank / 50 + 1
    );

    poll_cost(&url, &view).await;

    // Bulk retry through opsdeck, then RQ's own requeue of each on an identical set.
    let template_ours = self::template(&mut conn, &url, &ours).await;
    seed(
        &mut conn,
        &template_ours,
        &ours,
        retry_jobs.saturating_sub(1),
    )
    .await;
    let BulkRun {
        dry_time,
        run_time: ours_time,
        count,
        outcome,
    } = bulk_retry(&state, "rq-retry", QUEUE, None).await;
    let total = retry_jobs.max(1);
    assert_eq!((count, outcome.count), (total, total), "{outcome:?}");
    let counts = py(&url, &ours, "counts", json!({"queue": QUEUE, "ids": false})).await;
    assert_eq!(
        (counts["queued"].as_u64(), counts["failed"].as_u64()),
        (Some(total), Some(0)),
        "{counts}"
    );

    let template_theirs = self::template(&mut conn, &url, &theirs).await;
    seed(
        &mut conn,
        &template_theirs,
        &theirs,
        retry_jobs.saturating_sub(1),
    )
    .await;
    let requeued = py(&url, &theirs, "requeue", json!({"queue": QUEUE})).await;
    let theirs_ms = requeued["seconds"].as_f64().unwrap_or(0.0) * 1000.0;
    let counts = py(
        &url,
        &theirs,
        "counts",
        json!({"queue": QUEUE, "ids": false}),
    )
    .await;
    assert_eq!(counts["queued"].as_u64(), Some(total), "{counts}");

    let ours_ms = ours_time.as_secs_f64() * 1000.0;
    println!(
        "  bulk retry of {total} failed jobs: opsdeck {ours_ms:.0} ms (dry run {:.0} ms before \
         it), longest script {:.2} ms as Redis's clock timed it",
        dry_time.as_secs_f64() * 1000.0,
        outcome.longest_step_ms,
    );
    println!(
        "  RQ's own FailedJobRegistry.requeue of each on the same set: {theirs_ms:.0} ms \
         (no script: a ZREM and a pipeline per job, not atomic between them)"
    );
    println!(
        "  ratio opsdeck / RQ: time {:.2}",
        ours_ms / theirs_ms.max(f64::MIN_POSITIVE)
    );
    served.stop().await;
}

/// A fast poll (counts) and a slow one (counts and the newest failures' times), straight on
/// a connector: commands and time waited.
async fn poll_cost(url: &str, prefix: &str) {
    let connector = Rq::new(url, prefix)
        .connect(SourceContext {
            source: SourceName::parse("rq-view").unwrap(),
            tenant_path: None,
            read_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
    for (label, slow) in [
        ("fast poll (counts)", false),
        ("slow poll (+ failures of the hour)", true),
    ] {
        let mut best = Duration::MAX;
        let mut commands = 0;
        for _ in 0..5 {
            let poll = connector.poll(slow).await.unwrap();
            best = best.min(poll.cost.elapsed);
            commands = poll.cost.commands;
        }
        println!(
            "  {label}: {commands} commands, {:.2} ms waited (best of 5)",
            best.as_secs_f64() * 1000.0
        );
    }
}
