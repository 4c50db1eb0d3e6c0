//! Health check results: the latest per check, samples and status changes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::health::{CheckResult, Sample, StatusChange};
use crate::ids::CheckName;

/// The history of health checks (see [`crate::health`]): status changes, kept for ever, and
/// latency samples, raw and then downsampled. Times are kept to the millisecond, latencies
/// to the microsecond.
#[async_trait]
pub trait CheckHistoryStore {
    /// Records one probe result as a raw latency sample ([`Sample::from_result`]). Change
    /// detection is the caller's (see [`crate::health::Debounce`]), from
    /// [`CheckHistoryStore::latest_status_changes`] after a restart.
    async fn record_check_sample(&self, result: &CheckResult) -> StoreResult<()>;

    async fn record_status_change(&self, change: &StatusChange) -> StoreResult<()>;

    /// Status changes of one check within `[since, until)`, oldest first.
    async fn status_changes(
        &self,
        name: &CheckName,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusChange>>;

    /// The latest change of one check strictly before `before`: the status in effect when a
    /// window starts, which [`crate::health::uptime`] needs.
    async fn status_change_before(
        &self,
        name: &CheckName,
        before: DateTime<Utc>,
    ) -> StoreResult<Option<StatusChange>>;

    /// The latest status change of every check that has one, by name: what each reports,
    /// and since when, after a restart.
    async fn latest_status_changes(&self) -> StoreResult<Vec<StatusChange>>;

    /// Samples of one check, raw and downsampled, with `at` in `[since, until)`, oldest
    /// first (a raw sample before an aggregate at the same instant).
    async fn check_samples(
        &self,
        name: &CheckName,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<Sample>>;

    /// Merges raw samples older than `raw_before` into one aggregate per `bucket` (buckets
    /// counted from the unix epoch, as [`crate::health::bucket_start`]; a bucket that was
    /// already compacted absorbs late samples) and deletes aggregates older than
    /// `keep_after`, atomically. Returns how many rows were deleted (raw samples merged plus
    /// aggregates expired), so a second run with the same arguments returns 0. Status
    /// changes are never touched. [`crate::health::Retention::cutoffs`] gives the arguments.
    async fn compact_check_samples(
        &self,
        raw_before: DateTime<Utc>,
        keep_after: DateTime<Utc>,
        bucket: Duration,
    ) -> StoreResult<u64>;
}

/// The latest result of every check, as every replica serves it: the leader runs the
/// probes and records here; the others read.
#[async_trait]
pub trait CheckLatestStore {
    /// Records one probe result atomically: its raw sample, the check's latest result
    /// (replacing the one before) and, when the reported status flipped, the change.
    async fn record_check_result(
        &self,
        result: &CheckResult,
        change: Option<&StatusChange>,
    ) -> StoreResult<()>;

    /// The latest result of every check that has one, by name.
    async fn latest_check_results(&self) -> StoreResult<Vec<CheckResult>>;
}
