//! Cron monitors (SPEC §4): the views — the monitor list a page at a time as [`MonitorView`]s
//! (status derived at the moment of asking, last run, next expected run, failure streak),
//! the counts by status, the runs expected next, one monitor, its runs
//! and a run's log — and, in [`actions`], the guarded changes. The JSON API and the Cron pages
//! both show what these return, so they never disagree on a status.

mod actions;

use chrono::{DateTime, Utc};
use opsdeck_core::auth::Permission;
use opsdeck_core::cron::{
    LastRun, MonitorCounts, MonitorFilter, MonitorRecord, MonitorStatus, Run, RunCursor, RunPage,
    Schedule, derive_status,
};
use opsdeck_core::ids::Slug;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub use actions::{create_monitor, delete_monitor, set_paused, trigger_job, update_monitor};

use super::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A monitor as the ops list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorView {
    pub slug: String,
    pub name: String,
    /// new, up, running, late, down or paused, as of now.
    pub status: String,
    /// A cron expression, or null for an interval monitor.
    pub schedule: Option<String>,
    /// The schedule's IANA time zone.
    pub tz: Option<String>,
    /// Seconds between runs of an interval monitor.
    pub interval_seconds: Option<u64>,
    pub grace_seconds: u64,
    pub max_runtime_seconds: Option<u64>,
    pub min_runtime_seconds: Option<u64>,
    pub failure_threshold: u32,
    pub recovery_threshold: u32,
    pub paused: bool,
    pub tags: Vec<String>,
    pub tenant_id: Option<String>,
    /// Where the monitor was defined: config, api, ping, import or checkin.
    pub source: String,
    #[schema(value_type = Option<Object>)]
    pub last_run: Option<LastRunView>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_ping_at: Option<DateTime<Utc>>,
    /// When the next run is expected (null: nothing expected yet, or paused).
    pub next_expected_at: Option<DateTime<Utc>>,
    /// Consecutive failed, missed or timed-out runs.
    pub failure_streak: u32,
    /// Runs started and still within `max_runtime` (timed-out runs are not counted).
    pub running: usize,
    pub status_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The latest run with a verdict.
#[derive(Debug, Serialize)]
pub struct LastRunView {
    pub run_id: Uuid,
    pub status: String,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// Redacted error snippet.
    pub error: Option<String>,
}

impl From<LastRun> for LastRunView {
    fn from(run: LastRun) -> Self {
        Self {
            run_id: run.run_id,
            status: run.status.as_str().to_owned(),
            finished_at: run.finished_at,
            duration_ms: run.duration_ms,
            error: run.error,
        }
    }
}

impl MonitorView {
    pub fn new(record: &MonitorRecord, now: DateTime<Utc>) -> Self {
        let spec = &record.spec;
        let settings = spec.settings();
        let (schedule, tz, interval) = match spec.schedule() {
            Schedule::Cron(cron) => (
                Some(cron.expr().to_owned()),
                Some(cron.tz().name().to_owned()),
                None,
            ),
            Schedule::Interval(every) => (None, None, Some(every.get().as_secs())),
        };
        let status = derive_status(spec, &record.state, now);
        Self {
            slug: spec.slug().to_string(),
            name: spec.name().to_string(),
            status: status.as_str().to_owned(),
            schedule,
            tz,
            interval_seconds: interval,
            grace_seconds: spec.grace().as_secs(),
            max_runtime_seconds: settings.max_runtime.map(|d| d.as_secs()),
            min_runtime_seconds: settings.min_runtime.map(|d| d.as_secs()),
            failure_threshold: settings.failure_threshold,
            recovery_threshold: settings.recovery_threshold,
            paused: spec.is_paused(),
            tags: settings.tags.iter().map(str::to_owned).collect(),
            tenant_id: settings.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
            source: record.source.as_str().to_owned(),
            last_run: record.last_run.clone().map(LastRunView::from),
            last_success_at: record.last_success_at,
            last_ping_at: record.state.last_ping_at,
            next_expected_at: if status == MonitorStatus::Paused {
                None
            } else {
                record.state.pending_slot(spec)
            },
            failure_streak: record.state.failure_streak,
            running: record.state.running(),
            status_since: record.status_since,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// Parses a slug from a path; a malformed one cannot name a monitor (404).
pub fn slug_of(text: &str) -> Result<Slug, ApiError> {
    Slug::parse(text).map_err(|_| ApiError::not_found("no cron monitor with that slug"))
}

/// The one answer for a well-formed slug that names no monitor (404), whichever use-case
/// finds out.
pub fn no_monitor(slug: &Slug) -> ApiError {
    ApiError::not_found(format!("no cron monitor \"{slug}\""))
}

/// One page of the monitor list, as of now, and the slug the next page starts after.
#[derive(Debug)]
pub struct MonitorListPage {
    pub monitors: Vec<MonitorView>,
    pub next: Option<Slug>,
}

/// A page of the monitors `filter` selects, by slug, after the slug `after`, at most
/// `limit`, with the status of now. The store filters on the listed status, which the
/// evaluator keeps current within a tick; a monitor whose status of now differs from the
/// one asked for (its slot came a moment ago) is left off the page, so a page shows only
/// what it says, and may hold fewer than `limit` when `next` is set.
pub async fn list_monitors(
    state: &AppState,
    caller: &Caller,
    filter: &MonitorFilter,
    after: Option<&Slug>,
    limit: u32,
) -> Result<MonitorListPage, ApiError> {
    caller.require(Permission::ReadOps)?;
    let now = state.clock().now();
    let key = after
        .is_none()
        .then(|| format!("cron.list {filter:?} {limit}"));
    let page = state
        .last_good()
        .read(key, now, state.store().list_monitors(filter, after, limit))
        .await?;
    let monitors = page
        .monitors
        .iter()
        .map(|record| MonitorView::new(record, now))
        .filter(|view| filter.status.is_none_or(|w| view.status == w.as_str()))
        .collect();
    Ok(MonitorListPage {
        monitors,
        next: page.next,
    })
}

/// How many monitors `filter` (its status aside) selects in each status.
pub async fn count_monitors(
    state: &AppState,
    caller: &Caller,
    filter: &MonitorFilter,
) -> Result<MonitorCounts, ApiError> {
    caller.require(Permission::ReadOps)?;
    let key = Some(format!("cron.count {filter:?}"));
    Ok(state
        .last_good()
        .read(
            key,
            state.clock().now(),
            state.store().count_monitors(filter),
        )
        .await?)
}

/// The `limit` monitors expected to run next after now, soonest first.
pub async fn upcoming_monitors(
    state: &AppState,
    caller: &Caller,
    limit: usize,
) -> Result<Vec<MonitorView>, ApiError> {
    caller.require(Permission::ReadOps)?;
    let now = state.clock().now();
    // A monitor's next check is its next slot, or sooner (an open run's deadline), never
    // later: the soonest checks hold the soonest slots, given a margin.
    let candidates = u32::try_from(limit.saturating_mul(10).max(50)).unwrap_or(u32::MAX);
    // Kept by size only: served from memory, the slots still count from now.
    let key = Some(format!("cron.upcoming {candidates}"));
    let records = state
        .last_good()
        .read(key, now, state.store().upcoming_monitors(now, candidates))
        .await?;
    let mut views: Vec<MonitorView> = records
        .iter()
        .map(|record| MonitorView::new(record, now))
        .filter(|view| view.next_expected_at.is_some_and(|at| at > now))
        .collect();
    views.sort_by(|a, b| {
        a.next_expected_at
            .cmp(&b.next_expected_at)
            .then_with(|| a.name.cmp(&b.name))
    });
    views.truncate(limit);
    Ok(views)
}

/// The monitor `slug` names, or [`no_monitor`].
pub async fn get_monitor(
    state: &AppState,
    caller: &Caller,
    slug: &Slug,
) -> Result<MonitorRecord, ApiError> {
    caller.require(Permission::ReadOps)?;
    let key = Some(format!("cron.monitor {slug}"));
    state
        .last_good()
        .read(key, state.clock().now(), state.store().get_monitor(slug))
        .await?
        .ok_or_else(|| no_monitor(slug))
}

/// A monitor's runs, newest first, a page of `limit` from `cursor`; 404 for an unknown
/// monitor.
pub async fn list_runs(
    state: &AppState,
    caller: &Caller,
    slug: &Slug,
    cursor: Option<&RunCursor>,
    limit: u32,
) -> Result<RunPage, ApiError> {
    get_monitor(state, caller, slug).await?;
    let key = cursor
        .is_none()
        .then(|| format!("cron.runs {slug} {limit}"));
    Ok(state
        .last_good()
        .read(
            key,
            state.clock().now(),
            state.store().list_runs(slug, cursor, limit),
        )
        .await?)
}

/// One run of a monitor, if it (still) exists.
pub async fn get_run(
    state: &AppState,
    caller: &Caller,
    slug: &Slug,
    run_id: Uuid,
) -> Result<Option<Run>, ApiError> {
    caller.require(Permission::ReadOps)?;
    Ok(state.store().get_run(slug, run_id).await?)
}

/// A run's log excerpt (redacted when stored); `None` when the run sent no output.
pub async fn get_run_log(
    state: &AppState,
    caller: &Caller,
    slug: &Slug,
    run_id: Uuid,
) -> Result<Option<String>, ApiError> {
    caller.require(Permission::ReadOps)?;
    Ok(state
        .store()
        .get_run_log(slug, run_id)
        .await?
        .filter(|text| !text.is_empty()))
}
