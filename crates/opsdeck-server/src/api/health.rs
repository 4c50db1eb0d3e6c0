//! `/ops/health` (SPEC §3): the service's health in the `application/health+json` format
//! of the IETF draft, answered from memory; one check's history and figures, and running a
//! check now (operator, guarded), from [`crate::ops::health`].

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use opsdeck_core::health::Status;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::extract::Path;
use crate::guard::{Guarded, WriteBody};
use crate::health::{CheckDetail, CheckView};
use crate::middleware::request_id;
use crate::ops::{Caller, health};
use crate::state::AppState;

/// The health document (draft-inadarei-api-health-check-06).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDocument {
    /// `pass`, `warn` or `fail`: fail if a critical check fails; warn if any check warns or
    /// a non-critical one fails.
    #[schema(value_type = String, example = "pass")]
    pub status: Status,
    pub version: &'static str,
    pub release_id: &'static str,
    /// This replica's id.
    pub service_id: String,
    pub description: String,
    /// `name:measurement` → one entry (this service is one node).
    pub checks: BTreeMap<String, Vec<CheckEntry>>,
    pub links: BTreeMap<&'static str, String>,
    /// With a failing status, the error envelope every 5xx carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// One check in the health document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckEntry {
    /// The check's name.
    pub component_id: String,
    /// `datastore`, `component` or `system`.
    pub component_type: &'static str,
    /// Latency in ms, free disk percent, or days until a certificate expires.
    pub observed_value: Option<f64>,
    pub observed_unit: Option<String>,
    /// The reported status, after flap damping; `warn` while there is no result yet or the
    /// latest is stale.
    #[schema(value_type = String, example = "pass")]
    pub status: Status,
    /// When the observed value was read.
    pub time: Option<DateTime<Utc>>,
    /// What is wrong; omitted for pass, unless results that would flip the status are
    /// held back by flap damping (`1 of 2 failing results before this check turns fail:
    /// …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Since when the reported status has held.
    pub since: Option<DateTime<Utc>>,
    /// Percent of the last 24 hours in pass or warn.
    pub uptime24h: Option<f64>,
    /// Whether a failure fails the whole service.
    pub critical: bool,
    /// How long the latest probe took, in ms.
    pub latency_ms: Option<f64>,
    /// The check's type (`postgres`, `http`, …).
    pub kind: &'static str,
}

impl CheckEntry {
    fn new(view: &CheckView) -> Self {
        let status = view.effective_status();
        let output = match (view.status, view.stale) {
            (None, _) => Some("no result yet".to_owned()),
            (Some(_), true) => Some(format!(
                "stale: the latest result is from {}; the replica running the probes has stopped reporting",
                view.checked_at
                    .map(|at| at.to_rfc3339())
                    .unwrap_or_default()
            )),
            // While flap damping holds a flip back, the results that would make it.
            _ if view.pending.is_some() => view.shown_output(),
            _ if status == Status::Pass => None,
            _ => view.output.clone(),
        };
        Self {
            component_id: view.name.to_string(),
            component_type: view.component_type.as_str(),
            observed_value: view.observed_value.map(|v| (v * 1000.0).round() / 1000.0),
            observed_unit: view.observed_unit.clone(),
            status,
            time: view.checked_at,
            output,
            since: view.since,
            uptime24h: view.uptime_24h.map(|u| (u * 100_000.0).round() / 1000.0),
            critical: view.critical,
            latency_ms: view.latency_ms.map(|ms| (ms * 1000.0).round() / 1000.0),
            kind: view.kind,
        }
    }
}

/// The health of the service and each check, from the latest results in memory.
#[utoipa::path(get, path = "/ops/health", tag = "health",
    responses(
        (status = 200, description = "pass or warn", body = HealthDocument, content_type = "application/health+json"),
        (status = 503, description = "fail", body = HealthDocument, content_type = "application/health+json"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_health(State(state): State<AppState>) -> Response {
    let monitor = state.health();
    if let Some(kept) = monitor.rendered() {
        return health_response(kept.status, kept.body);
    }
    let snapshot = monitor.snapshot();
    let checks = snapshot
        .checks
        .iter()
        .map(|view| (view.key(), vec![CheckEntry::new(view)]))
        .collect();
    let failing = snapshot.status == Status::Fail;
    let document = HealthDocument {
        status: snapshot.status,
        version: crate::app::VERSION,
        release_id: crate::app::VERSION,
        service_id: state.instance().id.to_string(),
        description: "opsdeck: health of the system's dependencies".to_owned(),
        checks,
        links: BTreeMap::from([("about", "/health".to_owned())]),
        error: failing.then(|| ErrorDetail {
            code: "unhealthy".to_owned(),
            message: "a critical check fails".to_owned(),
            request_id: request_id::current().unwrap_or_default(),
        }),
    };
    let body = match serde_json::to_vec(&document) {
        Ok(body) => axum::body::Bytes::from(body),
        Err(err) => return ApiError::internal(err).into_response(),
    };
    // A failing document names the request (its error envelope does): not reused.
    if !failing {
        monitor.keep_rendered(&snapshot, body.clone());
    }
    health_response(snapshot.status, body)
}

/// The health document's response: 503 when the service fails (SPEC §3).
fn health_response(status: Status, body: axum::body::Bytes) -> Response {
    let code = if status == Status::Fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/health+json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// One check: what it reports now, its status changes over 7 days, its samples over 24
/// hours, and uptime and latency percentiles over 24 hours and 7 days.
#[utoipa::path(get, path = "/ops/health/checks/{name}", tag = "health",
    params(("name" = String, Path, description = "check name")),
    responses((status = 200, body = Object, description = "the check's detail"),
              (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_check(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<axum::Json<CheckDetail>, ApiError> {
    Ok(axum::Json(health::get_check(&state, &caller, &name).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCheck {
    /// Why the check is run now (1–500 characters); kept in the audit log.
    pub reason: String,
}

impl WriteBody for RunCheck {
    fn reason(&self) -> &str {
        &self.reason
    }
}

/// Runs one check now (waiting for a run already in flight) and answers its new state.
#[utoipa::path(post, path = "/ops/health/checks/{name}/run", tag = "health", request_body = RunCheck,
    params(("name" = String, Path, description = "check name")),
    responses((status = 200, body = Object, description = "the check after the run"),
              (status = 404, body = ErrorBody), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn run_check(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Guarded { caller, reason, .. }: Guarded<RunCheck>,
) -> Result<axum::Json<CheckView>, ApiError> {
    let act = state.ops().act(&caller, &reason);
    Ok(axum::Json(health::run_check(&state, act, &name).await?))
}
