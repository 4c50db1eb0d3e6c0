//! The alert families on `/metrics`: events recorded (or lost) and delivery attempts by
//! webhook and outcome.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::metrics::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    webhook: String,
    outcome: &'static str,
}

#[derive(Debug, Clone)]
pub(super) struct AlertMetrics {
    events: Family<EventLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
}

impl AlertMetrics {
    pub(super) fn register(metrics: &Metrics) -> Self {
        let events = Family::<EventLabels, Counter>::default();
        metrics.register(
            "opsdeck_alert_events",
            "Alert events raised on this replica, by outcome: recorded, dropped (queue full) \
             or failed (not stored)",
            events.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        metrics.register(
            "opsdeck_alert_deliveries",
            "Webhook delivery attempts made on this replica, by webhook and outcome: \
             delivered, retry (failed, will be tried again) or failed (given up)",
            attempts.clone(),
        );
        Self { events, attempts }
    }

    pub(super) fn event(&self, outcome: &'static str) {
        self.events.get_or_create(&EventLabels { outcome }).inc();
    }

    pub(super) fn attempt(&self, webhook: &str, outcome: &'static str) {
        self.attempts
            .get_or_create(&AttemptLabels {
                webhook: webhook.to_owned(),
                outcome,
            })
            .inc();
    }
}
