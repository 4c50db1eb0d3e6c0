//! Health checks (SPEC §3): what one probe found ([`CheckResult`]), how results add up to the
//! service's status ([`overall`]), when a run of results flips the reported status
//! ([`Debounce`]), and the history kept of them: [`StatusChange`]s, always kept, and latency
//! [`Sample`]s, raw for a while and then downsampled ([`Retention`], [`downsample`]) so a year
//! of 15-second probes stays bounded. Uptime and latency percentiles come from that history
//! ([`uptime`], [`percentile`], [`latency_percentile`]).
//!
//! Running probes, scrubbing their output and serving `/ops/health` belong to the server;
//! this module only decides.

mod debounce;
mod downsample;
mod stats;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::CheckName;

pub use debounce::{Debounce, DebounceState};
pub use downsample::{Retention, Sample, bucket_millis, bucket_start, downsample};
pub use stats::{latency_percentile, percentile, uptime};

/// The status of one check or of the whole service, in the words of the IETF health+json
/// draft. Ordered by severity, so the worst of several is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Pass, Status::Warn, Status::Fail];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// The severity as a number (0 pass, 1 warn, 2 fail), as stores keep it where the worst
    /// of many is taken with `MAX`.
    pub fn rank(self) -> i16 {
        match self {
            Status::Pass => 0,
            Status::Warn => 1,
            Status::Fail => 2,
        }
    }

    /// Reads back [`Status::rank`].
    pub fn from_rank(rank: i64) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|status| i64::from(status.rank()) == rank)
    }

    /// Pass and warn count as up (both answer 200); fail is down.
    pub fn is_up(self) -> bool {
        self != Status::Fail
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `pass`, `warn`, `fail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}: expected one of pass, warn, fail")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// What one run of a probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub name: CheckName,
    pub status: Status,
    /// How long the probe took (up to its timeout when it timed out).
    pub latency: Duration,
    /// The measurement, e.g. days until a certificate expires or free disk percent.
    pub observed_value: Option<f64>,
    pub observed_unit: Option<String>,
    /// The error text for warn and fail, credentials already scrubbed by the caller.
    pub output: Option<String>,
    /// When the probe finished.
    pub at: DateTime<Utc>,
}

/// A flip of a check's reported status, kept for ever: the timeline, "since when", uptime
/// and alerts are built from these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    pub name: CheckName,
    /// `None` for the first result a check ever reported.
    pub from: Option<Status>,
    pub to: Status,
    pub at: DateTime<Utc>,
    /// The output of the result that completed the flip.
    pub output: Option<String>,
}

/// The service's status from each check's status and whether it is critical (SPEC §3):
/// fail if a critical check fails; warn if any check warns or a non-critical one fails;
/// else pass. No checks is pass.
pub fn overall<'a>(results: impl IntoIterator<Item = (&'a CheckResult, bool)>) -> Status {
    aggregate(
        results
            .into_iter()
            .map(|(result, critical)| (result.status, critical)),
    )
}

/// [`overall`] over bare statuses: (status, critical) of each check.
pub fn aggregate(statuses: impl IntoIterator<Item = (Status, bool)>) -> Status {
    statuses
        .into_iter()
        .map(|(status, critical)| match status {
            Status::Fail if !critical => Status::Warn,
            status => status,
        })
        .max()
        .unwrap_or(Status::Pass)
}

#[cfg(test)]
mod tests;
