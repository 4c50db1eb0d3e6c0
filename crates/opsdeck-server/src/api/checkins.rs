//! JSON check-ins for SDKs, Sentry-style (SPEC §4, issue 5 item 3): `POST /api/v1/checkins`
//! with an ingest key of scope `checkins` as the bearer token. A check-in reports
//! `in_progress`, `ok` or `error` for a monitor slug, pairs its start and finish by
//! `check_in_id`, may carry the duration the client measured, and may carry a
//! `monitor_config` that creates the monitor (source `checkin`) or changes what it
//! carries of the stored spec: the schedule and the fields sent ([`SpecPatch`]). Name,
//! tags, tenant, maintenance windows, `min_runtime`, the paused flag and the source stay
//! as stored, so an SDK reporting on a monitor from the config file or an admin does not
//! take it over. Answered once committed, like a ping, through the same group-committing
//! writer ([`crate::cron::ingest`]).
//!
//! Field names and units are Sentry's: `checkin_margin` and `max_runtime` in minutes,
//! `duration` in seconds, intervals in `minute` to `year` (a month counts 30 days, a year
//! 365: opsdeck's intervals are fixed lengths).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use opsdeck_core::cron::{
    DURATION_MAX, Ping, PingKind, RunSource, Schedule, SettingsPatch, SpecPatch,
};
use opsdeck_core::ids::{InvalidField, Slug};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cron::ingest::{Accepted, IngestError, PingRequest, Provision};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// One check-in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckinBody {
    /// The monitor's slug: 1–100 characters of a-z, 0-9, `_` and `-`.
    #[schema(example = "nightly-backup")]
    pub monitor_slug: String,
    /// `in_progress` (the job started), `ok` (it succeeded) or `error` (it failed).
    #[schema(example = "ok")]
    pub status: String,
    /// A UUID pairing an `in_progress` with its `ok` or `error`; without it a finish
    /// closes the monitor's latest open run.
    pub check_in_id: Option<String>,
    /// How long the job ran, in seconds, used when opsdeck saw no `in_progress` for it.
    pub duration: Option<f64>,
    /// Creates the monitor, or changes its schedule and the fields sent here when they
    /// differ (fields left out keep their stored values).
    pub monitor_config: Option<MonitorConfig>,
}

/// A monitor's configuration in Sentry's terms. On an existing monitor, a field left out
/// (or `null`) keeps its stored value; the defaults below apply when the config creates
/// the monitor.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MonitorConfig {
    pub schedule: ScheduleConfig,
    /// Minutes a run may start late before its slot counts as missed (at least 1;
    /// default 5).
    pub checkin_margin: Option<u64>,
    /// Minutes a started run may last before it times out (default: never).
    pub max_runtime: Option<u64>,
    /// Consecutive failed or missed runs before the monitor is down (1–720, default 1).
    pub failure_issue_threshold: Option<u32>,
    /// Consecutive successful runs before a down monitor is up again (1–720, default 1).
    pub recovery_threshold: Option<u32>,
    /// The IANA time zone of a crontab schedule (default UTC; left out, an existing
    /// monitor keeps its zone).
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
}

/// When the job is expected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScheduleConfig {
    /// A five-field cron expression or an alias such as `@hourly`.
    Crontab {
        value: String,
        /// The IANA time zone (wins over `monitor_config.timezone`).
        tz: Option<String>,
    },
    /// Every `value` `unit`s after the last signal.
    Interval { value: u64, unit: IntervalUnit },
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntervalUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl IntervalUnit {
    fn seconds(self) -> u64 {
        match self {
            IntervalUnit::Minute => 60,
            IntervalUnit::Hour => 3600,
            IntervalUnit::Day => 24 * 3600,
            IntervalUnit::Week => 7 * 24 * 3600,
            IntervalUnit::Month => 30 * 24 * 3600,
            IntervalUnit::Year => 365 * 24 * 3600,
        }
    }
}

/// The check-in as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinAccepted {
    /// The run: the `check_in_id` sent, or the id opsdeck gave the run.
    pub id: Uuid,
}

/// Records a check-in (ingest key with scope `checkins`).
#[utoipa::path(post, path = "/api/v1/checkins", tag = "ingest", request_body = CheckinBody,
    responses(
        (status = 202, description = "recorded", body = CheckinAccepted),
        (status = 201, description = "recorded; its monitor_config created the monitor", body = CheckinAccepted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "no such monitor and no monitor_config", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create_checkin(
    State(state): State<AppState>,
    Json(body): Json<CheckinBody>,
) -> Result<Response, ApiError> {
    let received_at = state.clock().now();
    let (request, rid) = match parse(body, received_at) {
        Ok(parsed) => parsed,
        Err(err) => {
            state.ingest().refused(None, "invalid");
            return Err(err);
        }
    };
    match state.ingest().submit(request).await {
        Ok(Accepted { created, run_id }) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::ACCEPTED
            };
            let id = run_id.or(rid).unwrap_or_default();
            Ok((status, axum::Json(CheckinAccepted { id })).into_response())
        }
        Err(IngestError::NotFound) => Err(ApiError::not_found(
            "no monitor has this monitor_slug; send a monitor_config to create it",
        )),
        Err(err @ IngestError::Unavailable) => Err(ApiError::unavailable(err.to_string())),
    }
}

/// The ping a check-in received at `received_at` stands for, and its id.
fn parse(
    body: CheckinBody,
    received_at: DateTime<Utc>,
) -> Result<(PingRequest, Option<Uuid>), ApiError> {
    let invalid = |field: &str, problem: &dyn std::fmt::Display| {
        ApiError::bad_request("invalid_field", format!("field `{field}`: {problem}"))
    };
    let slug = Slug::parse(&body.monitor_slug).map_err(|e| invalid("monitor_slug", &e.problem))?;
    let kind = PingKind::from_checkin_status(&body.status).map_err(|e| invalid("status", &e))?;
    let mut ping = Ping::new(kind, RunSource::Checkin);
    let rid = match &body.check_in_id {
        Some(id) => {
            Some(Uuid::try_parse(id).map_err(|_| invalid("check_in_id", &"must be a UUID"))?)
        }
        None => None,
    };
    if let Some(rid) = rid {
        ping = ping.with_rid(rid);
    }
    if let Some(seconds) = body.duration {
        let duration = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| *d <= DURATION_MAX)
            .ok_or_else(|| {
                invalid(
                    "duration",
                    &"must be a number of seconds from 0 to 365 days",
                )
            })?;
        ping = ping.with_duration(duration);
    }
    let provision = match body.monitor_config {
        Some(config) => Provision::Upsert(Box::new(patch(&slug, config).map_err(|e| {
            invalid(
                &format!("monitor_config.{}", sentry_name(e.field)),
                &e.problem,
            )
        })?)),
        None => Provision::Existing,
    };
    let request = PingRequest {
        slug,
        ping,
        provision,
        received_at,
    };
    Ok((request, rid))
}

/// What a `monitor_config` says about monitor `slug`: its schedule, and the fields sent.
fn patch(slug: &Slug, config: MonitorConfig) -> Result<SpecPatch, InvalidField> {
    let (schedule, tz_sent) = match config.schedule {
        ScheduleConfig::Crontab { value, tz } => {
            let tz = tz.or(config.timezone);
            (Schedule::cron(&value, tz.as_deref())?, tz.is_some())
        }
        ScheduleConfig::Interval { value, unit } => {
            let seconds = value.saturating_mul(unit.seconds());
            (Schedule::every(Duration::from_secs(seconds))?, false)
        }
    };
    let minutes = |n: u64| Duration::from_secs(n.saturating_mul(60));
    let settings = SettingsPatch {
        // Sentry takes a margin of 0 as 1 minute.
        grace: config.checkin_margin.map(|m| minutes(m.max(1))),
        max_runtime: config.max_runtime.map(minutes),
        failure_threshold: config.failure_issue_threshold,
        recovery_threshold: config.recovery_threshold,
    };
    SpecPatch::new(slug.clone(), schedule, tz_sent, settings)
}

/// The name of a spec field as a check-in writes it.
fn sentry_name(field: &str) -> &str {
    match field {
        "grace" => "checkin_margin",
        "failure_threshold" => "failure_issue_threshold",
        "schedule" | "interval" => "schedule.value",
        "tz" => "timezone",
        other => other,
    }
}
