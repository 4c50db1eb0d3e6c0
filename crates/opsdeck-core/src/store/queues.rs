//! Queue monitoring: what the latest poll of each source found (so every replica serves
//! the same view, and a restart starts from it), the per-queue history behind the charts,
//! and the selections that pin a bulk action's jobs between its dry run and its real run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::ids::{QueueName, SourceName};
use crate::queues::{
    JobSummary, QueueSample, QueueStats, Selection, SelectionClaim, SelectionToken, SourceStatus,
};

#[async_trait]
pub trait QueueStore {
    /// Records one poll of a source: its status, and on success the stats of every queue it
    /// has now (queues it no longer has are forgotten) and, with `sample`, one history point
    /// per queue. A failed poll (status with an error, no stats) keeps the last stats.
    async fn record_queue_poll(
        &self,
        status: &SourceStatus,
        stats: &[QueueStats],
        sample: bool,
    ) -> StoreResult<()>;

    /// Records a snapshot of one queue that the application posted (a push source): the
    /// source's status, the queue's stats (its other queues are kept), the recent failures it
    /// reported (replacing the last ones), and a history point for the snapshot's minute
    /// (the first snapshot of each minute makes it).
    async fn record_queue_push(
        &self,
        status: &SourceStatus,
        stats: &QueueStats,
        jobs: &[JobSummary],
    ) -> StoreResult<()>;

    /// The failures a push source reported with its latest snapshot of `queue`.
    async fn pushed_jobs(
        &self,
        source: &SourceName,
        queue: &QueueName,
    ) -> StoreResult<Vec<JobSummary>>;

    /// Every source's status and every queue's latest stats.
    async fn queue_view(&self) -> StoreResult<(Vec<SourceStatus>, Vec<QueueStats>)>;

    /// A queue's history since `since`, oldest first.
    async fn queue_samples(
        &self,
        source: &SourceName,
        queue: &QueueName,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<QueueSample>>;

    /// Deletes history older than `cutoff`; returns how many points.
    async fn prune_queue_samples(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;

    /// Stores a dry run's selection.
    async fn create_selection(&self, selection: &Selection) -> StoreResult<()>;

    /// Takes the selection `token` for its real run, at most once: only while unused,
    /// unexpired at `now`, made for the claim's source, queue and action and holding exactly
    /// its `expected_count` jobs; it is marked used in the same step. `None` when any of
    /// that fails, and the selection is left as it was.
    async fn take_selection(
        &self,
        token: &SelectionToken,
        claim: SelectionClaim<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Selection>>;

    /// Deletes selections that expired before `cutoff`; returns how many.
    async fn prune_selections(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}
