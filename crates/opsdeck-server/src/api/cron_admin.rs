//! Changing cron monitors (SPEC §4): create, update and delete (admin, "manage monitors'
//! config"); pause, resume and trigger (operator). Every change is a guarded write: a
//! reason, the audit entry committed before the answer. Pausing, resuming and triggering
//! with their audit entries are [`set_paused`] and [`trigger_job`], which the dashboard's
//! forms call too, so both record the same action the same way.

use axum::extract::State;
use axum::http::StatusCode;
use opsdeck_core::StoreError;
use opsdeck_core::cron::{MonitorRecord, MonitorSource, MonitorSpec};
use opsdeck_core::ids::Slug;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::cron::{MonitorView, monitor_of, no_monitor, slug_of};
use crate::api::guard::{Guarded, Reason, WriteBody, WriteContext};
use crate::config::MonitorDefinition;
use crate::cron::TriggerError;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;

/// A monitor to create, and why.
#[derive(Debug, ToSchema)]
pub struct CreateMonitor {
    #[serde(flatten)]
    pub monitor: MonitorDefinition,
    /// Why (1–500 characters); kept in the audit log.
    pub reason: String,
}

impl WriteBody for CreateMonitor {
    fn reason(&self) -> &str {
        &self.reason
    }
}

/// Splits `reason` from a monitor definition by hand: serde's `flatten` would silently
/// drop a misspelt key, and bad input must be a 400 naming it.
fn definition_and_reason<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<(MonitorDefinition, String), D::Error> {
    use serde::de::Error as _;
    let mut fields = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
    let reason = match fields.remove("reason") {
        Some(serde_json::Value::String(reason)) => reason,
        Some(_) => return Err(D::Error::custom("field `reason`: expected a string")),
        None => String::new(),
    };
    let definition = MonitorDefinition::deserialize(serde_json::Value::Object(fields))
        .map_err(D::Error::custom)?;
    Ok((definition, reason))
}

impl<'de> Deserialize<'de> for CreateMonitor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (monitor, reason) = definition_and_reason(deserializer)?;
        Ok(Self { monitor, reason })
    }
}

impl<'de> Deserialize<'de> for UpdateMonitor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (monitor, reason) = definition_and_reason(deserializer)?;
        Ok(Self { monitor, reason })
    }
}

/// Commits the audit entry of a change to the monitor `slug`; `outcome` is the status the
/// caller answers.
async fn audit_change(
    write: &WriteContext,
    action: &str,
    slug: &Slug,
    reason: &Reason,
    outcome: u16,
) -> Result<(), ApiError> {
    write
        .audit(action, Some(("monitor", slug.to_string())), reason, outcome)
        .await
}

fn spec_of(definition: &MonitorDefinition) -> Result<MonitorSpec, ApiError> {
    definition.to_spec().map_err(|problems| {
        let text = problems
            .iter()
            .map(|(key, message)| format!("field `{key}`: {message}"))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::bad_request("invalid_field", text)
    })
}

/// Creates a monitor; 409 if the slug is taken.
#[utoipa::path(post, path = "/ops/cron", tag = "cron", request_body = CreateMonitor,
    responses((status = 201, body = MonitorView), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn create_monitor(
    State(state): State<AppState>,
    Guarded {
        write,
        reason,
        body,
    }: Guarded<CreateMonitor>,
) -> Result<(StatusCode, axum::Json<MonitorView>), ApiError> {
    let spec = spec_of(&body.monitor)?;
    let now = state.clock().now();
    let record = match state
        .store()
        .create_monitor(&spec, MonitorSource::Api, now)
        .await
    {
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("a cron monitor \"{}\" exists already", spec.slug()),
            ));
        }
        other => other?,
    };
    audit_change(&write, "cron.monitor.created", spec.slug(), &reason, 201).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(MonitorView::new(&record, now)),
    ))
}

/// The new definition of a monitor (its slug stays), and why. Fields left out keep
/// their defaults, not their previous values: send the whole definition.
#[derive(Debug, ToSchema)]
pub struct UpdateMonitor {
    #[serde(flatten)]
    pub monitor: MonitorDefinition,
    pub reason: String,
}

impl WriteBody for UpdateMonitor {
    fn reason(&self) -> &str {
        &self.reason
    }
}

/// Replaces a monitor's definition, keeping its runs and state.
#[utoipa::path(patch, path = "/ops/cron/{slug}", tag = "cron", request_body = UpdateMonitor,
    params(("slug" = String, Path, description = "monitor slug")),
    responses((status = 200, body = MonitorView), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn update_monitor(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Guarded {
        write,
        reason,
        body,
    }: Guarded<UpdateMonitor>,
) -> Result<axum::Json<MonitorView>, ApiError> {
    let slug = slug_of(&slug)?;
    if body.monitor.slug != slug.as_str() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "field `slug`: a monitor's slug cannot change; create a new monitor instead",
        ));
    }
    let spec = spec_of(&body.monitor)?;
    monitor_of(&state, &slug).await?;
    let now = state.clock().now();
    let record = state.store().update_monitor(&spec, now).await?;
    audit_change(&write, "cron.monitor.updated", &slug, &reason, 200).await?;
    Ok(axum::Json(MonitorView::new(&record, now)))
}

/// Why, for actions without other input.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorAction {
    /// Why (1–500 characters); kept in the audit log.
    pub reason: String,
}

impl WriteBody for MonitorAction {
    fn reason(&self) -> &str {
        &self.reason
    }
}

/// Deletes a monitor with its runs.
#[utoipa::path(delete, path = "/ops/cron/{slug}", tag = "cron", request_body = MonitorAction,
    params(("slug" = String, Path, description = "monitor slug")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete_monitor(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Guarded { write, reason, .. }: Guarded<MonitorAction>,
) -> Result<StatusCode, ApiError> {
    let slug = slug_of(&slug)?;
    if !state.store().delete_monitor(&slug).await? {
        return Err(no_monitor(&slug));
    }
    audit_change(&write, "cron.monitor.deleted", &slug, &reason, 204).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses or resumes `slug` and commits the audit entry (`outcome` is the status the
/// caller answers): the JSON API's action and the dashboard's form alike. `None`, with
/// nothing audited, when no monitor has that slug.
pub(crate) async fn set_paused(
    state: &AppState,
    write: &WriteContext,
    reason: &Reason,
    slug: &Slug,
    paused: bool,
    outcome: u16,
) -> Result<Option<MonitorRecord>, ApiError> {
    let now = state.clock().now();
    let record = match state.store().set_monitor_paused(slug, paused, now).await {
        Err(StoreError::NotFound) => return Ok(None),
        other => other?,
    };
    let action = if paused {
        "cron.monitor.paused"
    } else {
        "cron.monitor.resumed"
    };
    audit_change(write, action, slug, reason, outcome).await?;
    Ok(Some(record))
}

/// [`set_paused`] for the JSON API: the monitor as it is now, or 404.
async fn answer_paused(
    state: &AppState,
    write: &WriteContext,
    reason: &Reason,
    slug: &str,
    paused: bool,
) -> Result<axum::Json<MonitorView>, ApiError> {
    let slug = slug_of(slug)?;
    let record = set_paused(state, write, reason, &slug, paused, 200)
        .await?
        .ok_or_else(|| no_monitor(&slug))?;
    Ok(axum::Json(MonitorView::new(&record, state.clock().now())))
}

/// Pauses a monitor: runs are still recorded; nothing is expected or alerted.
#[utoipa::path(post, path = "/ops/cron/{slug}/pause", tag = "cron", request_body = MonitorAction,
    params(("slug" = String, Path, description = "monitor slug")),
    responses((status = 200, body = MonitorView), (status = 404, body = ErrorBody),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn pause_monitor(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Guarded { write, reason, .. }: Guarded<MonitorAction>,
) -> Result<axum::Json<MonitorView>, ApiError> {
    answer_paused(&state, &write, &reason, &slug, true).await
}

/// Resumes a paused monitor: the slots of the pause are not expected after the fact.
#[utoipa::path(post, path = "/ops/cron/{slug}/resume", tag = "cron", request_body = MonitorAction,
    params(("slug" = String, Path, description = "monitor slug")),
    responses((status = 200, body = MonitorView), (status = 404, body = ErrorBody),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn resume_monitor(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Guarded { write, reason, .. }: Guarded<MonitorAction>,
) -> Result<axum::Json<MonitorView>, ApiError> {
    answer_paused(&state, &write, &reason, &slug, false).await
}

/// Fires the HTTP job `slug` now and commits the audit entry (`outcome` is the status the
/// caller answers): the JSON API's action and the dashboard's form alike. The inner `Err`
/// is why the job was not fired; nothing is audited then.
pub(crate) async fn trigger_job(
    state: &AppState,
    write: &WriteContext,
    reason: &Reason,
    slug: &Slug,
    outcome: u16,
) -> Result<Result<Uuid, TriggerError>, ApiError> {
    let run_id = match crate::cron::trigger(state, slug).await {
        Ok(run_id) => run_id,
        Err(err) => return Ok(Err(err)),
    };
    audit_change(write, "cron.monitor.triggered", slug, reason, outcome).await?;
    Ok(Ok(run_id))
}

/// A run started by `POST /ops/cron/{slug}/trigger`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggeredRun {
    /// The new run; `GET /ops/cron/{slug}/runs` shows how it ends.
    pub run_id: Uuid,
    pub slug: String,
}

/// Fires an HTTP job (`[[cron.jobs]]`) now, outside its schedule: answers once the run's
/// start is recorded, while the call goes on.
#[utoipa::path(post, path = "/ops/cron/{slug}/trigger", tag = "cron", request_body = MonitorAction,
    params(("slug" = String, Path, description = "monitor slug")),
    responses((status = 202, body = TriggeredRun), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "not an HTTP job"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn trigger_monitor(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Guarded { write, reason, .. }: Guarded<MonitorAction>,
) -> Result<(StatusCode, axum::Json<TriggeredRun>), ApiError> {
    let slug = slug_of(&slug)?;
    let run_id = trigger_job(&state, &write, &reason, &slug, 202)
        .await?
        .map_err(|err| match err {
            TriggerError::NotFound => no_monitor(&slug),
            TriggerError::NotAJob => ApiError::conflict(format!(
                "\"{slug}\" is not an HTTP job opsdeck fires: only [[cron.jobs]] monitors can be triggered"
            )),
            TriggerError::Unavailable => ApiError::unavailable(err.to_string()),
        })?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(TriggeredRun {
            run_id,
            slug: slug.to_string(),
        }),
    ))
}
