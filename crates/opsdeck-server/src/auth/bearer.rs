//! `Authorization: Bearer …` for personal tokens and ingest keys. The token's format and
//! checksum are checked before any database lookup, so a mistyped, truncated or random
//! token costs nothing; the lookup is by SHA-256 of the token in a unique index.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opsdeck_core::auth::{AuthMethod, Principal};
use opsdeck_core::token::{self, TokenKind};

use super::{Authenticated, IngestCaller, ScrapeCaller};
use crate::error::ApiError;
use crate::middleware::auth::RequestContext;
use crate::middleware::client::client_addr;
use crate::state::AppState;

/// Refuses a presented credential: audited as a failed authentication, answered with a
/// message that is safe to show (it never echoes the credential).
async fn refused(context: &RequestContext, request_id: Option<String>, message: &str) -> Response {
    let mut entry = crate::audit::record("auth.failed", context.now);
    entry.client_addr = context.client.map(|ip| ip.to_string());
    entry.request_id = request_id;
    entry.outcome = 401;
    entry.reason = Some(message.to_owned());
    context.audit.record(entry).await;
    let mut response = ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        message,
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer realm=\"opsdeck\", error=\"invalid_token\""),
    );
    response
}

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let context = RequestContext {
        client: client_addr(&request, &state.config().server.trusted_proxies),
        audit: state.audit().clone(),
        now: state.clock().now(),
    };
    request.extensions_mut().insert(context.clone());
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return next.run(request).await;
    };
    let request_id = request
        .extensions()
        .get::<crate::middleware::request_id::RequestId>()
        .map(|r| r.0.clone());
    let Some(presented) = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    else {
        return refused(
            &context,
            request_id.clone(),
            "malformed Authorization header: expected `Bearer <opsdeck token>`",
        )
        .await;
    };
    // The scrape token is a credential for `/metrics` only, checked in constant time.
    if let Some(scrape) = state.config().metrics.token.as_ref()
        && scrape.matches(&presented)
    {
        request.extensions_mut().insert(ScrapeCaller);
        return next.run(request).await;
    }
    let parsed = match token::parse(&presented) {
        Ok(parsed) => parsed,
        Err(err) => {
            let message = format!("not a valid opsdeck token: {err}");
            return refused(&context, request_id.clone(), &message).await;
        }
    };
    let record = match state.store().find_token_by_hash(&parsed.hash).await {
        Ok(Some(record)) => record,
        Ok(None) => return refused(&context, request_id.clone(), "unknown token").await,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let now = state.clock().now();
    if record.revoked_at.is_some() {
        return refused(&context, request_id.clone(), "this token was revoked").await;
    }
    if !record.is_active(now) {
        return refused(&context, request_id.clone(), "this token has expired").await;
    }
    state.token_usage().record(record.id, now);
    match (record.kind, record.role) {
        (TokenKind::Personal, Some(role)) => {
            request.extensions_mut().insert(Authenticated(Principal {
                id: record.id.to_string(),
                name: record.name.clone(),
                role,
                method: AuthMethod::Token,
            }));
        }
        (TokenKind::IngestKey, None) if !record.scopes.is_empty() => {
            request.extensions_mut().insert(IngestCaller {
                key_id: record.id,
                name: record.name.clone(),
                scopes: record.scopes.clone(),
            });
        }
        _ => return refused(&context, request_id.clone(), "this token is not usable").await,
    }
    next.run(request).await
}
