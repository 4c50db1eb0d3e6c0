//! Soak (SPEC §8, by hand, not in CI): the real `opsdeck serve` under an hour of mixed load,
//! printing every minute the server's memory and each kind of request's latency, and how both
//! drifted from the first minute:
//!
//! ```sh
//! cargo bench -p opsdeck --bench soak                      # an hour on SQLite
//! OPSDECK_SOAK_MINUTES=5 cargo bench -p opsdeck --bench soak
//! OPSDECK_SOAK_DATABASE_URL=postgres://… cargo bench -p opsdeck --bench soak
//! ```
//!
//! The load, from `OPSDECK_SOAK_CONNECTIONS` (default 8) keep-alive clients in turn: pings
//! that create and feed 1,000 monitors, batches of application events for 50 tenants,
//! `GET /ops/health`, a page of `GET /ops/cron` and the dashboard's Overview. Memory is the
//! server process's resident set (`VmRSS`), so the clients do not count.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

#[path = "common/mod.rs"]
#[expect(
    dead_code,
    reason = "this process's CPU time is the clients', not the server's"
)]
mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use self::common::env_or;

const KINDS: [&str; 5] = ["ping", "events", "health", "cron", "overview"];

/// Latencies of the current minute, by kind, and the errors.
#[derive(Default)]
struct Minute {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: u64,
}

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    samples[(samples.len() * p / 100).min(samples.len() - 1)]
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Starts `opsdeck serve` and answers it, its address and the admin token it printed.
async fn start(dir: &std::path::Path, database: &str) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .arg("serve")
        .current_dir(dir)
        .env("OPSDECK_DATABASE_URL", database)
        .env("OPSDECK_LISTEN", "127.0.0.1:0")
        .env("OPSDECK_LOG_FORMAT", "json")
        .env("OPSDECK_LOG", "warn,opsdeck=info")
        .env("OPSDECK_RATE_LIMIT__ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start opsdeck serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut addr, mut token) = (None, None);
    while addr.is_none() {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("opsdeck exited before listening");
        if let Some(word) = line
            .split_whitespace()
            .find(|w| w.starts_with("opsdeck_pat_"))
        {
            token = Some(word.to_owned());
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["message"] == "listening"
        {
            addr = v["address"].as_str().map(str::to_owned);
        }
    }
    // Keep draining the log so the server never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (
        child,
        addr.unwrap(),
        token.expect("a fresh database prints its admin token"),
    )
}

async fn ingest_key(dir: &std::path::Path, database: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args([
            "token",
            "create",
            "--name",
            "soak",
            "--scopes",
            "checkins,events",
        ])
        .args(["--reason", "soak test", "--database-url", database])
        .current_dir(dir)
        .output()
        .await
        .expect("opsdeck token create");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let minutes = env_or("OPSDECK_SOAK_MINUTES", 60).max(1);
        let connections = env_or("OPSDECK_SOAK_CONNECTIONS", 8).max(1);
        let dir = std::env::temp_dir().join(format!("opsdeck-soak-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = std::env::var("OPSDECK_SOAK_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}", dir.join("soak.db").display()));
        let (child, addr, admin) = start(&dir, &database).await;
        let pid = child.id().expect("a running server");
        let key = ingest_key(&dir, &database).await;
        println!(
            "soak: {minutes} min, {connections} connections, server pid {pid}, database {}",
            database.split('@').next_back().unwrap_or_default()
        );
        println!(
            "{:>4} {:>8} {:>6} {:>8} {:>9}  p50/p99 ms: {}",
            "min",
            "req/s",
            "errors",
            "RSS MB",
            "RSS drift",
            KINDS.join(", ")
        );

        let minute = Arc::new(Mutex::new(Minute::default()));
        let client = reqwest::Client::new();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for worker in 0..connections {
            let (client, minute, stop) = (client.clone(), minute.clone(), stop.clone());
            let (addr, admin, key) = (addr.clone(), admin.clone(), key.clone());
            clients.push(tokio::spawn(async move {
                let base = format!("http://{addr}");
                for i in (worker * 1_000_003).. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let kind = match i % 10 {
                        0..=3 => "ping",
                        4 | 5 => "events",
                        6 | 7 => "health",
                        8 => "cron",
                        _ => "overview",
                    };
                    let request = match kind {
                        "ping" => client.get(format!("{base}/ping/{key}/soak-{}?create=1", i % 1_000)),
                        "events" => {
                            let at = chrono::Utc::now().to_rfc3339();
                            let events: Vec<serde_json::Value> = (0..20)
                                .map(|n| {
                                    serde_json::json!({"id": format!("{i}-{n}"), "type": "usage",
                                        "tenant_id": format!("t{}", (i + n) % 50), "at": at,
                                        "name": "api.requests", "value": 1})
                                })
                                .collect();
                            client.post(format!("{base}/api/v1/events")).bearer_auth(&key).json(&events)
                        }
                        "health" => client.get(format!("{base}/ops/health")).bearer_auth(&admin),
                        "cron" => client.get(format!("{base}/ops/cron?limit=50")).bearer_auth(&admin),
                        _ => client.get(format!("{base}/")).bearer_auth(&admin),
                    };
                    let began = Instant::now();
                    let ok = match request.send().await {
                        Ok(response) => {
                            let ok = response.status().is_success() || response.status() == 503;
                            let _ = response.bytes().await;
                            ok
                        }
                        Err(_) => false,
                    };
                    let took = began.elapsed();
                    let mut minute = minute.lock().unwrap();
                    minute.latencies.entry(kind).or_default().push(took);
                    if !ok {
                        minute.errors += 1;
                    }
                }
            }));
        }

        let mut first: Option<(f64, BTreeMap<&str, Duration>)> = None;
        let mut rss_peak = 0.0_f64;
        for m in 1..=minutes {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let taken = std::mem::take(&mut *minute.lock().unwrap());
            let rss = rss_mb(pid);
            rss_peak = rss_peak.max(rss);
            let total: usize = taken.latencies.values().map(Vec::len).sum();
            let mut p99s = BTreeMap::new();
            let mut figures = Vec::new();
            for kind in KINDS {
                let mut samples = taken.latencies.get(kind).cloned().unwrap_or_default();
                let p50 = percentile(&mut samples, 50);
                let p99 = percentile(&mut samples, 99);
                p99s.insert(kind, p99);
                figures.push(format!(
                    "{:.1}/{:.1}",
                    p50.as_secs_f64() * 1e3,
                    p99.as_secs_f64() * 1e3
                ));
            }
            let (rss0, _) = first.get_or_insert((rss, p99s.clone()));
            println!(
                "{m:>4} {:>8.0} {:>6} {rss:>8.1} {:>+8.1}%  {}",
                total as f64 / 60.0,
                taken.errors,
                (rss / *rss0 - 1.0) * 100.0,
                figures.join("  ")
            );
            if m == minutes && let Some((rss0, p99_0)) = &first {
                let drift: Vec<String> = KINDS
                    .iter()
                    .map(|k| {
                        let ratio = p99s[k].as_secs_f64() / p99_0[k].as_secs_f64().max(1e-9);
                        format!("{k} {ratio:.2}x")
                    })
                    .collect();
                println!(
                    "soak: RSS {rss0:.1} MB after the first minute, {rss:.1} MB at the end, peak {rss_peak:.1} MB; p99 last/first minute: {}",
                    drift.join(", ")
                );
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for task in clients {
            let _ = task.await;
        }
        drop(child);
        let _ = std::fs::remove_dir_all(&dir);
    });
}
