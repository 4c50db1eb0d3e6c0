//! Changing cron monitors (SPEC §4): create, update and delete (admin, "manage monitors'
//! config"); pause, resume and trigger (operator). Every change is a guarded write: a
//! reason, the audit entry committed before the answer.

use axum::extract::State;
use axum::http::StatusCode;
use opsdeck_core::StoreError;
use opsdeck_core::cron::{MonitorSource, MonitorSpec};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cron::{MonitorView, monitor_of, slug_of};
use crate::api::guard::{Guarded, WriteBody};
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
    write
        .audit(
            "cron.monitor.created",
            Some(("monitor", spec.slug().to_string())),
            &reason,
            201,
        )
        .await?;
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
    write
        .audit(
            "cron.monitor.updated",
            Some(("monitor", slug.to_string())),
            &reason,
            200,
        )
        .await?;
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
        return Err(ApiError::not_found(format!("no cron monitor \"{slug}\"")));
    }
    write
        .audit(
            "cron.monitor.deleted",
            Some(("monitor", slug.to_string())),
            &reason,
            204,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_paused(
    state: &AppState,
    slug: &str,
    paused: bool,
) -> Result<axum::Json<MonitorView>, ApiError> {
    let slug = slug_of(slug)?;
    let now = state.clock().now();
    let record = match state.store().set_monitor_paused(&slug, paused, now).await {
        Err(StoreError::NotFound) => {
            return Err(ApiError::not_found(format!("no cron monitor \"{slug}\"")));
        }
        other => other?,
    };
    Ok(axum::Json(MonitorView::new(&record, now)))
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
    let view = set_paused(&state, &slug, true).await?;
    write
        .audit("cron.monitor.paused", Some(("monitor", slug)), &reason, 200)
        .await?;
    Ok(view)
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
    let view = set_paused(&state, &slug, false).await?;
    write
        .audit(
            "cron.monitor.resumed",
            Some(("monitor", slug)),
            &reason,
            200,
        )
        .await?;
    Ok(view)
}

/// A run started by `POST /ops/cron/{slug}/trigger`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggeredRun {
    /// The new run; `GET /ops/cron/{slug}/runs` shows how it ends.
    pub run_id: uuid::Uuid,
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
    let run_id = crate::cron::trigger(&state, &slug)
        .await
        .map_err(|err| match err {
            TriggerError::NotFound => ApiError::not_found(format!("no cron monitor \"{slug}\"")),
            TriggerError::NotAJob => ApiError::conflict(format!(
                "\"{slug}\" is not an HTTP job opsdeck fires: only [[cron.jobs]] monitors can be triggered"
            )),
            TriggerError::Unavailable => ApiError::unavailable(err.to_string()),
        })?;
    write
        .audit(
            "cron.monitor.triggered",
            Some(("monitor", slug.to_string())),
            &reason,
            202,
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(TriggeredRun {
            run_id,
            slug: slug.to_string(),
        }),
    ))
}
