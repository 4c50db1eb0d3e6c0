//! Throughput of authenticated JSON routes against `/livez`, in one process and one run,
//! so the ratio is what to compare across changes: `cargo bench -p opsdeck --bench
//! http_throughput`. The server runs in-process on an embedded database; the load comes
//! from keep-alive clients on loopback. Set `BENCH_SECONDS` and `BENCH_CONNECTIONS` to vary.
//!
//! The headline is `GET /ops/health` with a bearer token (authenticated, rate-limited and
//! audited, answered from memory) against `/livez` (none of that): the price of the access
//! path itself. The goal is at least 0.8.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_core::token::{self, Grant, NewToken, TokenName};
use opsdeck_server::config::{Config, Secret};
use opsdeck_server::{Application, BuildOptions};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn measure(url: &str, token: Option<&str>, connections: u64, seconds: u64) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections as usize)
        .build()
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let url = url.to_owned();
        let token = token.map(str::to_owned);
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let mut request = client.get(&url);
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.expect("request");
                assert!(
                    response.status().is_success(),
                    "{url}: {}",
                    response.status()
                );
                response.bytes().await.expect("body");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    for task in tasks {
        task.await.expect("client task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let seconds = env_or("BENCH_SECONDS", 5);
        let connections = env_or("BENCH_CONNECTIONS", 16);
        let dir = std::env::temp_dir().join(format!("opsdeck-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.database.url = Secret::new(format!("sqlite://{}", dir.join("bench.db").display()));
        // The limiter stays in the path (its cost is part of the figure) with a budget the
        // load cannot exhaust.
        config.rate_limit.reads_per_minute = 1_000_000_000;
        config.rate_limit.read_burst = 1_000_000_000;
        if std::env::var_os("XP_NO_LIMITS").is_some() { config.rate_limit.enabled = false; }
        let app = Application::build(config, BuildOptions::default()).await.unwrap();
        let addr = app.local_addr().unwrap();
        let store = app.state().store().clone();
        let new = NewToken {
            name: TokenName::parse("bench").unwrap(),
            grant: Grant::Role(Role::Viewer),
            created_by: None,
            expires_at: None,
        };
        let secret = token::generate(new.kind());
        store.create_token(&new, &secret.hash, &secret.display, Utc::now()).await.unwrap();
        let token = secret.secret.expose().to_owned();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));

        println!("opsdeck HTTP throughput: {connections} keep-alive connections, {seconds} s per route, SQLite");
        let base = format!("http://{addr}");
        // Warm up connections and caches.
        measure(&format!("{base}/livez"), None, connections, 1).await;
        let livez = measure(&format!("{base}/livez"), None, connections, seconds).await;
        let health = measure(&format!("{base}/ops/health"), Some(&token), connections, seconds).await;
        let session = measure(&format!("{base}/ops/session"), Some(&token), connections, seconds).await;
        let instances = measure(&format!("{base}/ops/instances"), Some(&token), connections, seconds).await;
        println!("{:<36} {:>10}  {:>8}", "route", "req/s", "vs livez");
        println!("{:<36} {:>10.0}  {:>8}", "GET /livez (public)", livez, "1.00");
        println!("{:<36} {:>10.0}  {:>8.2}", "GET /ops/health (token, audited)", health, health / livez);
        println!("{:<36} {:>10.0}  {:>8.2}", "GET /ops/session (token, audited)", session, session / livez);
        println!("{:<36} {:>10.0}  {:>8.2}", "GET /ops/instances (token, audited)", instances, instances / livez);
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        std::fs::remove_dir_all(dir).ok();
    });
}
