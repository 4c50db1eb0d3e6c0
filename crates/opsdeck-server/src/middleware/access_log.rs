//! One structured log line and one metrics observation per request: method, route template
//! (never the raw path, which may carry ids or secrets), status, latency, principal.
//! Nothing from headers or bodies is logged.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::middleware::auth::Authenticated;
use crate::middleware::request_id::RequestId;
use crate::state::AppState;

/// The label for requests that matched no route: one value, so scanners cannot blow up the
/// metrics' cardinality.
pub const UNMATCHED: &str = "unmatched";

pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let principal = response
        .extensions()
        .get::<Authenticated>()
        .map(|a| a.0.name.clone());
    state
        .metrics()
        .observe_request(method.as_str(), &route, status, elapsed);
    tracing::info!(
        target: "opsdeck::access",
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        principal = principal.as_deref(),
        "request"
    );
    response
}
