//! What every system's measurement shares: sizes from the environment, latency samples of
//! sequential GETs and their percentiles, and a bulk retry through opsdeck's own operation.

use std::time::{Duration, Instant};

use opsdeck_core::auth::{AuthMethod, Principal, Role};
use opsdeck_core::queues::BulkAction;
use opsdeck_server::ops::queues::{BulkAnswer, BulkFilter, BulkOutcome, BulkRequest, run_bulk};
use opsdeck_server::ops::{Caller, Reason};

pub use super::common::env_or;

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p`th percentile of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort_unstable();
    let at = (samples.len() * p / 100).min(samples.len().saturating_sub(1));
    samples.get(at).copied().unwrap_or_default()
}

/// The p50 and p99 of `samples`, in milliseconds.
pub fn p50_p99_ms(samples: &mut [Duration]) -> (f64, f64) {
    (ms(percentile(samples, 50)), ms(percentile(samples, 99)))
}

/// `n` sequential GETs of `url` with `token`; their latencies. Every answer must be a 2xx.
pub async fn latencies(client: &reqwest::Client, url: &str, token: &str, n: u64) -> Vec<Duration> {
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for _ in 0..n {
        let sent = Instant::now();
        let response = client.get(url).bearer_auth(token).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await.unwrap();
        out.push(sent.elapsed());
    }
    out
}

/// opsdeck in-process with `sources`, its own store in a temporary SQLite file, and a
/// viewer's token; what the PostgreSQL systems' benchmarks measure against.
pub struct Served {
    pub addr: std::net::SocketAddr,
    pub state: opsdeck_server::state::AppState,
    /// A viewer's bearer token.
    pub token: String,
    store: std::path::PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    /// Starts it; bulk actions may take up to `bulk_max` jobs.
    pub async fn start(sources: Vec<opsdeck_server::config::SourceConfig>, bulk_max: u64) -> Self {
        use opsdeck_core::auth::Role;
        use opsdeck_core::ids::TokenName;
        use opsdeck_core::secret::Secret;
        use opsdeck_core::token::{self, Grant, NewToken};

        let store = std::env::temp_dir().join(format!(
            "opsdeck-bench-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let mut config = opsdeck_server::config::Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.database.url = Secret::new(format!("sqlite://{}", store.display()));
        let (_, key) = opsdeck_core::audit::checkpoint::CheckpointKey::generate().unwrap();
        config.audit.checkpoint_key = Some(Secret::new(key));
        // The limiter stays in the path with a budget the measuring cannot exhaust.
        config.rate_limit.reads_per_minute = 1_000_000_000;
        config.rate_limit.read_burst = 1_000_000_000;
        config.queues.bulk_max = bulk_max.max(1);
        config.queues.sources = sources;
        let app =
            opsdeck_server::Application::build(config, opsdeck_server::BuildOptions::default())
                .await
                .unwrap();
        let addr = app.local_addr().unwrap();
        let state = app.state().clone();
        let new = NewToken {
            name: TokenName::parse("bench").unwrap(),
            grant: Grant::Role(Role::Viewer),
            created_by: None,
            expires_at: None,
        };
        let secret = token::generate(new.kind());
        state
            .store()
            .create_token(&new, &secret.hash, &secret.display, chrono::Utc::now())
            .await
            .unwrap();
        let token = secret.secret.expose().to_owned();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            state,
            token,
            store,
            stop,
            server,
        }
    }

    /// Waits until `/ops/queues` says `needle` (a count the slow poll brings).
    pub async fn wait_for(&self, client: &reqwest::Client, needle: &str) {
        let overview = format!("http://{}/ops/queues", self.addr);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let body = client
                .get(&overview)
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if body.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no slow poll within 2 minutes: {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until `shown` holds of the `/ops/queues` JSON (the poll has counted the seeded
    /// jobs); fails after 2 minutes.
    pub async fn wait_until(
        &self,
        client: &reqwest::Client,
        shown: impl Fn(&serde_json::Value) -> bool,
    ) {
        let overview = format!("http://{}/ops/queues", self.addr);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let body: serde_json::Value = client
                .get(&overview)
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if shown(&body) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the poll never showed the queue: {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops it and removes its store.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.store.clone().into_os_string();
            file.push(suffix);
            std::fs::remove_file(file).ok();
        }
    }
}

/// The median cost of `n` polls: time and statements.
pub async fn poll_cost(
    connector: &dyn opsdeck_connectors::queues::QueueConnector,
    slow: bool,
    n: usize,
) -> (Duration, u64) {
    let mut times = Vec::with_capacity(n);
    let mut commands = 0;
    for _ in 0..n {
        let poll = connector.poll(slow).await.unwrap();
        times.push(poll.cost.elapsed);
        commands = poll.cost.commands;
    }
    (percentile(&mut times, 50), commands)
}

/// Drops a benchmark's PostgreSQL schema when dropped, from a thread of its own (it may run
/// while a panic unwinds the runtime's thread).
pub struct DropSchema {
    pub server: String,
    pub schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (server, schema) = (self.server.clone(), self.schema.clone());
        let work = move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .connect(&server)
                    .await
                    .ok()?;
                let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .ok()
            })
        };
        let _ = std::thread::spawn(work).join();
    }
}

/// A bulk retry through opsdeck, timed: its dry run and the real run on the selection the
/// dry run answered.
pub struct BulkRun {
    pub dry_time: Duration,
    pub run_time: Duration,
    /// Jobs the dry run counted.
    pub count: u64,
    pub outcome: BulkOutcome,
}

/// Retries the jobs of `queue` that `filter` picks (every failed one without), as an
/// operator would: the dry run, then the real run with its selection.
pub async fn bulk_retry(
    state: &opsdeck_server::state::AppState,
    source: &str,
    queue: &str,
    filter: Option<BulkFilter>,
) -> BulkRun {
    let operator = Principal {
        id: "bench".into(),
        name: "bench".into(),
        role: Role::Operator,
        method: AuthMethod::Token,
    };
    let caller = Caller::new(&operator, None, None);
    let reason = Reason::parse("benchmark").unwrap();
    let ops = state.ops();
    let dry = BulkRequest {
        dry_run: true,
        reason: "benchmark".into(),
        filter,
        selection: None,
        expected_count: None,
    };
    let started = Instant::now();
    let BulkAnswer::DryRun(dry) = run_bulk(
        state,
        ops.act(&caller, &reason),
        source,
        queue,
        BulkAction::Retry,
        &dry,
    )
    .await
    .unwrap() else {
        panic!("a dry run answers its count")
    };
    let dry_time = started.elapsed();
    let real = BulkRequest {
        dry_run: false,
        reason: "benchmark".into(),
        filter: None,
        selection: Some(dry.selection.clone()),
        expected_count: Some(dry.count),
    };
    let started = Instant::now();
    let BulkAnswer::Done(outcome) = run_bulk(
        state,
        ops.act(&caller, &reason),
        source,
        queue,
        BulkAction::Retry,
        &real,
    )
    .await
    .unwrap() else {
        panic!("the real run answers what it did")
    };
    BulkRun {
        dry_time,
        run_time: started.elapsed(),
        count: dry.count,
        outcome,
    }
}
