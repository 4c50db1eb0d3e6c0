//! Alerts (SPEC §4 "Alerts"): status changes announced to the configured webhooks, with
//! retries, and the delivery log behind `GET /ops/alerts`.
//!
//! [`Dispatcher::notify`] is what health checks (and later cron monitors) call. It never
//! waits: the event goes into a bounded queue, the [`recorder`](Recorder) stores it with one
//! pending delivery per webhook, and wakes the [`DeliveryJob`], which runs on the leader,
//! claims due deliveries from the store and POSTs them ([`payload`] describes the bodies).
//! Every state lives in the store, so a restart or a failover loses nothing but attempts in
//! flight, which are retried once their lease runs out: delivery is at least once.
//!
//! Webhook URLs and header values are secrets: they are used to send and nowhere else; logs
//! and the delivery log name a webhook by its configured `name`.

mod delivery;
mod metrics;
pub mod payload;
mod recorder;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use opsdeck_core::alert::AlertEvent;
use opsdeck_core::{Clock, Store};
use tokio::sync::{Notify, mpsc, watch};

pub use delivery::{DeliveryJob, POLL_INTERVAL};
pub use recorder::Recorder;

use self::metrics::AlertMetrics;
use crate::background::{Background, Job, LoopSpec, Scope};
use crate::config::AlertsConfig;
use crate::metrics::Metrics;

/// Events waiting to be stored. A probe loop raising more than this many before the
/// database answers has bigger problems; further events are dropped, counted and logged.
const QUEUE: usize = 1024;

/// The handle that raises alerts; cheap to clone.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    sender: mpsc::Sender<AlertEvent>,
    metrics: AlertMetrics,
}

/// The tasks behind a [`Dispatcher`]; start them with [`AlertWorkers::spawn`].
#[derive(Debug)]
pub struct AlertWorkers {
    recorder: Recorder,
    delivery: Arc<DeliveryJob>,
    prune: Arc<PruneAlertsJob>,
}

impl Dispatcher {
    /// The dispatcher and the workers that store and deliver what it is given. `http` sends
    /// the webhooks; each attempt gets `config.timeout`.
    pub fn new(
        store: Arc<dyn Store>,
        config: &AlertsConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        metrics: &Metrics,
    ) -> (Dispatcher, AlertWorkers) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let metrics = AlertMetrics::register(metrics);
        let wake = Arc::new(Notify::new());
        let recorder = Recorder {
            receiver,
            store: store.clone(),
            clock: clock.clone(),
            webhooks: config
                .webhooks
                .iter()
                .map(|hook| hook.name.clone())
                .collect(),
            wake: wake.clone(),
            metrics: metrics.clone(),
        };
        let delivery = Arc::new(DeliveryJob {
            store: store.clone(),
            clock: clock.clone(),
            http,
            config: config.clone(),
            wake,
            metrics: metrics.clone(),
            running: tokio::sync::Mutex::new(()),
            next_retry: Mutex::new(None),
        });
        let prune = Arc::new(PruneAlertsJob {
            store,
            clock,
            retention: config.retention,
        });
        let workers = AlertWorkers {
            recorder,
            delivery,
            prune,
        };
        (Dispatcher { sender, metrics }, workers)
    }

    /// Raises an alert: queues `event` to be stored and sent to every webhook. Returns at
    /// once; `false` (and an error log) if the queue is full or the workers have stopped.
    pub fn notify(&self, event: AlertEvent) -> bool {
        match self.sender.try_send(event) {
            Ok(()) => true,
            Err(err) => {
                let (reason, event) = match err {
                    mpsc::error::TrySendError::Full(event) => ("the alert queue is full", event),
                    mpsc::error::TrySendError::Closed(event) => ("alerts have stopped", event),
                };
                self.metrics.event("dropped");
                tracing::error!(
                    event_id = %event.id,
                    subject = %event.subject,
                    kind = event.kind.as_str(),
                    "{reason}; an alert was dropped"
                );
                false
            }
        }
    }
}

impl AlertWorkers {
    /// Starts the recorder (every replica) and the delivery and pruning loops (leader).
    pub fn spawn(self, background: &Background, leader: watch::Receiver<bool>) {
        background.spawn_task(self.recorder.run(background.cancellation()));
        background.spawn(
            LoopSpec {
                name: "alert_delivery",
                interval: POLL_INTERVAL,
                jitter: Duration::from_millis(100),
                timeout: self.delivery.tick_timeout(),
                scope: Scope::Leader,
            },
            self.delivery.clone(),
        );
        background.spawn_task(delivery::wake_loop(
            self.delivery,
            leader,
            background.cancellation(),
        ));
        background.spawn(
            LoopSpec {
                name: "alert_prune",
                interval: Duration::from_secs(3600),
                jitter: Duration::from_secs(300),
                timeout: Duration::from_secs(120),
                scope: Scope::Leader,
            },
            self.prune,
        );
    }
}

/// Deletes finished deliveries (and their events) older than `alerts.retention`.
#[derive(Debug)]
pub struct PruneAlertsJob {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    retention: Duration,
}

#[async_trait]
impl Job for PruneAlertsJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let retention = chrono::Duration::from_std(self.retention)?;
        let pruned = self
            .store
            .prune_alerts(self.clock.now() - retention)
            .await?;
        if pruned > 0 {
            tracing::info!(pruned, "old alert deliveries deleted");
        }
        Ok(())
    }
}
