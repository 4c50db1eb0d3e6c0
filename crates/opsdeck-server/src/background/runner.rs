//! The loop runner: spawns each [`Job`] on its own task with its [`LoopSpec`], skips ticks of
//! leader-only jobs on followers, records every tick in metrics and logs, and stops all loops
//! when shut down.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::RngExt as _;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::chain;
use crate::metrics::{Metrics, TickOutcome};

/// Where a loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// On every replica (heartbeats, in-memory caches).
    EveryReplica,
    /// Only on the replica holding the leader lease (evaluators, schedulers, retention).
    Leader,
}

/// How a loop is paced.
#[derive(Debug, Clone)]
pub struct LoopSpec {
    pub name: &'static str,
    pub interval: Duration,
    /// Up to this much random delay is added to each wait, so replicas and loops spread out.
    pub jitter: Duration,
    /// A tick that takes longer is abandoned and counted as `timeout`.
    pub timeout: Duration,
    pub scope: Scope,
}

/// One tick of periodic work.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    async fn tick(&self) -> anyhow::Result<()>;
}

/// The running loops of one process.
#[derive(Debug)]
pub struct Background {
    tracker: TaskTracker,
    cancel: CancellationToken,
    leader: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
}

impl Background {
    pub fn new(leader: watch::Receiver<bool>, metrics: Arc<Metrics>) -> Self {
        Self {
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            leader,
            metrics,
        }
    }

    /// Cancelled when the loops are told to stop; long-running helpers can watch it too.
    pub fn cancellation(&self) -> CancellationToken {
        self.cancel.clone()
    }

    pub fn spawn(&self, spec: LoopSpec, job: Arc<dyn Job>) {
        let cancel = self.cancel.clone();
        let leader = self.leader.clone();
        let metrics = self.metrics.clone();
        self.tracker
            .spawn(async move { run_loop(spec, job, cancel, leader, metrics).await });
    }

    /// Spawns a task that is not a periodic job but must stop with the loops.
    pub fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// Stops every loop: ticks in flight are abandoned at their next await point, which
    /// rolls back any open transaction; then waits for the tasks to end.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

fn jittered(base: Duration, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return base;
    }
    let extra = rand::rng().random_range(0..=jitter.as_millis().min(u128::from(u64::MAX)) as u64);
    base + Duration::from_millis(extra)
}

async fn run_loop(
    spec: LoopSpec,
    job: Arc<dyn Job>,
    cancel: CancellationToken,
    leader: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) {
    tracing::debug!(r#loop = spec.name, "background loop started");
    // The first tick comes soon after start, spread by the jitter only.
    let mut wait = jittered(Duration::ZERO, spec.jitter);
    let mut failures = FailureLog::default();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
        wait = jittered(spec.interval, spec.jitter);
        if spec.scope == Scope::Leader && !*leader.borrow() {
            continue;
        }
        let started = Instant::now();
        let outcome = tokio::select! {
            () = cancel.cancelled() => break,
            result = tokio::time::timeout(spec.timeout, job.tick()) => match result {
                Ok(Ok(())) => {
                    failures.succeeded(spec.name);
                    TickOutcome::Ok
                }
                Ok(Err(err)) => {
                    failures.failed(spec.name, chain(err.as_ref()).to_string());
                    TickOutcome::Error
                }
                Err(_) => {
                    let text = format!("timed out after {} ms", spec.timeout.as_millis());
                    failures.failed(spec.name, text);
                    TickOutcome::Timeout
                }
            },
        };
        metrics.observe_tick(spec.name, outcome, started.elapsed());
    }
    tracing::debug!(r#loop = spec.name, "background loop stopped");
}

/// How often a loop that keeps failing the same way logs it again.
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);

/// Logs a loop's failing ticks without burying the log: a loop ticking four times a second
/// against a database that is down would otherwise write four warnings a second. A failure
/// is logged when a streak starts, when the error changes, and otherwise at most every
/// [`REPEAT_LOG_EVERY`] with the count in between; the end of a streak is logged once.
/// Every tick still counts in the loop metrics.
#[derive(Debug, Default)]
struct FailureLog {
    /// Failed ticks in a row.
    streak: u64,
    /// Failed ticks since the last one logged.
    unlogged: u64,
    last_error: String,
    last_logged: Option<Instant>,
}

impl FailureLog {
    fn failed(&mut self, name: &'static str, error: String) {
        self.streak += 1;
        let due = self
            .last_logged
            .is_none_or(|at| at.elapsed() >= REPEAT_LOG_EVERY);
        if due || error != self.last_error {
            tracing::warn!(
                r#loop = name,
                error = %error,
                failed_in_a_row = self.streak,
                not_logged_since_last = self.unlogged,
                "background tick failed"
            );
            self.unlogged = 0;
            self.last_logged = Some(Instant::now());
            self.last_error = error;
        } else {
            self.unlogged += 1;
        }
    }

    fn succeeded(&mut self, name: &'static str) {
        if self.streak > 0 {
            tracing::info!(
                r#loop = name,
                failed_in_a_row = self.streak,
                "background tick succeeded again"
            );
            *self = Self::default();
        }
    }
}
