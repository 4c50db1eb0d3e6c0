//! The event families on `/metrics`: events by outcome, how many each transaction carried
//! and how long its commit took.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::metrics::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The event metrics of one application; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventMetrics {
    events: Family<OutcomeLabels, Counter>,
    batch_size: Histogram,
    commit_seconds: Histogram,
}

impl EventMetrics {
    pub(super) fn register(metrics: &Metrics) -> Self {
        let events = Family::<OutcomeLabels, Counter>::default();
        metrics.register(
            "opsdeck_events",
            "Application events received on this replica, by outcome: stored, duplicate, \
             rejected (invalid) or unavailable (not recorded, answered 503)",
            events.clone(),
        );
        // 1 to about 32,000 events per transaction.
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 16));
        metrics.register(
            "opsdeck_event_batch_size",
            "Events committed per transaction by this replica's event writer",
            batch_size.clone(),
        );
        // 0.25 ms to about 4 s.
        let commit_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 15));
        metrics.register(
            "opsdeck_event_commit_duration_seconds",
            "How long one group commit of events took on this replica",
            commit_seconds.clone(),
        );
        Self {
            events,
            batch_size,
            commit_seconds,
        }
    }

    /// Counts `n` events with `outcome`.
    pub fn count(&self, outcome: &'static str, n: usize) {
        if n > 0 {
            self.events
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(n as u64);
        }
    }

    pub(super) fn commit(&self, events: usize, took: Duration) {
        self.batch_size.observe(events as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }
}
