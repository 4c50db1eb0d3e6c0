//! Application event ingest with durable acks, against ping ingest of the same server, on
//! SQLite and PostgreSQL: `cargo bench -p opsdeck --bench tenants`. Issue 14's goal is at
//! least 50,000 acknowledged events a second on SQLite, in batches of 100.
//!
//! Each backend gets a fresh database, an in-process server and keep-alive clients on
//! loopback. Each client posts NDJSON batches of `BENCH_BATCH` events (default 100: seven
//! in ten usage, two errors, one audit event, over `BENCH_TENANTS` tenants, default
//! 10,000), every event with a new id, and waits for the answer, which comes once the
//! batch is committed. As the baseline, in the same run, the same clients send pings (one
//! committed run each) over 100 monitors. After the run the stored events are counted
//! through the rollups: the usage total must be what the answers acknowledged.
//!
//! Set `BENCH_SECONDS` (per target, default 10), `BENCH_CLIENTS` (default 16),
//! `BENCH_BATCH`, `BENCH_TENANTS` and `BENCH_BACKENDS` (default `sqlite,postgres`; an
//! unreachable PostgreSQL is skipped, saying so).

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

#[path = "common/mod.rs"]
mod common;
#[path = "common/database.rs"]
mod database;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::cron::{MonitorSource, MonitorSpec};
use opsdeck_core::ids::{Slug, TenantId, TokenName};
use opsdeck_core::secret::Secret;
use opsdeck_core::token::{self, Grant, NewToken, Scope, Scopes};
use opsdeck_server::config::Config;
use opsdeck_server::{Application, BuildOptions};

use self::common::{cpu_time, env_or};
use self::database::{Database, postgres};

struct Settings {
    seconds: Duration,
    clients: usize,
    batch: usize,
    tenants: usize,
}

/// What one target added up to.
struct Measured {
    requests: u64,
    items: u64,
    elapsed: Duration,
    cpu: Option<Duration>,
    latencies: Vec<u32>,
}

impl Measured {
    fn percentile_ms(&mut self, p: usize) -> f64 {
        self.latencies.sort_unstable();
        let at = (self.latencies.len() * p / 100).min(self.latencies.len().saturating_sub(1));
        f64::from(self.latencies.get(at).copied().unwrap_or(0)) / 1000.0
    }
}

/// One NDJSON batch of `size` events with ids `{client}-{n}-{i}`.
fn batch(client: usize, n: u64, size: usize, tenants: usize) -> String {
    let at = Utc::now().to_rfc3339();
    let mut body = String::with_capacity(size * 180);
    for i in 0..size {
        let id = format!("{client}-{n}-{i}");
        let tenant = (client * 7919 + n as usize * 104_729 + i * 31) % tenants;
        let line = match i % 10 {
            0 | 1 => format!(
                r#"{{"id":"{id}","type":"error","tenant_id":"t{tenant:05}","at":"{at}","message":"order {i} not found for user {n}","route":"/orders/{{id}}"}}"#
            ),
            2 => format!(
                r#"{{"id":"{id}","type":"audit","tenant_id":"t{tenant:05}","at":"{at}","action":"user.login_failed","actor":"user-{n}"}}"#
            ),
            _ => format!(
                r#"{{"id":"{id}","type":"usage","tenant_id":"t{tenant:05}","at":"{at}","name":"api.requests","value":1}}"#
            ),
        };
        body.push_str(&line);
        body.push('\n');
    }
    body
}

/// Posts batches from `clients` clients for `slice`; counts the events stored.
async fn post_events(url: &str, key: &str, settings: &Settings, slice: Duration) -> Measured {
    static ROUND: AtomicU64 = AtomicU64::new(0);
    let round = ROUND.fetch_add(1, Ordering::Relaxed);
    let client = reqwest::Client::new();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let deadline = started + slice;
    let mut tasks = Vec::new();
    for task in 0..settings.clients {
        let (client, url, key) = (client.clone(), url.to_owned(), key.to_owned());
        let (size, tenants) = (settings.batch, settings.tenants);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut stored = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let body = batch(task, round * 1_000_000 + n, size, tenants);
                n += 1;
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                assert_eq!(response.status(), 200, "events answered");
                let answer: serde_json::Value = response.json().await.expect("answer");
                stored += answer["stored"].as_u64().unwrap_or(0);
                latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            (latencies, stored)
        }));
    }
    let mut measured = Measured {
        requests: 0,
        items: 0,
        elapsed: Duration::ZERO,
        cpu: None,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, stored) = task.await.expect("client task");
        measured.requests += latencies.len() as u64;
        measured.items += stored;
        measured.latencies.extend(latencies);
    }
    measured.elapsed = started.elapsed();
    measured.cpu = cpu_before
        .zip(cpu_time())
        .map(|(before, after)| after.saturating_sub(before));
    measured
}

/// Sends pings from `clients` clients for `slice`.
async fn send_pings(urls: &Arc<Vec<String>>, clients: usize, slice: Duration) -> Measured {
    let client = reqwest::Client::new();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let deadline = started + slice;
    let mut tasks = Vec::new();
    for task in 0..clients {
        let (client, urls) = (client.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut next = task;
            while Instant::now() < deadline {
                let url = &urls[next % urls.len()];
                next += clients;
                let sent = Instant::now();
                let response = client.get(url).send().await.expect("ping");
                assert!(response.status().is_success(), "ping answered");
                response.bytes().await.expect("body");
                latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    let requests = latencies.len() as u64;
    Measured {
        requests,
        items: requests,
        elapsed: started.elapsed(),
        cpu: cpu_before
            .zip(cpu_time())
            .map(|(before, after)| after.saturating_sub(before)),
        latencies,
    }
}

async fn mint(store: &dyn opsdeck_core::Store, scope: Scope) -> String {
    let new = NewToken {
        name: TokenName::parse(&format!("bench-{scope}")).unwrap(),
        grant: Grant::Scopes(Scopes::new([scope]).unwrap()),
        created_by: None,
        expires_at: None,
    };
    let secret = token::generate(new.kind());
    store
        .create_token(&new, &secret.hash, &secret.display, Utc::now())
        .await
        .unwrap();
    secret.secret.expose().to_owned()
}

fn report(backend: &str, label: &str, unit: &str, measured: &mut Measured, baseline: f64) {
    let each = unit.trim_end_matches("/s").trim_end_matches('s');
    let per_second = measured.items as f64 / measured.elapsed.as_secs_f64();
    let cpu = measured
        .cpu
        .map(|cpu| cpu.as_secs_f64() * 1e6 / measured.items.max(1) as f64);
    println!(
        "{backend:<9} {label:<28} {per_second:>10.0} {unit:<8} {:>5.2}× baseline  {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  CPU {} µs/{each}",
        per_second / baseline.max(1.0),
        measured.requests as f64 / measured.elapsed.as_secs_f64(),
        measured.percentile_ms(50),
        measured.percentile_ms(99),
        cpu.map_or_else(|| "-".to_owned(), |cpu| format!("{cpu:.1}")),
    );
}

async fn bench(backend: &str, db: &Database, settings: &Settings) {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = Secret::new(db.url());
    let (_, key) = opsdeck_core::audit::checkpoint::CheckpointKey::generate().unwrap();
    config.audit.checkpoint_key = Some(Secret::new(key));
    // The limiter stays in the path with a budget the load cannot exhaust.
    config.rate_limit.ingest_per_minute = 1_000_000_000;
    config.rate_limit.ingest_burst = 1_000_000_000;
    let app = Application::build(config, BuildOptions::default())
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let store = app.state().store().clone();
    let events_key = mint(store.as_ref(), Scope::Events).await;
    let ping_key = mint(store.as_ref(), Scope::Checkins).await;
    let mut pings = Vec::new();
    for n in 0..100 {
        let slug = Slug::parse(&format!("job-{n:03}")).unwrap();
        store
            .create_monitor(
                &MonitorSpec::auto_created(slug.clone()),
                MonitorSource::Api,
                Utc::now(),
            )
            .await
            .unwrap();
        pings.push(format!("http://{addr}/ping/{ping_key}/{slug}"));
    }
    let pings = Arc::new(pings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let events_url = format!("http://{addr}/api/v1/events");
    let warm = Duration::from_millis(500);
    send_pings(&pings, settings.clients, warm).await;
    let warm_events = post_events(&events_url, &events_key, settings, warm).await;

    let mut baseline = send_pings(&pings, settings.clients, settings.seconds).await;
    let mut events = post_events(&events_url, &events_key, settings, settings.seconds).await;
    let ping_rate = baseline.items as f64 / baseline.elapsed.as_secs_f64();
    report(
        backend,
        "GET /ping (baseline)",
        "pings/s",
        &mut baseline,
        ping_rate,
    );
    let label = format!("POST /api/v1/events ×{}", settings.batch);
    report(backend, &label, "events/s", &mut events, ping_rate);

    // Every acknowledged usage event is in the rollups: 7 in 10 of the stored events.
    let acked = warm_events.items + events.items;
    let mut usage = 0.0;
    for n in 0..settings.tenants {
        let tenant = TenantId::parse(&format!("t{n:05}")).unwrap();
        let since = Utc::now() - chrono::Duration::hours(2);
        for total in store
            .usage_totals(&tenant, since, Utc::now())
            .await
            .unwrap()
        {
            usage += total.value;
        }
    }
    let per_batch = settings.batch as u64;
    let usage_per_batch = (0..per_batch).filter(|i| i % 10 >= 3).count() as u64;
    let expected_usage = (acked / per_batch) * usage_per_batch;
    let verdict = if usage as u64 == expected_usage {
        ""
    } else {
        "  MISMATCH"
    };
    println!(
        "{backend:<9} durability: {usage:.0} usage events in the rollups for {acked} acknowledged events ({expected_usage} expected){verdict}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let settings = Settings {
            seconds: Duration::from_secs(env_or("BENCH_SECONDS", 10).max(1)),
            clients: usize::try_from(env_or("BENCH_CLIENTS", 16).max(1)).unwrap_or(16),
            batch: usize::try_from(env_or("BENCH_BATCH", 100).max(1)).unwrap_or(100),
            tenants: usize::try_from(env_or("BENCH_TENANTS", 10_000).max(1)).unwrap_or(10_000),
        };
        let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        println!(
            "opsdeck event ingest: {} clients, batches of {}, {} tenants, {} s per target, {} CPUs",
            settings.clients,
            settings.batch,
            settings.tenants,
            settings.seconds.as_secs(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        for backend in backends.split(',').map(str::trim) {
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
            let Some(db) = db else { continue };
            bench(backend, &db, &settings).await;
            db.drop_it().await;
        }
    });
}
