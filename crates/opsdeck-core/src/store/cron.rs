//! Cron monitors, their runs, claimed scheduler slots and opsdeck's own outages.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::cron::{
    MonitorCounts, MonitorFilter, MonitorPage, MonitorRecord, MonitorSource, MonitorSpec, Outage,
    Run, RunCount, RunCursor, RunPage, StateWrite, Upserted,
};
use crate::ids::{Slug, TenantId};

/// Cron monitors (see [`crate::cron`]): each one row holding its spec, its state and a
/// version that every write moves on. A step of the domain is committed with
/// [`CronStore::apply_outcome`] only if nothing wrote the monitor since it was read
/// (optimistic concurrency): a [`StoreError::Conflict`] tells the caller to reload and
/// step again. A change of spec (update, upsert, pause) also moves the version, so a step
/// computed under the old spec conflicts too. A new or changed spec makes the monitor due
/// at once, so the evaluator derives its status and next check under that spec; the state
/// itself is only ever written by steps.
#[async_trait]
pub trait CronStore {
    /// Stores a new monitor with a fresh state, version 1, defined by `source` at `now`.
    /// A slug already stored is a [`StoreError::Conflict`].
    async fn create_monitor(
        &self,
        spec: &MonitorSpec,
        source: MonitorSource,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord>;

    /// Creates the monitor, or replaces the spec and source of the stored one, keeping its
    /// state and its paused flag (pausing is an operator's decision a restart must not
    /// undo); a stored monitor with the same spec and source is left alone. For
    /// config-defined monitors at start and check-ins that carry a config.
    async fn upsert_monitor(
        &self,
        spec: &MonitorSpec,
        source: MonitorSource,
        now: DateTime<Utc>,
    ) -> StoreResult<Upserted>;

    async fn get_monitor(&self, slug: &Slug) -> StoreResult<Option<MonitorRecord>>;

    /// A page of the monitors matching `filter`, by slug: those after the slug `after`
    /// (all when `None`), at most `limit` (at least 1, at most
    /// [`crate::cron::MONITOR_PAGE_MAX`]). Reads only the page's rows, through indexes for
    /// the status and tenant conditions, however many monitors there are.
    async fn list_monitors(
        &self,
        filter: &MonitorFilter,
        after: Option<&Slug>,
        limit: u32,
    ) -> StoreResult<MonitorPage>;

    /// How many monitors `filter` selects in each listed status; `filter.status` is
    /// ignored. Without other conditions it reads counts the store keeps as monitors
    /// change, in the same transaction, not the monitors.
    async fn count_monitors(&self, filter: &MonitorFilter) -> StoreResult<MonitorCounts>;

    /// The distinct tenant ids monitors carry, in order, those after `after` (all when
    /// `None`) and containing `text` (ignoring ASCII case) when given, at most `limit`.
    /// Walks the index of monitors by tenant, never the monitors.
    async fn monitor_tenants(
        &self,
        text: Option<&str>,
        after: Option<&TenantId>,
        limit: u32,
    ) -> StoreResult<Vec<TenantId>>;

    /// Housekeeping of the kept counts (a backend that logs their changes apart folds them
    /// in); what [`CronStore::count_monitors`] answers is the same before and after.
    async fn fold_monitor_counts(&self) -> StoreResult<()>;

    /// Monitors whose `next_check_at` is after `now`, soonest first (then by slug), at
    /// most `limit`: what the overview shows as expected next.
    async fn upcoming_monitors(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MonitorRecord>>;

    /// Replaces the spec (paused flag included) of a stored monitor, keeping its state and
    /// source; [`StoreError::NotFound`] for an unknown slug.
    async fn update_monitor(
        &self,
        spec: &MonitorSpec,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord>;

    /// Pauses or resumes a monitor; [`StoreError::NotFound`] for an unknown slug.
    async fn set_monitor_paused(
        &self,
        slug: &Slug,
        paused: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord>;

    /// Deletes a monitor with its runs and their logs; `false` if it is unknown.
    async fn delete_monitor(&self, slug: &Slug) -> StoreResult<bool>;

    /// Commits one step in one transaction: the new state (if the monitor is still at
    /// `write.version`), the outcome's runs (inserted, or replacing the monitor's run with
    /// the same id), and its log text appended to those runs (keeping the tail within
    /// [`crate::cron::LOG_MAX_BYTES`], see [`crate::cron::append_log`]; text for a run the
    /// monitor does not have is dropped). Returns the new version. A ping may be
    /// acknowledged once this returns. [`StoreError::Conflict`] when the monitor was
    /// written since, [`StoreError::NotFound`] when it is gone; either way nothing was
    /// written.
    async fn apply_outcome(&self, write: &StateWrite) -> StoreResult<u64>;

    /// [`CronStore::apply_outcome`] for many steps in one transaction, for a single writer
    /// that group-commits pings: each item answers for itself, in order (its new version,
    /// or a conflict or not-found that leaves it unwritten), while the others commit. The
    /// outer error means nothing was written. Two items for one monitor chain: the second
    /// must carry the version the first returns.
    async fn apply_outcomes(&self, writes: &[StateWrite]) -> StoreResult<Vec<StoreResult<u64>>>;

    /// Monitors whose `next_check_at` is at or before `now`, most overdue first (then by
    /// slug), at most `limit`: the evaluator's work.
    async fn due_monitors(&self, now: DateTime<Utc>, limit: u32)
    -> StoreResult<Vec<MonitorRecord>>;
}

/// The runs of cron monitors, written by [`CronStore::apply_outcome`]. Each run is known
/// by its monitor and id: ids come from clients (`rid`), so they are unique per monitor
/// only, and one monitor's pings can never touch another's runs.
#[async_trait]
pub trait CronRunStore {
    /// Runs of one monitor, newest first (by [`StateWrite::list_position`], then id), after
    /// `cursor`, at most `limit`. A run keeps its place when rewritten, so paging with each
    /// page's `next` lists every run once, however many are written meanwhile.
    async fn list_runs(
        &self,
        slug: &Slug,
        cursor: Option<&RunCursor>,
        limit: u32,
    ) -> StoreResult<RunPage>;

    async fn get_run(&self, slug: &Slug, run_id: Uuid) -> StoreResult<Option<Run>>;

    /// The run's log excerpt; `None` when the run is unknown or has no log.
    async fn get_run_log(&self, slug: &Slug, run_id: Uuid) -> StoreResult<Option<String>>;

    /// How many stored runs each monitor has in each status (statuses without runs are
    /// left out), by slug. Retention shrinks these: they are gauges, not counters.
    async fn count_runs(&self) -> StoreResult<Vec<RunCount>>;

    /// Deletes runs (with their logs) that ended before `cutoff`: finished, or whose last
    /// missed slot came, before it. Never a running run, nor a monitor's newest run or the
    /// one its [`MonitorRecord::last_run`] names. Returns how many were deleted.
    async fn prune_runs(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

/// What cron needs to agree on across replicas: which one fires a scheduled slot, and
/// when opsdeck as a whole was down (the self-outage guard of [`crate::cron::evaluate`]).
#[async_trait]
pub trait CronGuardStore {
    /// Claims the slot `slot_at` of the job `slug` for `instance`: `true` for exactly one
    /// caller, on any replica, however many try; `false` for every other.
    async fn claim_slot(
        &self,
        slug: &Slug,
        slot_at: DateTime<Utc>,
        instance: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Deletes claims of slots before `cutoff`; returns how many.
    async fn prune_slots(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;

    /// Records that opsdeck is alive at `now` (every replica calls it on its heartbeat).
    /// When the previous record, from any replica, is more than `max_gap` before `now`,
    /// nobody was alive in between: that outage is stored and returned, to exactly one
    /// caller. The first record ever has nothing before it. The record never moves
    /// backwards, so a replica with a late clock changes nothing.
    async fn record_alive(
        &self,
        now: DateTime<Utc>,
        max_gap: Duration,
    ) -> StoreResult<Option<Outage>>;

    /// Stored outages that ended after `since`, oldest first: what the evaluator passes
    /// to [`crate::cron::evaluate`].
    async fn outages_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<Outage>>;

    /// Deletes outages that ended before `cutoff`; returns how many.
    async fn prune_outages(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}
