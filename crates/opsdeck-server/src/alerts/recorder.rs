//! The recorder: the task behind [`super::Dispatcher::notify`]. It drains a bounded queue of
//! events, stores each with one pending delivery per webhook, and wakes the delivery
//! worker. It runs on every replica, since any replica may raise an event (a ping that
//! turns a monitor down arrives wherever the load balancer sends it).

use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::alert::AlertEvent;
use opsdeck_core::{Clock, Store};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::metrics::AlertMetrics;
use crate::error::chain;

/// The task that owns the receiving end; run it with [`Recorder::run`].
#[derive(Debug)]
pub struct Recorder {
    pub(super) receiver: mpsc::Receiver<AlertEvent>,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    /// The `name` of every configured webhook.
    pub(super) webhooks: Vec<String>,
    pub(super) wake: Arc<Notify>,
    pub(super) metrics: AlertMetrics,
}

impl Recorder {
    /// Records events until cancelled, then records what is still queued and returns.
    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            let event = tokio::select! {
                biased;
                event = self.receiver.recv() => event,
                () = cancel.cancelled() => {
                    self.receiver.close();
                    self.receiver.recv().await
                }
            };
            let Some(event) = event else { break };
            self.record(event).await;
        }
    }

    async fn record(&self, event: AlertEvent) {
        let mut result = self
            .store
            .record_alert(&event, &self.webhooks, self.clock.now())
            .await;
        if result.is_err() {
            // One retry after a short pause covers a blip; a lasting outage is logged.
            tokio::time::sleep(Duration::from_millis(200)).await;
            result = self
                .store
                .record_alert(&event, &self.webhooks, self.clock.now())
                .await;
        }
        match result {
            Ok(deliveries) => {
                self.metrics.event("recorded");
                tracing::info!(
                    event_id = %event.id,
                    source = event.source.as_str(),
                    subject = %event.subject,
                    kind = event.kind.as_str(),
                    deliveries = deliveries.len(),
                    "alert raised"
                );
                if !deliveries.is_empty() {
                    self.wake.notify_one();
                }
            }
            Err(err) => {
                self.metrics.event("failed");
                tracing::error!(
                    event_id = %event.id,
                    subject = %event.subject,
                    error = %chain(&err),
                    "an alert could not be stored and will not be sent"
                );
            }
        }
    }
}
