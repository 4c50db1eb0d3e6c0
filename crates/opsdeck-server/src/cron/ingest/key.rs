//! The credential of a ping URL: the ingest key in its path (`/ping/{key}/{slug}`).
//!
//! Checked the way `auth::bearer` checks a bearer token (format and checksum first, then
//! the credential cache, then one lookup by hash), with two differences: only an ingest key
//! with scope `checkins` is a ping key, and every refusal looks the same from outside (one
//! status, one message), so a URL tells nothing about the key or the slug it names.
//! Refusals count against the client address's failed-authentication budget and are
//! audited, as any refused credential is.

use std::net::IpAddr;

use axum::response::{IntoResponse, Response};
use opsdeck_core::token::{self, Scope, TokenKind};
use uuid::Uuid;

use crate::error::ApiError;
use crate::middleware::auth::RequestContext;
use crate::state::AppState;

/// The one answer to a ping with a key that is not a valid ping key.
pub fn refusal() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "invalid_ping_key",
        "the ping key is not valid: use an active ingest key with scope checkins",
    )
}

/// What a presented ping key turned out to be.
#[derive(Debug)]
pub enum KeyCheck {
    /// An active ingest key with scope `checkins`: its id.
    Valid(Uuid),
    /// Anything else; the reason is for the audit log only.
    Refused(&'static str),
    /// The key could not be checked (database down).
    Unavailable(ApiError),
}

/// Checks `presented` as a ping key, at most one store lookup per key every few seconds.
pub async fn check(state: &AppState, presented: &str) -> KeyCheck {
    let parsed = match token::parse(presented) {
        Ok(parsed) if parsed.kind == TokenKind::IngestKey => parsed,
        Ok(_) => return KeyCheck::Refused("a personal token is not a ping key"),
        Err(_) => return KeyCheck::Refused("not a valid ingest key"),
    };
    let now = state.clock().now();
    let cache = state.token_usage().credentials();
    let record = match cache.token(parsed.hash.as_hex()) {
        Some(record) => record,
        None => {
            let start = cache.before_read();
            match state.store().find_token_by_hash(&parsed.hash).await {
                Ok(Some(record)) if record.is_active(now) => {
                    cache.put_token(start, parsed.hash.as_hex(), record)
                }
                Ok(Some(_)) => return KeyCheck::Refused("revoked or expired ingest key"),
                Ok(None) => return KeyCheck::Refused("unknown ingest key"),
                Err(err) => return KeyCheck::Unavailable(ApiError::from(err)),
            }
        }
    };
    // Checked on cache hits too: a key stops working at the instant it expires.
    if !record.is_active(now) {
        return KeyCheck::Refused("revoked or expired ingest key");
    }
    if record.kind != TokenKind::IngestKey || !record.scopes.contains(&Scope::Checkins) {
        return KeyCheck::Refused("ingest key without scope checkins");
    }
    state.token_usage().record(record.id, now);
    KeyCheck::Valid(record.id)
}

/// Refuses before the lookup when the address has spent its failed-authentication budget:
/// guessing keys gains nothing while blocked.
pub fn blocked(state: &AppState, client: Option<IpAddr>) -> Option<Response> {
    let limits = state.rate_limits();
    match client.map(|ip| limits.check_auth_allowed(ip)) {
        Some(Err(limited)) => Some(limited.into_response()),
        _ => None,
    }
}

/// Answers a refused key: charged to the address, audited, the same 401 for every reason.
pub async fn refuse(
    state: &AppState,
    context: Option<&RequestContext>,
    reason: &'static str,
) -> Response {
    let client = context.and_then(|c| c.client);
    let budget = client.map(|ip| state.rate_limits().record_failed_auth(ip));
    if let Some(context) = context {
        let mut entry = crate::audit::record("auth.failed", context.now);
        entry.client_addr = client.map(|ip| ip.to_string());
        entry.request_id = crate::middleware::request_id::current();
        entry.outcome = 401;
        entry.reason = Some(format!("ping key refused: {reason}"));
        context.audit.record(entry).await;
    }
    match budget {
        Some(Err(limited)) => limited.into_response(),
        Some(Ok(allowed)) => {
            let mut response = refusal().into_response();
            allowed.apply(response.headers_mut());
            response
        }
        None => refusal().into_response(),
    }
}
