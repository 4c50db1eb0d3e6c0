//! Cron monitors (SPEC §4): the views — every monitor as [`MonitorView`] (status derived at
//! the moment of asking, last run, next expected run, failure streak), one monitor, its runs
//! and a run's log — and, in [`actions`], the guarded changes. The JSON API and the Cron pages
//! both show what these return, so they never disagree on a status.

mod actions;

use chrono::{DateTime, Utc};
use opsdeck_core::auth::Permission;
use opsdeck_core::cron::{
    LastRun, MonitorFilter, MonitorRecord, MonitorStatus, Run, RunCursor, RunPage, Schedule,
    derive_status,
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

/// The monitors `filter` selects, with the status of now; only those in status `wanted`
/// if given (filtered on the derived status, not the stored copy, so `late` and `running`
/// are current).
pub async fn list_monitors(
    state: &AppState,
    caller: &Caller,
    filter: &MonitorFilter,
    wanted: Option<MonitorStatus>,
) -> Result<Vec<MonitorView>, ApiError> {
    caller.require(Permission::ReadOps)?;
    let now = state.clock().now();
    Ok(state
        .store()
        .list_monitors(filter)
        .await?
        .iter()
        .map(|record| MonitorView::new(record, now))
        .filter(|view| wanted.is_none_or(|w| view.status == w.as_str()))
        .collect())
}

/// The monitor `slug` names, or [`no_monitor`].
pub async fn get_monitor(
    state: &AppState,
    caller: &Caller,
    slug: &Slug,
) -> Result<MonitorRecord, ApiError> {
    caller.require(Permission::ReadOps)?;
    state
        .store()
        .get_monitor(slug)
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
    Ok(state.store().list_runs(slug, cursor, limit).await?)
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
