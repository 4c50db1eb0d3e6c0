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
    /// The flip flap damping is holding back while the latest results differ from the
    /// reported status.
    pub pending: Option<PendingFlip>,
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

/// Results that differ from the reported status but are not yet enough to flip it
/// (`health.flap_threshold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PendingFlip {
    /// The status the check turns to if the results keep coming.
    pub to: Status,
    /// Differing results in a row so far; 0 when not known here (a replica that follows
    /// the leader's results sees only the latest).
    pub results: u32,
    /// How many in a row flip it.
    pub needed: u32,
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

    /// What to tell about the check beside its status: while a flip is held back, the
    /// results that would make it, with the latest one's output (a failure is seen
    /// coming before it is reported); else the output of a warn or fail result.
    pub fn shown_output(&self) -> Option<String> {
        let Some(pending) = self.pending else {
            return self
                .output
                .clone()
                .filter(|_| self.latest_status.is_some_and(|s| s != Status::Pass));
        };
        let kind = match pending.to {
            Status::Pass => "passing",
            Status::Warn => "warning",
            Status::Fail => "failing",
        };
        let to = pending.to.as_str();
        let mut text = if pending.results > 0 {
            format!(
                "{} of {} {kind} results before this check turns {to}",
                pending.results, pending.needed
            )
        } else {
            format!(
                "the latest result is {to}; the check turns {to} after {} in a row",
                pending.needed
            )
        };
        if let Some(output) = self
            .output
            .as_deref()
            .filter(|_| pending.to != Status::Pass)
        {
            text.push_str(": ");
            text.push_str(output);
        }
        Some(text)
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
