//! The safety net that keeps SPEC §1's promise for every error: any 4xx/5xx response that
//! is not already an envelope (axum's own rejections, a timeout, a caught panic) is replaced
//! by the envelope for its status. Headers that matter to clients (`Allow`, `Retry-After`,
//! rate-limit fields) are kept. HTML pages and health documents keep their own bodies.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Enveloped};

const KEPT_HEADERS: [&str; 5] = [
    "allow",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "www-authenticate",
];

pub async fn ensure(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Enveloped>().is_some()
        || has_own_document(&response)
    {
        return response;
    }
    let mut replacement = ApiError::from_status(status).into_response();
    for name in KEPT_HEADERS {
        if let Some(value) = response.headers().get(name) {
            replacement.headers_mut().insert(name, value.clone());
        }
    }
    replacement
}

fn has_own_document(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html") || ct.starts_with("application/health+json"))
}
