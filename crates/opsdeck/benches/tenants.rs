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
//! Then the tenant pages under load: `BENCH_LOAD_EVENTS` events (default 10,000,000: errors
//! in eight groups, audit events, usage of two counters) spread over 30 days and over the
//! tenants, skewed so the busiest tenant sends about one in twenty, go in through the store's
//! own ingest (rollups and groups included), and `GET /ops/tenants/{id}` is timed for
//! `BENCH_PAGE_REQUESTS` (default 500) random tenants and for the busiest one. Issue 14's
//! goal is p99 at most 25 ms.
//!
//! Set `BENCH_SECONDS` (per target, default 10), `BENCH_CLIENTS` (default 16),
//! `BENCH_BATCH`, `BENCH_TENANTS`, `BENCH_LOAD_EVENTS` (0 to skip the pages) and
//! `BENCH_BACKENDS` (default `sqlite,postgres`; an unreachable PostgreSQL is skipped, saying
//! so). `BENCH_KEEP=1` keeps each loaded database and prints its URL; `BENCH_LOADED=URL` then
//! times only the tenant pages on it.

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
    /// Events loaded over 30 days before the tenant pages are read.
    load_events: u64,
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
    mint_grant(
        store,
        &format!("bench-{scope}"),
        Grant::Scopes(Scopes::new([scope]).unwrap()),
    )
    .await
}

async fn mint_role(store: &dyn opsdeck_core::Store, role: opsdeck_core::auth::Role) -> String {
    // A name of its own: a database kept from an earlier run has that run's tokens.
    let name = format!(
        "bench-{role}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    mint_grant(store, &name, Grant::Role(role)).await
}

async fn mint_grant(store: &dyn opsdeck_core::Store, name: &str, grant: Grant) -> String {
    let new = NewToken {
        name: TokenName::parse(name).unwrap(),
        grant,
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

/// An in-process server on `url`.
async fn serve(url: String) -> Application {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = Secret::new(url);
    let (_, key) = opsdeck_core::audit::checkpoint::CheckpointKey::generate().unwrap();
    config.audit.checkpoint_key = Some(Secret::new(key));
    // The limiters stay in the path with budgets the load cannot exhaust.
    config.rate_limit.ingest_per_minute = 1_000_000_000;
    config.rate_limit.ingest_burst = 1_000_000_000;
    config.rate_limit.reads_per_minute = 1_000_000_000;
    config.rate_limit.read_burst = 1_000_000_000;
    Application::build(config, BuildOptions::default())
        .await
        .unwrap()
}

/// `BENCH_LOADED`: only the tenant pages, on a database an earlier run loaded (its file or
/// URL, left behind with `BENCH_KEEP=1`).
async fn pages_only(backend: &str, url: String, settings: &Settings) {
    let app = serve(url).await;
    let addr = app.local_addr().unwrap();
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    read_pages(backend, &state, addr, settings).await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

async fn bench(backend: &str, db: &Database, settings: &Settings) {
    let app = serve(db.url()).await;
    let addr = app.local_addr().unwrap();
    let app_state = app.state().clone();
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
    if settings.load_events > 0 {
        load_and_read(backend, &app_state, addr, settings).await;
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Error messages of the loaded events: each tenant's errors fall into these groups once
/// numbers and quoted values are normalised.
const ERRORS: [&str; 8] = [
    "order {n} not found for user {n}",
    "PaymentError: card declined for invoice {n}",
    "TimeoutError: report query took {n} ms",
    "SMTPConnectError: smtp.example:587 timed out after {n} ms",
    "KeyError: 'plan_{n}'",
    "HTTPError: 502 from hook {n}",
    "DeadlockError: transaction {n} rolled back",
    "ValidationError: field 'email' invalid in row {n}",
];

const AUDIT_ACTIONS: [&str; 5] = [
    "user.login",
    "user.login_failed",
    "user.role_granted",
    "data.export_requested",
    "user.deleted",
];

/// A tenant index skewed like real traffic: a few tenants send most events (the busiest
/// about one in twenty), most send a few hundred.
fn skewed_tenant(tenants: usize, n: u64) -> usize {
    // A fixed pseudo-random draw per event (SplitMix64), cubed.
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = (z >> 11) as f64 / (1u64 << 53) as f64;
    ((u * u * u) * tenants as f64) as usize % tenants
}

/// The `n`th loaded event, `at` within the last 30 days.
fn loaded_event(n: u64, tenants: usize, now: chrono::DateTime<Utc>) -> String {
    let tenant = skewed_tenant(tenants, n);
    let back = (n.wrapping_mul(2_654_435_761) % (30 * 86_400)) as i64;
    let at = (now - chrono::Duration::seconds(back)).to_rfc3339();
    match n % 10 {
        0 | 1 => {
            let message =
                ERRORS[(n / 10) as usize % ERRORS.len()].replace("{n}", &(n % 9973).to_string());
            format!(
                r#"{{"id":"l{n}","type":"error","tenant_id":"t{tenant:05}","at":"{at}","message":"{message}","route":"/api/orders"}}"#
            )
        }
        2 => format!(
            r#"{{"id":"l{n}","type":"audit","tenant_id":"t{tenant:05}","at":"{at}","action":"{}","actor":"user-{}"}}"#,
            AUDIT_ACTIONS[(n / 10) as usize % AUDIT_ACTIONS.len()],
            n % 50
        ),
        _ => format!(
            r#"{{"id":"l{n}","type":"usage","tenant_id":"t{tenant:05}","at":"{at}","name":"{}","value":1}}"#,
            if n.is_multiple_of(3) {
                "api.requests"
            } else {
                "emails.sent"
            }
        ),
    }
}

/// Loads `settings.load_events` events over 30 days into the store (through its own ingest,
/// so the rollups and groups are what the page reads), then times `GET /ops/tenants/{id}`
/// for tenants picked at random and for the busiest one.
async fn load_and_read(
    backend: &str,
    state: &opsdeck_server::state::AppState,
    addr: std::net::SocketAddr,
    settings: &Settings,
) {
    const CHUNK: u64 = 10_000;
    let store = state.store().clone();
    let now = Utc::now();
    let limits = opsdeck_core::events::EventLimits {
        max_age: Duration::from_secs(31 * 86_400),
        ..Default::default()
    };
    let total = settings.load_events;
    let started = Instant::now();
    let mut loaded = 0u64;
    let mut next_report = 1_000_000u64.min(total);
    while loaded < total {
        let end = (loaded + CHUNK).min(total);
        let events: Vec<_> = (loaded..end)
            .map(|n| {
                let line = loaded_event(n, settings.tenants, now);
                opsdeck_core::events::parse_event(line.as_bytes(), now, &limits)
                    .expect("a valid event")
                    .redacted()
            })
            .collect();
        store.ingest_events(&events, now).await.expect("ingest");
        loaded = end;
        if loaded >= next_report {
            println!(
                "{backend:<9} loading: {loaded} of {total} events, {:.0} events/s",
                loaded as f64 / started.elapsed().as_secs_f64()
            );
            next_report += 1_000_000;
        }
    }
    println!(
        "{backend:<9} loaded {total} events over 30 days for {} tenants in {:.1} s ({:.0} events/s through the store, rollups included)",
        settings.tenants,
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64()
    );
    read_pages(backend, state, addr, settings).await;
}

/// Times `GET /ops/tenants/{id}` for random tenants and for the busiest one.
async fn read_pages(
    backend: &str,
    state: &opsdeck_server::state::AppState,
    addr: std::net::SocketAddr,
    settings: &Settings,
) {
    let store = state.store().clone();
    let support = mint_role(store.as_ref(), opsdeck_core::auth::Role::Support).await;
    let client = reqwest::Client::new();
    let get = |tenant: usize| {
        let (client, support) = (client.clone(), support.clone());
        async move {
            let sent = Instant::now();
            let response = client
                .get(format!("http://{addr}/ops/tenants/t{tenant:05}"))
                .bearer_auth(&support)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 200, "the tenant's page");
            let body: serde_json::Value = response.json().await.expect("json");
            for section in [
                "usage",
                "errors",
                "audit_highlights",
                "monitors",
                "opsdeck_audit",
            ] {
                assert_eq!(body[section]["status"], "ok", "{section}: {body}");
            }
            u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX)
        }
    };
    // Warm: the first requests open connections and fill caches.
    for tenant in 0..20 {
        get(tenant * 37 % settings.tenants).await;
    }
    let requests = env_or("BENCH_PAGE_REQUESTS", 500);
    for (label, pick) in [
        ("random tenants", None),
        // Index 0 draws the most events (see `skewed_tenant`).
        ("busiest tenant", Some(0)),
    ] {
        let mut measured = Measured {
            requests,
            items: requests,
            elapsed: Duration::ZERO,
            cpu: None,
            latencies: Vec::new(),
        };
        let started = Instant::now();
        for n in 0..requests {
            let tenant = pick.unwrap_or(n.wrapping_mul(2_654_435_761) as usize % settings.tenants);
            measured.latencies.push(get(tenant).await);
        }
        measured.elapsed = started.elapsed();
        println!(
            "{backend:<9} GET /ops/tenants/{{id}}, {label:<15} p50 {:>6.2} ms  p99 {:>6.2} ms  (goal p99 <= 25 ms; {requests} requests)",
            measured.percentile_ms(50),
            measured.percentile_ms(99),
        );
    }
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
            load_events: env_or("BENCH_LOAD_EVENTS", 10_000_000),
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
        if let Ok(url) = std::env::var("BENCH_LOADED") {
            let backend = if url.starts_with("sqlite:") {
                "sqlite"
            } else {
                "postgres"
            };
            pages_only(backend, url, &settings).await;
            return;
        }
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
            if std::env::var_os("BENCH_KEEP").is_some() {
                println!("{backend:<9} kept for BENCH_LOADED: {}", db.url());
            } else {
                db.drop_it().await;
            }
        }
    });
}
