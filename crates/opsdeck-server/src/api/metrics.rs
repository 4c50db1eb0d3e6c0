//! `/metrics` in the Prometheus text format, for a scraper presenting the scrape token
//! (`metrics.token`, `OPSDECK_METRICS_TOKEN`) or a principal allowed to read `/ops`. To an
//! anonymous caller without a configured token the route does not exist: 404, never open data.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::auth::Permission;

use crate::auth::{Authenticated, IngestCaller, ScrapeCaller};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn get_metrics(
    State(state): State<AppState>,
    principal: Option<Extension<Authenticated>>,
    ingest: Option<Extension<IngestCaller>>,
    scraper: Option<Extension<ScrapeCaller>>,
) -> Response {
    if scraper.is_some() {
        return render(&state).await;
    }
    if let Some(Extension(Authenticated(principal))) = principal {
        if !principal.role.allows(Permission::ReadOps) {
            return ApiError::forbidden("this role may not read metrics").into_response();
        }
        return render(&state).await;
    }
    if ingest.is_some() {
        return ApiError::forbidden("ingest keys cannot read metrics").into_response();
    }
    if state.config().metrics.token.is_none() {
        return ApiError::not_found("no such route").into_response();
    }
    let mut response = ApiError::unauthorized().into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"opsdeck-metrics\""),
    );
    response
}

async fn render(state: &AppState) -> Response {
    let metrics = state.metrics();
    metrics
        .refresh(state.store().as_ref(), state.clock().as_ref())
        .await;
    match metrics.render() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(err) => ApiError::internal(err).into_response(),
    }
}
