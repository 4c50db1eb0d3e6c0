//! The ingest families on `/metrics`: pings by kind and outcome, how many pings each
//! transaction carried, how long commits took and how often a monitor had to be written
//! again after a conflict.

use std::time::Duration;

use opsdeck_core::cron::PingKind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::metrics::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PingLabels {
    kind: &'static str,
    outcome: &'static str,
}

/// The ingest metrics of one application; cheap to clone.
#[derive(Debug, Clone)]
pub struct IngestMetrics {
    pings: Family<PingLabels, Counter>,
    batch_size: Histogram,
    commit_seconds: Histogram,
    conflicts: Counter,
}

fn kind_label(kind: Option<PingKind>) -> &'static str {
    match kind {
        Some(PingKind::Success) => "success",
        Some(PingKind::Start) => "start",
        Some(PingKind::Fail) => "fail",
        Some(PingKind::Log) => "log",
        Some(PingKind::Exit(0)) => "exit_zero",
        Some(PingKind::Exit(_)) => "exit_nonzero",
        None => "unknown",
    }
}

impl IngestMetrics {
    pub(super) fn register(metrics: &Metrics) -> Self {
        let pings = Family::<PingLabels, Counter>::default();
        metrics.register(
            "opsdeck_cron_pings",
            "Pings and check-ins received on this replica, by kind and outcome: accepted, \
             created (the ping created its monitor), not_found, invalid, unauthorized, \
             rate_limited or unavailable (not recorded)",
            pings.clone(),
        );
        // 1 to 512 pings per transaction.
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        metrics.register(
            "opsdeck_cron_ping_batch_size",
            "Pings committed per transaction by this replica's ingest writer",
            batch_size.clone(),
        );
        // 0.25 ms to about 4 s.
        let commit_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 15));
        metrics.register(
            "opsdeck_cron_ping_commit_duration_seconds",
            "How long one group commit of pings took on this replica",
            commit_seconds.clone(),
        );
        let conflicts = Counter::default();
        metrics.register(
            "opsdeck_cron_ping_conflicts",
            "Monitors whose pings were applied again because another writer changed them first",
            conflicts.clone(),
        );
        Self {
            pings,
            batch_size,
            commit_seconds,
            conflicts,
        }
    }

    pub(super) fn ping(&self, kind: Option<PingKind>, outcome: &'static str) {
        self.pings
            .get_or_create(&PingLabels {
                kind: kind_label(kind),
                outcome,
            })
            .inc();
    }

    pub(super) fn commit(&self, pings: usize, took: Duration) {
        self.batch_size.observe(pings as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    pub(super) fn conflict(&self) {
        self.conflicts.inc();
    }
}
