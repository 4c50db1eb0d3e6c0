//! `cargo bench --bench queues`: opsdeck's queue view and bulk actions against the
//! application's own queue systems, each next to the system's own operation on the same data.
//! Needs the machine's Redis and PostgreSQL, the Node, Ruby and Python fixtures (`.ci/run`
//! installs them). `OPSDECK_BENCH_QUEUE_SYSTEMS=sidekiq,rq` measures only those systems.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

#[path = "../common/mod.rs"]
#[expect(dead_code, reason = "CPU time is not what this benchmark compares")]
mod common;

mod bullmq;
mod graphile;
mod measure;
mod pgboss;
mod redis_side;
mod rq;
mod sidekiq;

/// The systems measured, in order; `OPSDECK_BENCH_QUEUE_SYSTEMS` (comma-separated names)
/// picks some of them.
const SYSTEMS: [&str; 5] = ["bullmq", "graphile-worker", "sidekiq", "pg-boss", "rq"];

#[tokio::main]
async fn main() {
    let chosen = std::env::var("OPSDECK_BENCH_QUEUE_SYSTEMS").unwrap_or_default();
    let chosen: Vec<&str> = chosen
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(unknown) = chosen.iter().find(|s| !SYSTEMS.contains(s)) {
        println!("unknown system {unknown:?} in OPSDECK_BENCH_QUEUE_SYSTEMS: use {SYSTEMS:?}");
        return;
    }
    for system in SYSTEMS {
        if !chosen.is_empty() && !chosen.contains(&system) {
            continue;
        }
        match system {
            "bullmq" => bullmq::run().await,
            "graphile-worker" => graphile::run().await,
            "sidekiq" => sidekiq::run().await,
            "pg-boss" => pgboss::run().await,
            _ => rq::run().await,
        }
    }
}
