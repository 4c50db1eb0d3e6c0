//! Storage contracts, split by capability. Each backend (SQLite, PostgreSQL) implements all
//! of them with its own SQL; the shared contract suite holds both to the same behaviour.
//!
//! Use [`StoreError::Unavailable`] when the database cannot be reached (the caller may retry
//! or answer 503), [`StoreError::NotFound`] and [`StoreError::Conflict`] for outcomes the
//! caller handles, and [`StoreError::Other`] for everything else (a 500, logged once).

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::alert::{AlertEvent, Delivery, DeliveryFilter, DeliveryOutcome};
use crate::audit::{Appended, AuditEntry, AuditFilter, AuditRecord};
use crate::cron::{
    MonitorFilter, MonitorRecord, MonitorSource, MonitorSpec, Outage, Run, RunCount, RunCursor,
    RunPage, Slug, StateWrite, Upserted,
};
use crate::health::{CheckName, CheckResult, Sample, StatusChange};
use crate::instance::{InstanceInfo, InstanceRecord, Lease};
use crate::session::{NewSession, SessionHash, SessionRecord};
use crate::token::{NewToken, TokenHash, TokenRecord};

/// Which database engine backs a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable")]
    Unavailable(#[source] Cause),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error")]
    Other(#[source] Cause),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Liveness of the database itself.
#[async_trait]
pub trait HealthStore {
    /// One round trip to the database.
    async fn ping(&self) -> StoreResult<()>;
}

/// Named leases, the basis of leader election across replicas.
#[async_trait]
pub trait LeaseStore {
    /// Takes the lease if it is free or expired at `now`, or renews it if `holder` already
    /// holds it. Returns the lease when `holder` holds it afterwards, `None` when another
    /// holder's unexpired lease stands.
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>>;

    /// Gives the lease up if `holder` holds it, so another replica can take it at once.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;

    /// The lease as stored, expired or not.
    async fn get_lease(&self, name: &str) -> StoreResult<Option<Lease>>;
}

/// Replica heartbeats.
#[async_trait]
pub trait InstanceStore {
    /// Inserts or refreshes this replica's row.
    async fn record_heartbeat(
        &self,
        instance: &InstanceInfo,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Every known replica, most recently seen first.
    async fn list_instances(&self) -> StoreResult<Vec<InstanceRecord>>;

    /// Removes replicas not seen since `cutoff`; returns how many were removed.
    async fn prune_instances(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

/// The append-only, hash-chained audit log (see [`crate::audit`]).
#[async_trait]
pub trait AuditStore {
    /// Appends records in order, atomically, continuing the chain; returns where they went
    /// ([`Appended::entries`] gives the stored entries, times truncated to the millisecond).
    /// Concurrent appends, from any number of tasks or replicas, are serialised for the
    /// length of one short transaction, so the numbering never has gaps or duplicates.
    async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<Appended>;

    /// Entries matching `filter`, newest (highest seq) first, at most `filter.limit`.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    /// Entries with seq above `after_seq`, oldest first, at most `limit`: verification in
    /// batches.
    async fn scan_audit(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}

/// Personal tokens and ingest keys (see [`crate::token`]), stored by the hash of their secret.
#[async_trait]
pub trait TokenStore {
    /// Stores a new token with a fresh id. A `hash` already stored is a
    /// [`StoreError::Conflict`].
    async fn create_token(
        &self,
        new: &NewToken,
        hash: &TokenHash,
        display: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TokenRecord>;

    /// The token with this hash, revoked and expired ones included: the caller decides with
    /// [`TokenRecord::is_active`], so it can tell "revoked" from "unknown".
    async fn find_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<TokenRecord>>;

    async fn get_token(&self, id: Uuid) -> StoreResult<Option<TokenRecord>>;

    /// Every token and key, newest first.
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>>;

    /// Marks the token revoked at `now`; `false` if it is unknown or already revoked.
    async fn revoke_token(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Batched last-use stamps (the server collects them in memory and flushes periodically,
    /// so a request never writes). Only moves `last_used_at` forward; unknown ids are ignored.
    async fn record_token_use(&self, uses: &[(Uuid, DateTime<Utc>)]) -> StoreResult<()>;

    /// Active personal tokens with role admin at `now` (for the first-start bootstrap).
    async fn count_active_admin_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Dashboard sessions (see [`crate::session`]), stored by the hash of their cookie secret.
#[async_trait]
pub trait SessionStore {
    /// Opens a session at `now` with a fresh id; its deadlines follow from
    /// [`NewSession::deadlines`] (timeouts out of range are [`StoreError::Other`]) and its
    /// user agent is clipped. A `hash` already stored is a [`StoreError::Conflict`].
    async fn create_session(
        &self,
        new: &NewSession,
        hash: &SessionHash,
        csrf: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<SessionRecord>;

    /// The session for a cookie, live or not: the caller checks [`SessionRecord::is_live`],
    /// and that the token it was opened with is still active.
    async fn find_session(&self, hash: &SessionHash) -> StoreResult<Option<SessionRecord>>;

    /// Moves `last_seen_at` forward to `now`, and so the idle deadline. Never backwards, and
    /// never for a session that is not live at `now`, so a late touch cannot revive one.
    /// Callers throttle it ([`SessionRecord::touch_due`]), so the request path rarely writes.
    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;

    /// Marks the session ended at `now`; `false` if it is unknown or already ended.
    async fn end_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Ends every session opened with this token and not ended yet (called when the token
    /// is revoked); returns how many.
    async fn end_sessions_for_token(&self, token_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Sessions live at `now`, of one principal or of all, newest first.
    async fn list_sessions(
        &self,
        principal_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>>;

    /// Deletes sessions that ended, or reached either deadline, before `cutoff`; returns
    /// how many.
    async fn prune_sessions(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

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

/// Alert events and their deliveries to webhooks (see [`crate::alert`]). Times are kept to
/// the millisecond.
#[async_trait]
pub trait AlertStore {
    /// Stores `event` and one pending delivery per name in `webhooks`, due at `now`, in one
    /// transaction; returns the deliveries. An event is stored even without webhooks, so
    /// the dashboard can show it.
    async fn record_alert(
        &self,
        event: &AlertEvent,
        webhooks: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Delivery>>;

    /// Claims up to `limit` pending deliveries due at `now` (oldest due first) by moving
    /// their `next_attempt_at` to `now + lease`, so no other claimer, on any replica, gets
    /// them until the lease ends. The caller finishes each with
    /// [`AlertStore::finish_alert_delivery`].
    async fn claim_alert_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;

    /// Records the attempt made on a claimed delivery: counts it, and moves the delivery to
    /// delivered, back to pending with the retry time, or to failed. Fenced by `attempts`
    /// (the count the claim returned): `false`, and nothing changed, if the delivery is no
    /// longer pending with that count, e.g. a worker whose lease ran out finishing after
    /// another worker did.
    async fn finish_alert_delivery(
        &self,
        id: Uuid,
        attempts: u32,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Deliveries matching `filter`, newest first (created_at, then id, descending).
    async fn list_alert_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>>;

    /// Deletes delivered and failed deliveries created before `cutoff`, and events before
    /// `cutoff` left without deliveries; returns how many deliveries were deleted. Pending
    /// deliveries are kept whatever their age.
    async fn prune_alerts(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

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

    /// Monitors matching `filter`, by slug.
    async fn list_monitors(&self, filter: &MonitorFilter) -> StoreResult<Vec<MonitorRecord>>;

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

/// Everything opsdeck stores, behind one object chosen once at start-up.
#[async_trait]
pub trait Store:
    HealthStore
    + LeaseStore
    + InstanceStore
    + AuditStore
    + TokenStore
    + SessionStore
    + CheckHistoryStore
    + AlertStore
    + CheckLatestStore
    + CronStore
    + CronRunStore
    + CronGuardStore
    + Debug
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Closes the connection pool; later calls fail with [`StoreError::Unavailable`].
    async fn close(&self);
}
