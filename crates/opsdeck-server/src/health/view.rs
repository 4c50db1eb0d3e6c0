//! What the health pages and `/ops/health` show: one [`CheckView`] per check and the
//! [`HealthSnapshot`] of all of them, built from memory only.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_connectors::health::ComponentType;
use opsdeck_core::health::Status;
use opsdeck_core::ids::CheckName;
use serde::Serialize;

/// One result among a check's latest, for sparklines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecentResult {
    pub at: DateTime<Utc>,
    pub status: Status,
    pub latency_ms: f64,
}

/// A check as shown now.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    pub name: CheckName,
    /// The configured type (`http`, `tcp`, …; `database` for opsdeck's own).
    pub kind: &'static str,
    /// What it probes, credentials removed.
    pub target: String,
    pub critical: bool,
    pub component_type: ComponentType,
    /// The health+json measurement name (`responseTime`, `freeSpace`, `certificateExpiry`).
    pub measurement: &'static str,
    #[serde(serialize_with = "as_secs")]
    pub interval: Duration,
    /// The reported status (after flap damping); `None` before the first result.
    pub status: Option<Status>,
    /// The status of the latest result, which may differ from the reported one while a
    /// flip is being confirmed.
    pub latest_status: Option<Status>,
    pub latency_ms: Option<f64>,
    pub observed_value: Option<f64>,
    pub observed_unit: Option<String>,
    /// What went wrong (warn and fail results), credentials scrubbed.
    pub output: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
    /// Since when the reported status has held.
    pub since: Option<DateTime<Utc>>,
    /// Fraction (0–1) of the last 24 h spent in pass or warn; `None` while unknown.
    pub uptime_24h: Option<f64>,
    /// The latest result is older than the check's schedule allows: whoever runs the
    /// probes (the leader) has stopped reporting.
    pub stale: bool,
    /// The latest results, oldest first.
    pub recent: Vec<RecentResult>,
}

fn as_secs<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(value.as_secs_f64())
}

impl CheckView {
    /// The status that counts for the overall status: no result yet and stale results
    /// count as warn (unknown is a concern, not an outage).
    pub fn effective_status(&self) -> Status {
        match self.status {
            None => Status::Warn,
            Some(status) if self.stale => status.max(Status::Warn),
            Some(status) => status,
        }
    }

    /// The health+json `checks` key: `name:measurement`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.name, self.measurement)
    }
}

/// Every check as shown now, and the service's status from them.
#[derive(Debug, Clone, Serialize)]
pub struct HealthSnapshot {
    pub status: Status,
    pub at: DateTime<Utc>,
    pub checks: Vec<CheckView>,
    /// What the monitor had seen when the snapshot was taken (see
    /// [`super::HealthMonitor::rendered`]).
    #[serde(skip)]
    pub(crate) generation: u64,
}
