//! Changing cron monitors through the JSON API (SPEC §4): create, update and delete (admin);
//! pause, resume and trigger (operator). The changes, their permissions and audit entries
//! are [`crate::ops::cron`]'s; this file parses the bodies and answers.

use axum::extract::State;
use axum::http::StatusCode;
use opsdeck_core::cron::MonitorSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::MonitorDefinition;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::guard::{Guarded, WriteBody};
use crate::ops::cron::{self, MonitorView, slug_of};
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
        caller,
        reason,
        body,
    }: Guarded<CreateMonitor>,
) -> Result<(StatusCode, axum::Json<MonitorView>), ApiError> {
    let spec = spec_of(&body.monitor)?;
    let view = cron::create_monitor(&state, state.ops().act(&caller, &reason), &spec).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
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
        caller,
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
    let view = cron::update_monitor(&state, state.ops().act(&caller, &reason), &spec).await?;
    Ok(axum::Json(view))
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
    Guarded { caller, reason, .. }: Guarded<MonitorAction>,
) -> Result<StatusCode, ApiError> {
    let slug = slug_of(&slug)?;
    cron::delete_monitor(&state, state.ops().act(&caller, &reason), &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// [`cron::set_paused`] for the JSON API: the monitor as it is now.
async fn answer_paused(
    state: &AppState,
    Guarded { caller, reason, .. }: Guarded<MonitorAction>,
    slug: &str,
    paused: bool,
) -> Result<axum::Json<MonitorView>, ApiError> {
    let slug = slug_of(slug)?;
    let act = state.ops().act(&caller, &reason);
    Ok(axum::Json(
        cron::set_paused(state, act, &slug, paused).await?,
    ))
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
    guarded: Guarded<MonitorAction>,
) -> Result<axum::Json<MonitorView>, ApiError> {
    answer_paused(&state, guarded, &slug, true).await
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
    guarded: Guarded<MonitorAction>,
) -> Result<axum::Json<MonitorView>, ApiError> {
    answer_paused(&state, guarded, &slug, false).await
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
    Guarded { caller, reason, .. }: Guarded<MonitorAction>,
) -> Result<(StatusCode, axum::Json<TriggeredRun>), ApiError> {
    let slug = slug_of(&slug)?;
    let run_id = cron::trigger_job(&state, state.ops().act(&caller, &reason), &slug).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(TriggeredRun {
            run_id,
            slug: slug.to_string(),
        }),
    ))
}
