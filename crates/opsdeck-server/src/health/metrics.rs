//! The health families on `/metrics`: each check's reported status and its probe latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use opsdeck_core::health::{CheckResult, Status};

use crate::metrics::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckStatusLabels {
    check: String,
    status: &'static str,
}

const PROBE_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

fn probe_histogram() -> Histogram {
    Histogram::new(PROBE_BUCKETS)
}

#[derive(Debug, Clone)]
pub(super) struct HealthMetrics {
    status: Family<CheckStatusLabels, Gauge>,
    up: Family<CheckLabels, Gauge>,
    latency: Family<CheckLabels, Histogram>,
}

impl HealthMetrics {
    pub(super) fn register(metrics: &Metrics) -> Self {
        let status = Family::<CheckStatusLabels, Gauge>::default();
        metrics.register(
            "opsdeck_health_check_status",
            "1 for the status each health check reports now (pass, warn, fail), 0 for the others",
            status.clone(),
        );
        let up = Family::<CheckLabels, Gauge>::default();
        metrics.register(
            "opsdeck_health_check_up",
            "1 while a health check reports pass or warn, 0 while it fails",
            up.clone(),
        );
        let latency = Family::<CheckLabels, Histogram>::new_with_constructor(
            probe_histogram as fn() -> Histogram,
        );
        metrics.register(
            "opsdeck_health_check_duration_seconds",
            "How long each health probe took, timeouts included (probes run on the leader)",
            latency.clone(),
        );
        Self {
            status,
            up,
            latency,
        }
    }

    /// Sets a check's reported status.
    pub(super) fn set_status(&self, check: &str, reported: Status) {
        for status in Status::ALL {
            self.status
                .get_or_create(&CheckStatusLabels {
                    check: check.to_owned(),
                    status: status.as_str(),
                })
                .set(i64::from(status == reported));
        }
        self.up
            .get_or_create(&CheckLabels {
                check: check.to_owned(),
            })
            .set(i64::from(reported.is_up()));
    }

    pub(super) fn observe(&self, result: &CheckResult) {
        self.latency
            .get_or_create(&CheckLabels {
                check: result.name.as_str().to_owned(),
            })
            .observe(result.latency.as_secs_f64());
    }
}
