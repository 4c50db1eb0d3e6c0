//! The cron list at scale (issue 12): `cargo bench -p opsdeck --bench cron_list`. With
//! 100,000 monitors the goal is p99 ≤ 50 ms for a page of `GET /ops/cron`, a monitor's page
//! and the Overview, and the process's RSS ≤ 64 MB.
//!
//! Each backend gets a fresh database (SQLite under the temp directory; PostgreSQL in a new
//! schema on `OPSDECK_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`,
//! skipped when unreachable) and an in-process server on 127.0.0.1. Monitors are created
//! as `?create=1` pings create them — an auto-created spec, source `ping`, one run each,
//! every 50th failed and so down — but through the store for speed; a sample of them is
//! created by real pings and listed the same way. Every target is measured one request
//! after the other (`BENCH_REQUESTS` each, default 200) at each size of `BENCH_MONITORS`
//! (default `1000,100000`, the first the baseline), with p50/p99, the response's size and
//! the ratio of p99 to the goal; then the server's RSS (VmRSS, and VmHWM since the
//! monitors were made), and last one `/metrics` scrape, which lists every monitor by name.
//! The monitors are made by a second process (this benchmark run again with
//! `OPSDECK_BENCH_FILL` set), so the filling's own memory is not counted as the server's.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

#[path = "common/mod.rs"]
#[expect(dead_code, reason = "CPU time is not what this benchmark compares")]
mod common;
#[path = "common/database.rs"]
mod database;

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_core::cron::{
    Health, MonitorSource, MonitorSpec, Ping, PingKind, RunSource, StateWrite, apply_ping,
};
use opsdeck_core::ids::{Slug, TokenName};
use opsdeck_core::secret::Secret;
use opsdeck_core::token::{self, Grant, NewToken, Scope, Scopes};
use opsdeck_core::{Store, StoreError};
use opsdeck_server::config::Config;
use opsdeck_server::{Application, BuildOptions};

use self::common::env_or;
use self::database::{Database, postgres};

/// The goal for the list, a monitor's page and the Overview at 100,000 monitors.
const GOAL_P99_MS: f64 = 50.0;
const GOAL_RSS_MB: f64 = 64.0;
/// Monitors written per transaction while filling.
const FILL_BATCH: usize = 500;
/// Monitors created by real pings, to show they list as the store-made ones.
const PINGED: usize = 20;

fn slug(n: usize) -> Slug {
    Slug::parse(&format!("job-{n:06}")).unwrap()
}

/// Creates the monitors `from..to` as a `?create=1` ping does, each with one run: a success,
/// or a failure for every 50th (down, as the threshold is 1).
async fn fill(store: &Arc<dyn Store>, from: usize, to: usize) {
    let workers = 4;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = from + worker * FILL_BATCH;
            while n < to {
                let end = (n + FILL_BATCH).min(to);
                let now = Utc::now();
                let mut writes = Vec::with_capacity(FILL_BATCH);
                for i in n..end {
                    let spec = MonitorSpec::auto_created(slug(i));
                    let record = store
                        .create_monitor(&spec, MonitorSource::Ping, now)
                        .await
                        .unwrap();
                    let kind = if i % 50 == 7 {
                        PingKind::Fail
                    } else {
                        PingKind::Success
                    };
                    let mut state = record.state.clone();
                    let outcome =
                        apply_ping(&spec, &mut state, &Ping::new(kind, RunSource::Ping), now);
                    writes.push(StateWrite {
                        slug: spec.slug().clone(),
                        version: record.version,
                        next_check_at: state.next_check_at(&spec, now),
                        state,
                        outcome,
                        now,
                    });
                }
                let results = store.apply_outcomes(&writes).await.unwrap();
                for (write, result) in writes.iter().zip(results) {
                    match result {
                        Ok(_) => {}
                        // The evaluator stepped the new monitor first: step it again.
                        Err(StoreError::Conflict(_)) => ping_again(&store, write).await,
                        Err(err) => panic!("{err}"),
                    }
                }
                n += workers * FILL_BATCH;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Makes the monitors `from..to` in the database at `url` from a process of their own: this
/// benchmark again, which fills and exits (see [`fill_here`]).
fn fill_elsewhere(url: &str, from: usize, to: usize) {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env(FILL_ENV, format!("{from}:{to}"))
        .env(FILL_URL_ENV, url)
        .status()
        .expect("the filling process starts");
    assert!(status.success(), "the filling process failed: {status}");
}

/// The filling process: makes the monitors `OPSDECK_BENCH_FILL` (`from:to`) names in the
/// database at `OPSDECK_BENCH_FILL_URL`. Returns false when this process is not one.
fn fill_here() -> bool {
    let Ok(range) = std::env::var(FILL_ENV) else {
        return false;
    };
    let (from, to) = range
        .split_once(':')
        .expect("OPSDECK_BENCH_FILL is from:to");
    let (from, to) = (from.parse().unwrap(), to.parse().unwrap());
    let url = std::env::var(FILL_URL_ENV).expect("OPSDECK_BENCH_FILL_URL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = opsdeck_store::DatabaseUrl::parse(&url).unwrap();
        let store = opsdeck_store::connect(&url, &opsdeck_store::PoolSettings::default())
            .await
            .unwrap();
        fill(&store, from, to).await;
    });
    true
}

const FILL_ENV: &str = "OPSDECK_BENCH_FILL";
const FILL_URL_ENV: &str = "OPSDECK_BENCH_FILL_URL";

/// Applies the ping of `write` again, to the monitor as it is now.
async fn ping_again(store: &Arc<dyn Store>, write: &StateWrite) {
    loop {
        let record = store.get_monitor(&write.slug).await.unwrap().unwrap();
        let now = Utc::now();
        let mut state = record.state.clone();
        let ping = Ping::new(PingKind::Success, RunSource::Ping);
        let kind = if write.state.health == Health::Down {
            Ping::new(PingKind::Fail, RunSource::Ping)
        } else {
            ping
        };
        let outcome = apply_ping(&record.spec, &mut state, &kind, now);
        let again = StateWrite {
            slug: write.slug.clone(),
            version: record.version,
            next_check_at: state.next_check_at(&record.spec, now),
            state,
            outcome,
            now,
        };
        match store.apply_outcome(&again).await {
            Ok(_) => return,
            Err(StoreError::Conflict(_)) => {}
            Err(err) => panic!("{err}"),
        }
    }
}

/// A figure of `/proc/self/status`, in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        });
    kb.map_or(0.0, |kb| kb / 1024.0)
}

/// Starts VmHWM again from the current RSS (Linux: `5` to `clear_refs`).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").ok();
}

/// p50 and p99 in ms of `requests` GETs of `url` one after the other, and the last body's
/// size in bytes.
async fn measure(client: &reqwest::Client, url: &str, requests: usize) -> (f64, f64, usize) {
    let mut latencies = Vec::with_capacity(requests);
    let mut size = 0;
    for _ in 0..requests {
        let sent = Instant::now();
        let response = client.get(url).send().await.expect("request");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        size = response.bytes().await.expect("body").len();
        latencies.push(sent.elapsed());
    }
    latencies.sort_unstable();
    let at = |p: usize| {
        let i = (latencies.len() * p / 100).min(latencies.len() - 1);
        latencies[i].as_secs_f64() * 1000.0
    };
    (at(50), at(99), size)
}

fn size_text(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} kB", bytes as f64 / 1024.0)
    }
}

async fn bench(backend: &str, db: &Database, sizes: &[usize], requests: usize) {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = Secret::new(db.url());
    let (_, key) = opsdeck_core::audit::checkpoint::CheckpointKey::generate().unwrap();
    config.audit.checkpoint_key = Some(Secret::new(key));
    config.rate_limit.enabled = false;
    let app = Application::build(config, BuildOptions::default())
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let state = app.state().clone();
    let store = state.store().clone();
    let mint = async |name: &str, grant: Grant| {
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
    };
    let viewer = mint("bench-viewer", Grant::Role(Role::Viewer)).await;
    let pings = mint(
        "bench-pings",
        Grant::Scopes(Scopes::new([Scope::Checkins]).unwrap()),
    )
    .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {viewer}").parse().unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let url = |path: &str| format!("http://{addr}{path}");

    // The sample made by real pings lists as the store-made monitors do.
    for n in 0..PINGED {
        let path = format!("/ping/{pings}/pinged-{n:03}?create=1");
        let response = reqwest::get(url(&path)).await.unwrap();
        assert!(response.status().is_success(), "{path}");
    }
    let mut filled = 0;
    let db_url = db.url();
    let fill_in_child = |from: usize, to: usize| {
        let url = db_url.clone();
        tokio::task::spawn_blocking(move || fill_elsewhere(&url, from, to))
    };
    fill_in_child(0, 1).await.unwrap();
    let one = |path: &str| {
        let (client, path) = (client.clone(), url(path));
        async move {
            let body = client.get(path).send().await.unwrap().text().await.unwrap();
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let (made, pinged) = (
        one("/ops/cron/job-000000").await,
        one("/ops/cron/pinged-000").await,
    );
    let fields = |v: &serde_json::Value| {
        let keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        (
            keys,
            v["source"].clone(),
            v["status"].clone(),
            v["last_run"]["status"].clone(),
        )
    };
    assert_eq!(
        fields(&made),
        fields(&pinged),
        "store-made and pinged monitors alike"
    );
    println!("{backend:<9} {PINGED} monitors made by pings list as the store-made ones do");

    for &size in sizes {
        let started = Instant::now();
        fill_in_child(filled.max(1), size).await.unwrap();
        filled = size;
        println!(
            "{backend:<9} {size} monitors (+{PINGED} pinged) ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        reset_peak();
        let deep = slug(size * 9 / 10);
        let probe = slug(size / 2 + 7);
        let search = format!("job-{:05}", size / 20);
        let targets = [
            ("GET /ops/cron (first page)", "/ops/cron".to_owned(), true),
            (
                "GET /ops/cron (deep page)",
                format!("/ops/cron?cursor={deep}"),
                true,
            ),
            (
                "GET /ops/cron?status=down",
                "/ops/cron?status=down".to_owned(),
                true,
            ),
            (
                "GET /ops/cron?q= (search)",
                format!("/ops/cron?q={search}"),
                true,
            ),
            ("GET /ops/cron/{slug}", format!("/ops/cron/{probe}"), true),
            ("GET /cron/{slug} (page)", format!("/cron/{probe}"), true),
            ("GET /cron (Cron page)", "/cron".to_owned(), true),
            (
                "GET /cron?status=down&after",
                format!("/cron?status=down&after={deep}"),
                false,
            ),
            ("GET / (Overview)", "/".to_owned(), true),
            ("GET /overview/live", "/overview/live".to_owned(), true),
        ];
        for (label, path, goal) in targets {
            let (p50, p99, bytes) = measure(&client, &url(&path), requests).await;
            let ratio = if goal {
                format!("{:.2}", p99 / GOAL_P99_MS)
            } else {
                "-".to_owned()
            };
            println!(
                "{backend:<9} {size:>7}  {label:<30} {p50:>8.2} {p99:>8.2} {:>10}  {ratio:>6}",
                size_text(bytes)
            );
        }
        let (rss, peak) = (status_mb("VmRSS"), status_mb("VmHWM"));
        println!(
            "{backend:<9} {size:>7}  RSS {rss:.1} MB ({:.1} MB anonymous, {:.1} MB of files), \
             peak while serving {peak:.1} MB (goal {GOAL_RSS_MB:.0} MB: {:.2} of it)",
            status_mb("RssAnon"),
            status_mb("RssFile"),
            peak / GOAL_RSS_MB
        );
    }
    // One scrape: /metrics names every monitor, so it grows with them by design.
    let metrics = format!("http://{addr}/metrics");
    let sent = Instant::now();
    let body = client
        .get(metrics)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    println!(
        "{backend:<9} {filled:>7}  GET /metrics once: {} in {:.0} ms, RSS after {:.1} MB, peak {:.1} MB",
        size_text(body.len()),
        sent.elapsed().as_secs_f64() * 1000.0,
        status_mb("VmRSS"),
        status_mb("VmHWM"),
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

fn main() {
    if fill_here() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let requests = usize::try_from(env_or("BENCH_REQUESTS", 200).max(1)).unwrap_or(200);
        let mut sizes: Vec<usize> = std::env::var("BENCH_MONITORS")
            .unwrap_or_else(|_| "1000,100000".into())
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .filter(|&n| n > 1)
            .collect();
        sizes.sort_unstable();
        let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        println!(
            "opsdeck cron list: {requests} requests per target one after the other, {} CPUs; \
             goal at 100,000 monitors: p99 ≤ {GOAL_P99_MS} ms (ratio = p99 / goal), \
             RSS ≤ {GOAL_RSS_MB} MB",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        println!(
            "{:<9} {:>7}  {:<30} {:>8} {:>8} {:>10}  {:>6}",
            "backend", "monitors", "target", "p50 ms", "p99 ms", "size", "ratio"
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
            bench(backend, &db, &sizes, requests).await;
            db.drop_it().await;
        }
    });
}
