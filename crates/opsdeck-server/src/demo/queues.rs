//! The demo's queues: a `push` source fed by the demo itself, as an application would feed
//! it. A few queues of a made-up shop move on their own — a backlog that rises and drains,
//! failures with the kind of errors real jobs write (e-mail addresses, card numbers, keys:
//! all made up, and all redacted on the way in), spread over tenants — and a retry webhook,
//! served by the demo on a port of its own, that answers like the application would: the
//! job is taken off the failed list and queued again, so the next snapshot shows it gone.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use opsdeck_core::queues::{
    Count, JobState, QueueStats, SIGNATURE_HEADER, SourceStatus, System, verify_webhook_signature,
};
use opsdeck_core::secret::Secret;
use serde::Deserialize;
use tokio::sync::Notify;

use crate::config::{Config, PushKeys, SourceConfig};
use crate::queues::{Failure, Snapshot, record_snapshot};
use crate::state::AppState;

/// The demo's push source.
pub const SOURCE: &str = "shop";
/// How often the demo posts its snapshots; the source turns stale after three missed.
const FEED_EVERY: Duration = Duration::from_secs(3);
const SOURCE_INTERVAL: Duration = Duration::from_secs(5);
/// Recent failures a snapshot reports at most (the failed count holds them all).
const FAILED_MAX: usize = 25;
/// How far back the charts are filled when the demo's database has no history yet.
const BACKFILL_HOURS: i64 = 24;
const BACKFILL_STEP_MINUTES: i64 = 15;

/// What [`prepare`] set up for [`start`]: the webhook's listener, bound already so its
/// address is in the configuration, and its secret.
#[derive(Debug)]
pub struct DemoQueues {
    listener: std::net::TcpListener,
    secret: Secret,
}

/// Adds the demo's push source to `config`, unless it declares queue sources of its own.
pub fn prepare(config: &mut Config) -> Option<DemoQueues> {
    if !config.queues.sources.is_empty() {
        return None;
    }
    let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(error = %err, "the demo retry webhook cannot listen; queues left out");
            return None;
        }
    };
    let address = listener.local_addr().ok()?;
    let secret = Secret::new(format!("demo-whsec-{}", uuid::Uuid::new_v4().simple()));
    let keys = PushKeys {
        retry_webhook: Some(Secret::new(format!("http://{address}/retry"))),
        webhook_secret: Some(secret.clone()),
    };
    config.queues.sources = vec![SourceConfig {
        poll_interval: Some(SOURCE_INTERVAL),
        ..SourceConfig::push(SOURCE, keys)
    }];
    Some(DemoQueues { listener, secret })
}

/// A job that failed, as the made-up application keeps it.
#[derive(Debug, Clone)]
struct Failed {
    id: String,
    name: &'static str,
    tenant: &'static str,
    error: String,
    at: DateTime<Utc>,
    attempts: u32,
}

/// One queue of the made-up application.
#[derive(Debug)]
struct Queue {
    name: &'static str,
    jobs: &'static [&'static str],
    /// Backlog around which it moves, and how strongly.
    base: f64,
    swing: f64,
    waiting: u64,
    active: u64,
    completed: u64,
    /// Failures per minute in calm times; an incident multiplies them.
    failure_rate: f64,
    /// Jobs failed for good that the application keeps, and the newest of them.
    failed_total: u64,
    failed: VecDeque<Failed>,
    next_id: u64,
}

impl Queue {
    fn new(
        name: &'static str,
        jobs: &'static [&'static str],
        base: f64,
        swing: f64,
        failure_rate: f64,
    ) -> Self {
        Self {
            name,
            jobs,
            base,
            swing,
            waiting: base as u64,
            active: 2,
            completed: 0,
            failure_rate,
            failed_total: 0,
            failed: VecDeque::new(),
            next_id: 1000,
        }
    }
}

const TENANTS: [&str; 4] = ["acme", "globex", "initech", "umbrella"];

/// The made-up application.
#[derive(Debug)]
struct Shop {
    queues: Vec<Queue>,
    seed: u64,
}

impl Shop {
    fn new(seed: u64) -> Self {
        let queue = Queue::new;
        Self {
            queues: vec![
                queue("emails", &["send-receipt", "send-digest"], 12.0, 10.0, 0.04),
                queue("payments", &["charge-card", "refund"], 4.0, 3.0, 0.06),
                queue("webhooks-out", &["deliver-webhook"], 180.0, 150.0, 0.1),
                queue("reports", &["build-report"], 2.0, 2.0, 0.01),
            ],
            seed: seed | 1,
        }
    }

    /// A number in `[0, 1)` (xorshift: the demo needs motion, not quality).
    fn random(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `minutes` of time up to `now`: backlogs move in waves of a few hours, jobs
    /// complete, some fail — many more during an incident, now and then.
    fn step(&mut self, now: DateTime<Utc>, minutes: f64) {
        let phase = now.timestamp() as f64 / 1800.0;
        let draws: Vec<[f64; 4]> = (0..self.queues.len())
            .map(|_| [self.random(), self.random(), self.random(), self.random()])
            .collect();
        for (i, (queue, [noise, fail, who, pick])) in self.queues.iter_mut().zip(draws).enumerate()
        {
            let wave = queue.swing * ((phase + i as f64).sin() + 0.3 * (noise - 0.5));
            queue.completed += ((queue.waiting.min(20) + 3) as f64 * minutes).ceil() as u64;
            queue.waiting = (queue.base + wave).max(0.0).round() as u64;
            queue.active = (pick * 4.0) as u64 + u64::from(queue.waiting > 0);
            let incident = if (phase * 0.4 + i as f64 * 2.0).sin() > 0.9 {
                12.0
            } else {
                1.0
            };
            if fail < (queue.failure_rate * incident * minutes).min(0.9) {
                let tenant = TENANTS[(who * TENANTS.len() as f64) as usize % TENANTS.len()];
                queue.next_id += 1;
                queue.failed_total += 1;
                let name = queue.jobs[(pick * queue.jobs.len() as f64) as usize % queue.jobs.len()];
                queue.failed.push_front(Failed {
                    id: format!("{}-{}", &queue.name[..3], queue.next_id),
                    name,
                    tenant,
                    error: error_for(queue.name, tenant, pick),
                    at: now,
                    attempts: 3,
                });
                queue.failed.truncate(FAILED_MAX);
            }
        }
    }

    /// The application retries `job_id` in `queue`: off the failed list, queued again.
    fn retry(&mut self, queue: &str, job_id: &str) -> StatusCode {
        let Some(queue) = self.queues.iter_mut().find(|q| q.name == queue) else {
            return StatusCode::NOT_FOUND;
        };
        let Some(at) = queue.failed.iter().position(|f| f.id == job_id) else {
            return StatusCode::NOT_FOUND;
        };
        queue.failed.remove(at);
        queue.failed_total = queue.failed_total.saturating_sub(1);
        queue.waiting += 1;
        StatusCode::OK
    }

    fn snapshot(queue: &Queue, now: DateTime<Utc>) -> Snapshot {
        let counts = [
            ("waiting", queue.waiting),
            ("active", queue.active),
            ("failed", queue.failed_total),
            ("completed", queue.completed),
        ]
        .into_iter()
        .map(|(state, n)| (state.to_owned(), n))
        .collect();
        // The oldest waiting job grows with the backlog, as it does in a busy queue.
        let oldest = (queue.waiting > 0).then_some(2.0 + queue.waiting as f64 * 0.8);
        Snapshot {
            source: Some(SOURCE.to_owned()),
            counts,
            oldest_waiting_seconds: oldest,
            failures_last_hour: Some(
                queue
                    .failed
                    .iter()
                    .filter(|f| now - f.at < chrono::Duration::hours(1))
                    .count() as u64,
            ),
            paused: None,
            failures: queue
                .failed
                .iter()
                .map(|f| Failure {
                    id: f.id.clone(),
                    name: Some(f.name.to_owned()),
                    error: Some(f.error.clone()),
                    at: Some(f.at),
                    attempts: Some(f.attempts),
                    max_attempts: Some(3),
                    tenant_id: Some(f.tenant.to_owned()),
                })
                .collect(),
        }
    }
}

/// An error as the made-up application's jobs write them: made-up addresses, card
/// numbers and keys that the redactor masks on the way in.
fn error_for(queue: &str, tenant: &str, pick: f64) -> String {
    match queue {
        "emails" => format!(
            "SMTPConnectError: connection to smtp://mailer:Hunter2pass@smtp.{tenant}.example:587 timed out\n    at Mailer.send (mailer.js:88:11)\n    for billing@{tenant}.example"
        ),
        "payments" if pick < 0.5 => format!(
            "Traceback (most recent call last):\n  File \"payments/charge.py\", line 41, in charge\nCardError: card 4000 0000 0000 0002 declined (customer jane.doe@{tenant}.example)"
        ),
        "payments" => "PaymentProviderError: 503 from https://api.psp.example/v1/charges (key sk_live_51Hx9demoKEY0000000000)".to_owned(),
        "webhooks-out" => format!(
            "HTTPError: 502 Bad Gateway from https://hooks.{tenant}.example/in?token=whk_demo_8f3a9c2e1b7d4f60\n    at deliver (webhooks.js:120:9)"
        ),
        _ => "TimeoutError: report query ran longer than 300s (Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJl)".to_owned(),
    }
}

type Shared = Arc<Mutex<Shop>>;

fn lock(shop: &Shared) -> std::sync::MutexGuard<'_, Shop> {
    shop.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Posts a snapshot of every queue, as the application would.
async fn feed(state: &AppState, shop: &Shared) -> anyhow::Result<()> {
    let now = state.clock().now();
    let snapshots: Vec<(&'static str, Snapshot)> = {
        let shop = lock(shop);
        shop.queues
            .iter()
            .map(|q| (q.name, Shop::snapshot(q, now)))
            .collect()
    };
    for (queue, snapshot) in snapshots {
        record_snapshot(state.queues(), queue, snapshot)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    }
    Ok(())
}

/// A day of history for the charts, written straight to the store, when there is none.
async fn backfill(state: &AppState, shop: &Shared) -> anyhow::Result<()> {
    let store = state.store();
    let source = opsdeck_core::ids::SourceName::parse(SOURCE)?;
    let first = opsdeck_core::ids::QueueName::parse("emails")?;
    let now = state.clock().now();
    let since = now - chrono::Duration::hours(BACKFILL_HOURS);
    if !store
        .queue_samples(&source, &first, since)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let mut at = since;
    while at < now - chrono::Duration::minutes(BACKFILL_STEP_MINUTES) {
        let stats: Vec<QueueStats> = {
            let mut shop = lock(shop);
            shop.step(at, BACKFILL_STEP_MINUTES as f64);
            shop.queues
                .iter()
                .map(|q| stats_of(&source, q, at))
                .collect::<anyhow::Result<_>>()?
        };
        let status = SourceStatus {
            source: source.clone(),
            system: System::Push,
            version: None,
            last_success_at: Some(at),
            last_attempt_at: Some(at),
            error: None,
        };
        for stats in &stats {
            store.record_queue_push(&status, stats, &[]).await?;
        }
        at += chrono::Duration::minutes(BACKFILL_STEP_MINUTES);
    }
    Ok(())
}

fn stats_of(
    source: &opsdeck_core::ids::SourceName,
    queue: &Queue,
    at: DateTime<Utc>,
) -> anyhow::Result<QueueStats> {
    let count = |value| Count { value, at };
    Ok(QueueStats {
        source: source.clone(),
        queue: opsdeck_core::ids::QueueName::parse(queue.name)?,
        system: System::Push,
        counts: [
            (JobState::Waiting, count(queue.waiting)),
            (JobState::Active, count(queue.active)),
            (JobState::Failed, count(queue.failed_total)),
        ]
        .into_iter()
        .collect(),
        oldest_waiting_seconds: Some(queue.waiting as f64 * 0.8),
        failures_last_hour: Some(
            queue
                .failed
                .iter()
                .filter(|f| at - f.at < chrono::Duration::hours(1))
                .count() as u64,
        ),
        paused: None,
        polled_at: at,
    })
}

/// What the webhook receives.
#[derive(Debug, Deserialize)]
struct RetryCall {
    queue: String,
    job_id: String,
}

#[derive(Clone)]
struct Webhook {
    shop: Shared,
    secret: Secret,
    fed: Arc<Notify>,
}

/// The application's retry webhook: checks the signature, retries the job.
async fn retry(State(hook): State<Webhook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signed = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|header| {
            verify_webhook_signature(
                hook.secret.expose().as_bytes(),
                header,
                &body,
                Utc::now().timestamp(),
                300,
            )
        });
    if !signed {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(call) = serde_json::from_slice::<RetryCall>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let status = lock(&hook.shop).retry(&call.queue, &call.job_id);
    hook.fed.notify_one();
    status
}

/// Fills the charts, posts the first snapshots, then keeps the queues moving and serves the
/// retry webhook, for as long as the process runs.
pub async fn start(state: &AppState, demo: &DemoQueues) -> anyhow::Result<()> {
    let seed = uuid::Uuid::new_v4().as_u64_pair().0;
    let shop: Shared = Arc::new(Mutex::new(Shop::new(seed)));
    backfill(state, &shop).await?;
    {
        let mut shop = lock(&shop);
        let now = state.clock().now();
        shop.step(now, 1.0);
    }
    feed(state, &shop).await?;
    let fed = Arc::new(Notify::new());
    let listener = demo.listener.try_clone()?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let hook = Webhook {
        shop: shop.clone(),
        secret: demo.secret.clone(),
        fed: fed.clone(),
    };
    let app = Router::new().route("/retry", post(retry)).with_state(hook);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::warn!(error = %err, "the demo retry webhook stopped");
        }
    });
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            // A retry shows at once; otherwise the queues move every few seconds.
            let moved = tokio::select! {
                () = tokio::time::sleep(FEED_EVERY) => true,
                () = fed.notified() => false,
            };
            if moved {
                lock(&shop).step(state.clock().now(), FEED_EVERY.as_secs_f64() / 60.0);
            }
            if let Err(err) = feed(&state, &shop).await {
                tracing::debug!(error = %err, "the demo could not post its queue snapshots");
            }
        }
    });
    Ok(())
}
