//! `cargo bench --bench queues`: opsdeck's queue view and bulk actions against the
//! application's own queue systems, each next to the system's own operation on the same data.
//! Needs the machine's Redis and PostgreSQL and the Node fixtures (`.ci/run` installs them).

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

#[tokio::main]
async fn main() {
    bullmq::run().await;
    graphile::run().await;
    sidekiq::run().await;
    pgboss::run().await;
    rq::run().await;
}
