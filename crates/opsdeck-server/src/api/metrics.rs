//! `/metrics` in the Prometheus text format, guarded by the scrape token
//! (`metrics.token`, `OPSDECK_METRICS_TOKEN`). Without a configured token the route does not
//! exist as far as clients can tell: 404, never open data.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn get_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.config().metrics.token.as_ref() else {
        return ApiError::not_found("no such route").into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let authorized =
        presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(token.expose().as_bytes())));
    if !authorized {
        let mut response = ApiError::unauthorized().into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"opsdeck-metrics\""),
        );
        return response;
    }
    match state.metrics().render() {
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
