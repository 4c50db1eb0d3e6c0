//! Throughput of authenticated JSON routes against `/livez`, in one process and one run,
//! so the ratio is what to compare across changes: `cargo bench -p opsdeck --bench
//! http_throughput`. The server runs in-process on an embedded database; the load comes
//! from keep-alive clients on loopback. Set `BENCH_SECONDS` (per route, default 10),
//! `BENCH_ROUNDS` (default 10) and `BENCH_CONNECTIONS` (default 16) to vary.
//!
//! The headline is `GET /ops/health` with a bearer token (authenticated, rate-limited and
//! audited, answered from memory) against `/livez` (none of that): the price of the access
//! path itself. The goal is at least 0.8.
//!
//! The routes take turns in short slices, round after round, so load from other processes
//! on the machine weighs on every route alike instead of on whichever ran while it lasted.
//! After each slice the server is given a moment to finish what the slice left behind (the
//! audit writer's last batch), and the process's CPU time over the slice and that moment is
//! reported per request: on a saturated machine the CPU ratio is the throughput ratio, and it
//! varies much less with other load than requests per second do.
//!
//! Besides the ratio of the totals, each route's ratio is taken round by round against the
//! `/livez` slice of the same round, and the median of those is printed: a burst of load from
//! elsewhere that lands on one slice moves one round's ratio, not the figure.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_core::ids::TokenName;
use opsdeck_core::secret::Secret;
use opsdeck_core::token::{self, Grant, NewToken};
use opsdeck_server::config::Config;
use opsdeck_server::{Application, BuildOptions};

use self::common::{cpu_time, env_or};

/// Long enough for the audit writer to commit the batch a slice left queued.
const SETTLE: Duration = Duration::from_millis(300);

struct Route {
    label: &'static str,
    path: &'static str,
    authenticated: bool,
    requests: u64,
    elapsed: Duration,
    cpu: Option<Duration>,
    /// Requests per second in each round.
    rounds: Vec<f64>,
}

impl Route {
    fn new(label: &'static str, path: &'static str, authenticated: bool) -> Self {
        Self {
            label,
            path,
            authenticated,
            requests: 0,
            elapsed: Duration::ZERO,
            cpu: Some(Duration::ZERO),
            rounds: Vec::new(),
        }
    }

    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn cpu_per_request(&self) -> Option<f64> {
        self.cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64)
    }
}

/// Requests answered by `connections` keep-alive clients in `slice`, and how long they took.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    connections: u64,
    slice: Duration,
) -> (u64, Duration) {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + slice;
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
    for task in tasks {
        task.await.expect("client task");
    }
    (done.load(Ordering::Relaxed), started.elapsed())
}

/// The middle value of sorted `values` (the mean of the two middle ones for an even count).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let seconds = env_or("BENCH_SECONDS", 10);
        let rounds = env_or("BENCH_ROUNDS", 10).max(1);
        let connections = env_or("BENCH_CONNECTIONS", 16);
        let slice = Duration::from_secs_f64(seconds as f64 / rounds as f64);
        let dir =
            std::env::temp_dir().join(format!("opsdeck-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.database.url = Secret::new(format!("sqlite://{}", dir.join("bench.db").display()));
        config.audit.checkpoint_key_file = dir.join("audit-key.pem");
        // The limiter stays in the path (its cost is part of the figure) with a budget the
        // load cannot exhaust.
        config.rate_limit.reads_per_minute = 1_000_000_000;
        config.rate_limit.read_burst = 1_000_000_000;
        let app = Application::build(config, BuildOptions::default())
            .await
            .unwrap();
        let addr = app.local_addr().unwrap();
        let store = app.state().store().clone();
        let new = NewToken {
            name: TokenName::parse("bench").unwrap(),
            grant: Grant::Role(Role::Viewer),
            created_by: None,
            expires_at: None,
        };
        let secret = token::generate(new.kind());
        store
            .create_token(&new, &secret.hash, &secret.display, Utc::now())
            .await
            .unwrap();
        let token = secret.secret.expose().to_owned();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));

        println!(
            "opsdeck HTTP throughput: {connections} keep-alive connections, {seconds} s per route \
             in {rounds} rounds, SQLite"
        );
        let base = format!("http://{addr}");
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections as usize)
            .build()
            .unwrap();
        let mut routes = [
            Route::new("GET /livez (public)", "/livez", false),
            Route::new("GET /ops/health (token, audited)", "/ops/health", true),
            Route::new("GET /ops/session (token, audited)", "/ops/session", true),
            Route::new(
                "GET /ops/instances (token, audited)",
                "/ops/instances",
                true,
            ),
        ];
        // Warm up connections and caches.
        for route in &routes {
            let token = route.authenticated.then_some(token.as_str());
            measure(
                &client,
                &format!("{base}{}", route.path),
                token,
                connections,
                Duration::from_millis(500),
            )
            .await;
        }
        tokio::time::sleep(SETTLE).await;
        for _ in 0..rounds {
            for route in &mut routes {
                let token = route.authenticated.then_some(token.as_str());
                let before = cpu_time();
                let (requests, elapsed) = measure(
                    &client,
                    &format!("{base}{}", route.path),
                    token,
                    connections,
                    slice,
                )
                .await;
                tokio::time::sleep(SETTLE).await;
                let cpu = before
                    .zip(cpu_time())
                    .map(|(before, after)| after.saturating_sub(before));
                route.requests += requests;
                route.elapsed += elapsed;
                route.rounds.push(requests as f64 / elapsed.as_secs_f64());
                route.cpu = route.cpu.zip(cpu).map(|(total, cpu)| total + cpu);
            }
        }
        let livez = routes[0].per_second();
        let livez_cpu = routes[0].cpu_per_request();
        println!(
            "{:<36} {:>10}  {:>8}  {:>13}  {:>8}  {:>13}",
            "route", "req/s", "vs livez", "CPU µs/req", "vs livez", "median round"
        );
        for route in &routes {
            let cpu = route.cpu_per_request();
            let cpu_ratio = livez_cpu.zip(cpu).map(|(livez, cpu)| livez / cpu);
            let mut per_round: Vec<f64> = route
                .rounds
                .iter()
                .zip(&routes[0].rounds)
                .map(|(route, livez)| route / livez)
                .collect();
            per_round.sort_by(f64::total_cmp);
            println!(
                "{:<36} {:>10.0}  {:>8.2}  {:>13}  {:>8}  {:>13.2}",
                route.label,
                route.per_second(),
                route.per_second() / livez,
                cpu.map_or_else(|| "-".to_owned(), |cpu| format!("{cpu:.1}")),
                cpu_ratio.map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}")),
                median(&per_round),
            );
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        std::fs::remove_dir_all(dir).ok();
    });
}
