//! `/livez` and `/readyz`: public, cheap, and revealing nothing but pass or fail.
//! Liveness never touches a dependency (a database outage must not get every replica
//! restarted); readiness asks opsdeck's own database and says no while draining.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorDetail;
use crate::middleware::request_id;
use crate::state::AppState;

/// How long readiness waits for the database before saying no.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// A probe answer in the `application/health+json` shape; a failing answer also carries the
/// error envelope every 5xx has.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeBody {
    /// `pass` or `fail`.
    #[schema(example = "pass")]
    pub status: &'static str,
    /// On a failing answer: the error every 5xx carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

fn probe(status: StatusCode, body: ProbeBody) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/health+json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/livez", tag = "probes", security(()),
    responses((status = 200, description = "alive", body = ProbeBody, content_type = "application/health+json")))]
pub async fn livez() -> Response {
    probe(
        StatusCode::OK,
        ProbeBody {
            status: "pass",
            error: None,
        },
    )
}

/// The process can serve: its database answers and it is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "probes", security(()),
    responses(
        (status = 200, description = "ready", body = ProbeBody, content_type = "application/health+json"),
        (status = 503, description = "not ready", body = ProbeBody, content_type = "application/health+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let failure = crate::ops::instances::readiness(&state, READY_TIMEOUT)
        .await
        .err();
    match failure {
        None => probe(
            StatusCode::OK,
            ProbeBody {
                status: "pass",
                error: None,
            },
        ),
        Some(message) => probe(
            StatusCode::SERVICE_UNAVAILABLE,
            ProbeBody {
                status: "fail",
                error: Some(ErrorDetail {
                    code: "not_ready".to_owned(),
                    message: message.to_owned(),
                    request_id: request_id::current().unwrap_or_default(),
                }),
            },
        ),
    }
}
