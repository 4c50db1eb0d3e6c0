//! The delivery worker: claims due deliveries and POSTs them, on the leader only.
//!
//! Two things run [`DeliveryJob::tick`]: a leader-scoped background loop every
//! [`POLL_INTERVAL`] (retries coming due, events recorded on other replicas, leases that ran
//! out), and [`wake_loop`], which runs it at once when this replica's recorder stored an
//! event or when a retry this worker scheduled comes due. Ticks never overlap: the second
//! waits for the first, then finds whatever the first left.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::alert::{Delivery, DeliveryOutcome, jitter_bound, retry_delay};
use opsdeck_core::{Clock, Store};
use rand::RngExt as _;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::metrics::AlertMetrics;
use super::payload;
use crate::background::Job;
use crate::config::{AlertsConfig, WebhookConfig};
use crate::error::chain;

/// How often the leader looks for due deliveries without being woken.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Deliveries attempted at once.
const BATCH: u32 = 16;
/// Batches per tick, so one tick stays bounded however large the backlog.
const ROUNDS: u32 = 4;
/// The longest response body excerpt kept in an error.
const BODY_EXCERPT: usize = 200;

/// Attempts deliveries; shared by the poll loop and [`wake_loop`].
#[derive(Debug)]
pub struct DeliveryJob {
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) http: reqwest::Client,
    pub(super) config: AlertsConfig,
    pub(super) wake: Arc<Notify>,
    pub(super) metrics: AlertMetrics,
    /// Serialises ticks.
    pub(super) running: tokio::sync::Mutex<()>,
    /// The earliest retry this worker scheduled that has not come due yet.
    pub(super) next_retry: Mutex<Option<DateTime<Utc>>>,
}

#[async_trait]
impl Job for DeliveryJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let _running = self.running.lock().await;
        let now = self.clock.now();
        {
            let mut next = self.next_retry.lock().unwrap_or_else(|e| e.into_inner());
            // This tick claims everything due; later retries stay scheduled.
            if next.is_some_and(|at| at <= now) {
                *next = None;
            }
        }
        for _ in 0..ROUNDS {
            let claimed = self
                .store
                .claim_alert_deliveries(self.clock.now(), self.lease(), BATCH)
                .await?;
            let full = claimed.len() == BATCH as usize;
            self.attempt_all(claimed).await;
            if !full {
                break;
            }
        }
        Ok(())
    }
}

impl DeliveryJob {
    /// How long a claim keeps other workers off a delivery: longer than one attempt.
    fn lease(&self) -> Duration {
        self.config.timeout + Duration::from_secs(30)
    }

    /// Longest a tick may take: every round's attempts run to their timeout.
    pub(super) fn tick_timeout(&self) -> Duration {
        (self.config.timeout + Duration::from_secs(5)) * ROUNDS + Duration::from_secs(10)
    }

    /// Attempts a batch concurrently (a slow webhook does not hold up the others) and
    /// records each outcome.
    async fn attempt_all(&self, claimed: Vec<Delivery>) {
        let mut attempts = JoinSet::new();
        for delivery in claimed {
            let hook = self
                .config
                .webhooks
                .iter()
                .find(|hook| hook.name == delivery.webhook)
                .cloned();
            let request = match hook {
                Some(hook) => self.request(&hook, &delivery),
                None => Err("the webhook is no longer configured".to_owned()),
            };
            let timeout = self.config.timeout;
            attempts.spawn(async move {
                let result = match request {
                    Ok(request) => send(request, timeout).await,
                    Err(error) => Err(error),
                };
                (delivery, result)
            });
        }
        // Dropping the set (shutdown, tick timeout) aborts attempts still in flight; their
        // leases run out and they are tried again.
        while let Some(joined) = attempts.join_next().await {
            let Ok((delivery, result)) = joined else {
                continue;
            };
            self.finish(&delivery, result).await;
        }
    }

    /// The request for one attempt. Built here, where the URL is needed and nothing logs.
    fn request(
        &self,
        hook: &WebhookConfig,
        delivery: &Delivery,
    ) -> Result<reqwest::RequestBuilder, String> {
        let body = payload::body(hook.format, delivery, self.config.dashboard_url.as_deref());
        let mut request = self
            .http
            .post(hook.url.expose())
            .timeout(self.config.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
            .header("x-opsdeck-event", delivery.event.id.to_string())
            .header("x-opsdeck-delivery", delivery.id.to_string());
        for (name, value) in &hook.headers {
            // The value is a secret: say which header, never what it holds.
            let invalid = || format!("header {name} has a value that HTTP does not allow");
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| invalid())?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        Ok(request.body(body))
    }

    async fn finish(&self, delivery: &Delivery, result: Result<(), String>) {
        let now = self.clock.now();
        let attempt = delivery.attempts.saturating_add(1);
        let outcome = match result {
            Ok(()) => DeliveryOutcome::Delivered,
            Err(error) if attempt >= self.config.max_attempts => DeliveryOutcome::failed(&error),
            Err(error) => {
                let at =
                    now + chrono::Duration::from_std(self.backoff(attempt)).unwrap_or_default();
                let mut next = self.next_retry.lock().unwrap_or_else(|e| e.into_inner());
                *next = Some(next.map_or(at, |t| t.min(at)));
                DeliveryOutcome::retry(at, &error)
            }
        };
        self.metrics.attempt(&delivery.webhook, outcome.as_str());
        log_attempt(delivery, attempt, &outcome);
        match self
            .store
            .finish_alert_delivery(delivery.id, delivery.attempts, &outcome, now)
            .await
        {
            Ok(true) => {}
            // Another worker took it over after our lease ran out; its record stands.
            Ok(false) => tracing::debug!(
                delivery_id = %delivery.id,
                "delivery already finished elsewhere"
            ),
            // The lease runs out and the delivery is attempted again: at least once.
            Err(err) => tracing::warn!(
                delivery_id = %delivery.id,
                error = %chain(&err),
                "could not record an alert delivery"
            ),
        }
    }

    /// The wait before the next attempt, with jitter drawn here so `retry_delay` stays pure.
    fn backoff(&self, attempt: u32) -> Duration {
        let (initial, max) = (self.config.initial_backoff, self.config.max_backoff);
        let delay = retry_delay(attempt, initial, max, Duration::ZERO);
        let bound = u64::try_from(jitter_bound(delay).as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rand::rng().random_range(0..=bound));
        retry_delay(attempt, initial, max, jitter)
    }

    /// How long until the earliest retry this worker scheduled; `None` when there is none.
    fn until_next_retry(&self) -> Option<Duration> {
        let next = *self.next_retry.lock().unwrap_or_else(|e| e.into_inner());
        next.map(|at| (at - self.clock.now()).to_std().unwrap_or(Duration::ZERO))
    }
}

/// One line per attempt, naming the webhook (never its URL).
fn log_attempt(delivery: &Delivery, attempt: u32, outcome: &DeliveryOutcome) {
    let (id, event_id, webhook) = (delivery.id, delivery.event.id, &delivery.webhook);
    match outcome {
        DeliveryOutcome::Delivered => tracing::info!(
            delivery_id = %id, %event_id, %webhook, attempt, "alert delivered"
        ),
        DeliveryOutcome::Retry { error, at } => tracing::warn!(
            delivery_id = %id, %event_id, %webhook, attempt, %error, next_attempt_at = %at,
            "alert delivery failed; will retry"
        ),
        DeliveryOutcome::Failed { error } => tracing::error!(
            delivery_id = %id, %event_id, %webhook, attempt, %error,
            "alert delivery failed; giving up"
        ),
    }
}

/// One POST: `Ok` for a 2xx answer, else why not, with nothing of the URL in it.
async fn send(request: reqwest::RequestBuilder, timeout: Duration) -> Result<(), String> {
    let response = request.send().await.map_err(|err| describe(err, timeout))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let excerpt: String = body.trim().chars().take(BODY_EXCERPT).collect();
    Err(if excerpt.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {excerpt}")
    })
}

/// A transport error in words, without the URL (which may carry the webhook's secret).
fn describe(err: reqwest::Error, timeout: Duration) -> String {
    let err = err.without_url();
    if err.is_timeout() {
        format!("no answer within {}", humantime::format_duration(timeout))
    } else if err.is_connect() {
        format!("could not connect: {}", chain(&err))
    } else {
        chain(&err)
    }
}

/// Runs the job when woken by the recorder or when a scheduled retry comes due, while this
/// replica leads; stops when cancelled.
pub(super) async fn wake_loop(
    job: Arc<DeliveryJob>,
    leader: watch::Receiver<bool>,
    cancel: CancellationToken,
) {
    loop {
        let retry = job.until_next_retry();
        let retry_due = tokio::time::sleep(retry.unwrap_or_default());
        tokio::select! {
            () = cancel.cancelled() => break,
            () = job.wake.notified() => {}
            () = retry_due, if retry.is_some() => {}
        }
        if !*leader.borrow() {
            // The leader's poll loop takes over whatever this replica had scheduled.
            *job.next_retry.lock().unwrap_or_else(|e| e.into_inner()) = None;
            continue;
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            result = tokio::time::timeout(job.tick_timeout(), job.tick()) => match result {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = %chain(err.as_ref()), "alert delivery failed to run");
                }
                Err(_) => tracing::warn!("alert delivery timed out"),
            },
        }
    }
}
