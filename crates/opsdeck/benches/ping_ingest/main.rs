//! Durable ping ingest against `/livez`, on SQLite and PostgreSQL, in one process and one
//! run: `cargo bench -p opsdeck --bench ping_ingest`. Issue 5's goal is at least 10,000
//! acknowledged pings a second on SQLite on a 2-core machine.
//!
//! Each backend gets a fresh database (a file under the temp directory; a new schema on
//! `OPSDECK_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`), an
//! in-process server and keep-alive clients on loopback. A ping is `GET
//! /ping/{key}/{slug}` over the workload's monitors in turn, answered only once committed
//! (group commit behind one writer); `/livez` of the same server, measured in turns with
//! it, is the ceiling of the HTTP path itself. After the run the stored runs are counted:
//! every acknowledged ping must be one.
//!
//! Two workloads per backend: pings spread over many monitors (every ping writes another
//! monitor's row, as at the top of the hour on a big installation) and over a few busy
//! ones (pings of one monitor in a batch are merged into one write).
//!
//! Set `BENCH_SECONDS` (per target and workload, default 10), `BENCH_ROUNDS` (default 5),
//! `BENCH_CONNECTIONS` (default 64), `BENCH_MONITORS` (the workloads, default `10,1000`)
//! and `BENCH_BACKENDS` (default `sqlite,postgres`) to vary. PostgreSQL is skipped, saying
//! so, when unreachable.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/database.rs"]
mod database;
mod setup;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::cron::{MonitorSource, MonitorSpec};
use opsdeck_core::ids::Slug;
use opsdeck_core::ids::TokenName;
use opsdeck_core::secret::Secret;
use opsdeck_core::token::{self, Grant, NewToken, Scope, Scopes};
use opsdeck_server::config::Config;
use opsdeck_server::{Application, BuildOptions};

use self::common::{cpu_time, env_or};
use self::database::{Database, postgres};
use self::setup::store_ceiling;

/// Long enough for the writer and the background loops to finish what a slice left.
const SETTLE: Duration = Duration::from_millis(300);

/// One thing measured: its URLs (taken in turn), and what it added up to.
struct Target {
    label: String,
    urls: Arc<Vec<String>>,
    requests: u64,
    elapsed: Duration,
    cpu: Option<Duration>,
    /// Latency of every request, in microseconds.
    latencies: Vec<u32>,
}

impl Target {
    fn new(label: String, urls: Vec<String>) -> Self {
        Self {
            label,
            urls: Arc::new(urls),
            requests: 0,
            elapsed: Duration::ZERO,
            cpu: Some(Duration::ZERO),
            latencies: Vec::new(),
        }
    }

    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&mut self, p: usize) -> f64 {
        self.latencies.sort_unstable();
        let at = (self.latencies.len() * p / 100).min(self.latencies.len().saturating_sub(1));
        f64::from(self.latencies.get(at).copied().unwrap_or(0)) / 1000.0
    }

    fn cpu_per_request(&self) -> Option<f64> {
        self.cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64)
    }
}

/// Requests answered by `connections` keep-alive clients in `slice`, with their latencies.
async fn measure(
    client: &reqwest::Client,
    urls: &Arc<Vec<String>>,
    connections: usize,
    slice: Duration,
) -> (u64, Duration, Vec<u32>) {
    let started = Instant::now();
    let deadline = started + slice;
    let mut tasks = Vec::new();
    for task in 0..connections {
        let (client, urls) = (client.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(16 * 1024);
            let mut next = task;
            while Instant::now() < deadline {
                let url = &urls[next % urls.len()];
                next += connections;
                let sent = Instant::now();
                let response = client.get(url).send().await.expect("request");
                assert!(
                    response.status().is_success(),
                    "{url}: {}",
                    response.status()
                );
                response.bytes().await.expect("body");
                let micros = sent.elapsed().as_micros();
                latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    (all.len() as u64, started.elapsed(), all)
}

/// A sample's value from the Prometheus text.
fn sample(text: &str, name: &str) -> f64 {
    let found = text
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '));
    found.and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

async fn bench(backend: &str, db: &Database, settings: &Settings) {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = Secret::new(db.url());
    // A key of its own, in memory: no key file left behind.
    let (_, key) = opsdeck_core::audit::checkpoint::CheckpointKey::generate().unwrap();
    config.audit.checkpoint_key = Some(Secret::new(key));
    // The limiter stays in the path (its cost is part of the figure) with a budget the
    // load cannot exhaust.
    config.rate_limit.ingest_per_minute = 1_000_000_000;
    config.rate_limit.ingest_burst = 1_000_000_000;
    let app = Application::build(config, BuildOptions::default())
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let state = app.state().clone();
    let store = state.store().clone();
    let new = NewToken {
        name: TokenName::parse("bench").unwrap(),
        grant: Grant::Scopes(Scopes::new([Scope::Checkins]).unwrap()),
        created_by: None,
        expires_at: None,
    };
    let secret = token::generate(new.kind());
    let now = Utc::now();
    store
        .create_token(&new, &secret.hash, &secret.display, now)
        .await
        .unwrap();
    let key = secret.secret.expose().to_owned();
    let mut pings = Vec::new();
    for n in 0..settings.monitors {
        let slug = Slug::parse(&format!("job-{n:05}")).unwrap();
        let spec = MonitorSpec::auto_created(slug.clone());
        store
            .create_monitor(&spec, MonitorSource::Api, now)
            .await
            .unwrap();
        pings.push(format!("http://{addr}/ping/{key}/{slug}"));
    }
    let written = store_ceiling(backend, store.as_ref(), settings).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(settings.connections)
        .build()
        .unwrap();
    let mut targets = [
        Target::new(
            "GET /livez".to_owned(),
            vec![format!("http://{addr}/livez")],
        ),
        Target::new(format!("GET /ping, {} monitors", settings.monitors), pings),
    ];
    let slice = settings.seconds / settings.rounds;
    let warm = Duration::from_millis(500);
    for target in &targets {
        measure(&client, &target.urls, settings.connections, warm).await;
    }
    tokio::time::sleep(SETTLE).await;
    let before = state.metrics().render().unwrap_or_default();
    for _ in 0..settings.rounds {
        for target in &mut targets {
            let before = cpu_time();
            let (requests, elapsed, latencies) =
                measure(&client, &target.urls, settings.connections, slice).await;
            tokio::time::sleep(SETTLE).await;
            let cpu = before
                .zip(cpu_time())
                .map(|(before, after)| after.saturating_sub(before));
            target.requests += requests;
            target.elapsed += elapsed;
            target.cpu = target.cpu.zip(cpu).map(|(total, cpu)| total + cpu);
            target.latencies.extend(latencies);
        }
    }
    let after = state.metrics().render().unwrap_or_default();
    let livez = targets[0].per_second();
    let livez_cpu = targets[0].cpu_per_request();
    for target in &mut targets {
        let cpu = target.cpu_per_request();
        let cpu_ratio = livez_cpu.zip(cpu).map(|(livez, cpu)| livez / cpu);
        let (p50, p99) = (target.percentile_ms(50), target.percentile_ms(99));
        println!(
            "{backend:<9} {:<24} {:>9.0}  {:>8.2}  {:>7.2}  {:>7.2}  {:>10}  {:>8}",
            target.label,
            target.per_second(),
            target.per_second() / livez,
            p50,
            p99,
            cpu.map_or_else(|| "-".to_owned(), |cpu| format!("{cpu:.1}")),
            cpu_ratio.map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}")),
        );
    }
    let delta = |name: &str| sample(&after, name) - sample(&before, name);
    let commits = delta("opsdeck_cron_ping_commit_duration_seconds_count");
    let batched = delta("opsdeck_cron_ping_batch_size_sum");
    let commit_seconds = delta("opsdeck_cron_ping_commit_duration_seconds_sum");
    println!(
        "{backend:<9} group commit: {:.1} pings per transaction on average, {:.2} ms per commit",
        batched / commits.max(1.0),
        commit_seconds * 1000.0 / commits.max(1.0),
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    // Every acknowledged ping (warm-up included) is a stored run, besides the runs the
    // store-alone measure wrote.
    let store = opsdeck_store::connect(
        &opsdeck_store::DatabaseUrl::parse(&db.url()).unwrap(),
        &opsdeck_store::PoolSettings::default(),
    )
    .await
    .unwrap();
    let counts = store.count_runs().await.unwrap();
    let stored = counts.iter().map(|c| c.count).sum::<u64>() - written;
    let acked = sample(
        &after,
        "opsdeck_cron_pings_total{kind=\"success\",outcome=\"accepted\"}",
    );
    let verdict = if stored as f64 == acked {
        ""
    } else {
        "  MISMATCH"
    };
    println!(
        "{backend:<9} durability: {stored} runs stored for {acked:.0} acknowledged pings{verdict}"
    );
    store.close().await;
}

struct Settings {
    seconds: Duration,
    rounds: u32,
    connections: usize,
    monitors: usize,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let seconds = Duration::from_secs(env_or("BENCH_SECONDS", 10));
        let rounds = u32::try_from(env_or("BENCH_ROUNDS", 5).max(1)).unwrap_or(5);
        let connections = usize::try_from(env_or("BENCH_CONNECTIONS", 64)).unwrap_or(64);
        let monitors: Vec<usize> = std::env::var("BENCH_MONITORS")
            .unwrap_or_else(|_| "10,1000".into())
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .filter(|&n| n > 0)
            .collect();
        let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        println!(
            "opsdeck ping ingest: {connections} keep-alive connections, {} s per target in \
             {rounds} rounds, {} CPUs",
            seconds.as_secs(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        println!(
            "{:<9} {:<24} {:>9}  {:>8}  {:>7}  {:>7}  {:>10}  {:>8}",
            "backend", "target", "req/s", "vs livez", "p50 ms", "p99 ms", "CPU µs/req", "vs livez"
        );
        for backend in backends.split(',').map(str::trim) {
            for &monitors in &monitors {
                let db = match backend {
                    "sqlite" => {
                        let name = format!("opsdeck-bench-{}.db", uuid::Uuid::new_v4().simple());
                        Some(Database::Sqlite(std::env::temp_dir().join(name)))
                    }
                    "postgres" => postgres().await,
                    other => {
                        println!("unknown backend {other:?}: use sqlite or postgres");
                        None
                    }
                };
                let Some(db) = db else { break };
                let settings = Settings {
                    seconds,
                    rounds,
                    connections,
                    monitors,
                };
                bench(backend, &db, &settings).await;
                db.drop_it().await;
            }
        }
    });
}
