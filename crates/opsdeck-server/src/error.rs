//! The one error type of the HTTP layer and its JSON envelope (SPEC §1):
//! `{"error": {"code": "snake_case", "message": "human sentence", "request_id": "…"}}`.
//!
//! Handlers return [`ApiError`] built with the helper constructors. A 4xx says what was wrong
//! with the request; a 5xx body is opaque and its cause chain is logged once, here, with the
//! request id. Store errors convert with `?`: an unreachable database is a 503, not a 500.

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::middleware::request_id;

/// Marks a response whose body already is the error envelope, so the safety net in
/// [`crate::middleware::envelope`] leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct Enveloped;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    cause: Option<anyhow::Error>,
}

/// The body of every 4xx/5xx JSON response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case, for programs.
    #[schema(example = "not_found")]
    pub code: String,
    /// One sentence, for people.
    pub message: String,
    /// The `x-request-id` of the request, for finding its log lines.
    pub request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            cause: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authentication required: send an opsdeck token as `Authorization: Bearer …` or log in",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A 500 whose cause is logged but never shown.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; the request id locates the details in the server log",
            )
        }
    }

    /// The generic error for a bare status produced outside a handler (router, layers).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status.as_u16() {
            400 => ("bad_request", "the request is malformed"),
            401 => ("unauthorized", "authentication required"),
            403 => ("forbidden", "not allowed"),
            404 => ("not_found", "no such route"),
            405 => (
                "method_not_allowed",
                "this route does not accept that method",
            ),
            408 => ("request_timeout", "the request took too long to arrive"),
            413 => (
                "payload_too_large",
                "the request body exceeds the configured limit",
            ),
            415 => ("unsupported_media_type", "unsupported content type"),
            422 => ("unprocessable", "the request could not be processed"),
            429 => ("rate_limited", "too many requests; retry later"),
            503 => ("unavailable", "the service is unavailable; retry later"),
            504 => ("timeout", "the request timed out"),
            s if s >= 500 => (
                "internal",
                "internal error; the request id locates the details in the server log",
            ),
            _ => ("error", "the request failed"),
        };
        Self::new(status, code, message)
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The sentence the error envelope carries (opaque for a 500).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Logs the cause, as answering with this error would, and gives the sentence: for an
    /// error shown inside an answer (a section of a page) rather than as the answer.
    pub fn into_message(self) -> String {
        self.log_cause();
        self.message
    }

    fn log_cause(&self) {
        if let Some(cause) = &self.cause {
            if self.status.is_server_error() {
                tracing::error!(code = self.code, error = %chain(cause.as_ref()), "request failed");
            } else {
                tracing::info!(code = self.code, error = %chain(cause.as_ref()), "request rejected");
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found("not found"),
            StoreError::Conflict(what) => ApiError::conflict(what),
            StoreError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "opsdeck's database does not answer; retry later",
            )
            .with_cause(err),
            StoreError::Other(_) => ApiError::internal(err),
        }
    }
}

/// The cause chain on one line, `outer: inner: root`.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let _ = write!(out, ": {e}");
        source = e.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_cause();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                request_id: request_id::current().unwrap_or_default(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.extensions_mut().insert(Enveloped);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Every 503 is "try again later": say when, so clients back off instead of hammering.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// What `Retry-After` says on a 503: long enough for a restarting database or a failover,
/// short enough that a client's retry lands soon after it is back.
pub const RETRY_AFTER_SECONDS: &str = "5";
