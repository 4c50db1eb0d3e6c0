//! The bullmq part of the queue benchmark: a million failed BullMQ jobs (checked by BullMQ's
//! own `getJobCounts`), opsdeck in-process with the source, and the figures of SPEC §5 and
//! the queues issue — `GET /ops/queues` and a first and a deep page of failed jobs (p50,
//! p99), what one poll costs Redis and its share of Redis's time, and a bulk retry of
//! 100,000 failed jobs through opsdeck next to BullMQ's own `Queue.retryJobs` on an
//! identical set, each timed while Redis logs nothing, then each run again with every
//! command logged for its longest script and Redis's time in its scripts as `SLOWLOG` saw
//! them (logging every command slows the scripts, so it is kept out of the timed runs).
//!
//! `OPSDECK_BENCH_QUEUE_JOBS` (default 1,000,000) and `OPSDECK_BENCH_QUEUE_RETRY` (default
//! 100,000) shrink it for a quick run; `OPSDECK_BENCH_REDIS_URL` (default
//! redis://127.0.0.1:6379) names the Redis. Every key it wrote is deleted at the end.

mod seed;

use std::time::{Duration, Instant};

use opsdeck_connectors::queues::bullmq::Bullmq;
use opsdeck_connectors::queues::{QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use opsdeck_server::config::SourceConfig;

use super::measure::{BulkRun, Served, bulk_retry, env_or, latencies, p50_p99_ms};
use super::redis_side::{RedisSide, longest_script, scripts_total};
use seed::{CleanUp, Seeder, delete_prefix};

const SOURCE: &str = "bench";
const BIG: &str = "mail";
const RETRY: &str = "resend";
/// Requests per latency figure.
const REQUESTS: u64 = 500;

pub async fn run() {
    let jobs = env_or("OPSDECK_BENCH_QUEUE_JOBS", 1_000_000);
    let retry_jobs = env_or("OPSDECK_BENCH_QUEUE_RETRY", 100_000);
    let url = std::env::var("OPSDECK_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("opsdeck-bench-{}", uuid::Uuid::new_v4().simple());
    let Ok(seeder) = Seeder::connect(&url, &prefix).await else {
        println!("bullmq: Redis at {url} does not answer (set OPSDECK_BENCH_REDIS_URL): skipped");
        return;
    };
    println!("bullmq 6.7.6, Redis {url}, {jobs} failed jobs in one queue");
    // Every key written is deleted at the end, even when a measurement fails.
    let _clean_up = CleanUp {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    measure(&seeder, &url, &prefix, jobs, retry_jobs).await;
}

async fn measure(seeder: &Seeder, url: &str, prefix: &str, jobs: u64, retry_jobs: u64) {
    let started = Instant::now();
    seeder.failed(BIG, jobs).await;
    let counts = seed::node(prefix, BIG, "jobCounts").await;
    println!(
        "  seeded in {:.1} s; BullMQ's getJobCounts: {}",
        started.elapsed().as_secs_f64(),
        counts["counts"]
    );
    assert_eq!(counts["counts"]["failed"].as_u64(), Some(jobs));

    // The view, served by the in-process app.
    let served = Served::start(
        vec![SourceConfig {
            poll_interval: Some(Duration::from_secs(2)),
            ..SourceConfig::system(SOURCE, Bullmq::new(url, prefix))
        }],
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
                .and_then(|q| q.iter().find(|q| q["queue"] == BIG))
                .and_then(|q| q["counts"]["failed"]["count"].as_u64())
                == Some(jobs)
        })
        .await;
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &overview, &viewer, REQUESTS).await);
    println!("  GET /ops/queues: p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 20 ms)");
    let first = format!("http://{addr}/ops/queues/{SOURCE}/{BIG}/jobs?state=failed&limit=50");
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &first, &viewer, REQUESTS).await);
    println!(
        "  first page of failed jobs (50): p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 50 ms)"
    );
    // The page after the job half-way down the failed set, as a `next` cursor names it.
    let middle = seeder.id_at_rank(BIG, jobs / 2).await;
    let deep = format!("{first}&cursor={}%3A{}%3A{middle}", 0, jobs / 2 + 1);
    let (p50, p99) = p50_p99_ms(&mut latencies(&client, &deep, &viewer, REQUESTS).await);
    println!(
        "  page {} of failed jobs (50): p50 {p50:.2} ms, p99 {p99:.2} ms (goal p99 <= 50 ms)",
        jobs / 2 / 50 + 1
    );

    poll_cost(url, prefix).await;

    // Bulk retry: opsdeck, then BullMQ's own retryJobs on an identical, reseeded set, timed
    // with Redis logging nothing; then both again, on sets reseeded the same way, with
    // every command logged (SLOWLOG at 0 µs, which slows the scripts' own calls) for the
    // longest script and Redis's time in the scripts.
    let side = RedisSide::connect(url).await;
    let ours = || async {
        seeder.failed(RETRY, retry_jobs).await;
        let BulkRun {
            dry_time,
            run_time,
            outcome,
            ..
        } = bulk_retry(&state, SOURCE, RETRY, None).await;
        assert_eq!(outcome.count, retry_jobs, "{outcome:?}");
        all_waiting_then_deleted(url, prefix, retry_jobs).await;
        (dry_time, run_time, outcome.longest_step_ms)
    };
    let theirs = || async {
        seeder.failed(RETRY, retry_jobs).await;
        let answer = seed::node(prefix, RETRY, "retryJobs").await;
        all_waiting_then_deleted(url, prefix, retry_jobs).await;
        answer["ms"].as_f64().unwrap_or(0.0)
    };

    let (dry_time, ours_time, ours_longest_ms) = ours().await;
    let theirs_ms = theirs().await;
    side.start_slowlog().await;
    ours().await;
    let ours_log = side.slowlog(prefix).await;
    side.start_slowlog().await;
    theirs().await;
    let theirs_log = side.slowlog(prefix).await;
    side.stop_slowlog().await;
    let (ours_script, theirs_script) = (longest_script(&ours_log), longest_script(&theirs_log));
    let (ours_total, theirs_total) = (scripts_total(&ours_log), scripts_total(&theirs_log));

    let ours_ms = ours_time.as_secs_f64() * 1000.0;
    let logged = |us: Option<u64>| {
        us.map_or_else(
            || "-".to_owned(),
            |us| format!("{:.2} ms", us as f64 / 1000.0),
        )
    };
    println!(
        "  bulk retry of {retry_jobs} failed jobs: opsdeck {ours_ms:.0} ms (dry run {:.0} ms \
         before it), longest script {ours_longest_ms:.2} ms as Redis's clock timed it inside",
        dry_time.as_secs_f64() * 1000.0,
    );
    println!("  BullMQ's Queue.retryJobs on the same set: {theirs_ms:.0} ms");
    println!(
        "  with every command logged: longest script opsdeck {}, BullMQ {}; Redis's time in \
         the scripts opsdeck {:.0} ms in {} scripts, BullMQ {:.0} ms in {}",
        logged(ours_script),
        logged(theirs_script),
        ours_total.1 as f64 / 1000.0,
        ours_total.0,
        theirs_total.1 as f64 / 1000.0,
        theirs_total.0,
    );
    println!(
        "  ratio opsdeck / BullMQ: time {:.2}, longest script (logged) {}",
        ours_ms / theirs_ms.max(f64::MIN_POSITIVE),
        ours_script.zip(theirs_script).map_or_else(
            || "-".to_owned(),
            |(a, b)| format!("{:.2}", a as f64 / b.max(1) as f64)
        ),
    );

    served.stop().await;
}

/// One fast poll (counts only) and one slow poll (with the scan for queues), straight on a
/// connector: commands, time waited, Redis's own time for them, and their share.
async fn poll_cost(url: &str, prefix: &str) {
    let keys = Bullmq::new(url, prefix);
    let connector = keys
        .connect(SourceContext {
            source: SourceName::parse(SOURCE).unwrap(),
            tenant_path: None,
            read_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
    let side = RedisSide::connect(url).await;
    connector.poll(true).await.unwrap();
    let interval = opsdeck_server::config::QueuesConfig::default().poll_interval;
    for (label, slow) in [
        ("fast poll (counts)", false),
        ("slow poll (scan + counts)", true),
    ] {
        side.start_slowlog().await;
        let poll = connector.poll(slow).await.unwrap();
        let logged = side.slowlog(prefix).await;
        side.stop_slowlog().await;
        let redis_us: u64 = logged.iter().map(|l| l.micros).sum();
        // The poller spaces slow polls by this many times what the last one cost.
        let gap = if slow {
            (poll.cost.elapsed * opsdeck_server::queues::SLOW_COST_FACTOR).max(interval)
        } else {
            interval
        };
        println!(
            "  {label}: {} commands ({} calls as Redis logged them), {:.2} ms waited, {:.2} ms \
             of Redis time; one every {:.1} s is {:.4} % of Redis's time",
            poll.cost.commands,
            logged.len(),
            poll.cost.elapsed.as_secs_f64() * 1000.0,
            redis_us as f64 / 1000.0,
            gap.as_secs_f64(),
            redis_us as f64 / 1e6 / gap.as_secs_f64() * 100.0,
        );
    }
}

/// BullMQ's own counts say every retried job waits; then the retry queue is deleted for the
/// next run.
async fn all_waiting_then_deleted(url: &str, prefix: &str, retried: u64) {
    let counts = seed::node(prefix, RETRY, "jobCounts").await;
    assert_eq!(
        counts["counts"]["waiting"].as_u64(),
        Some(retried),
        "{counts}"
    );
    delete_prefix_queue(url, prefix, RETRY).await;
}

async fn delete_prefix_queue(url: &str, prefix: &str, queue: &str) {
    delete_prefix(url, &format!("{prefix}:{queue}")).await;
}
