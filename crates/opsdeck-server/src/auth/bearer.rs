//! `Authorization: Bearer …` for personal tokens and ingest keys. The token's format and
//! checksum are checked before any database lookup, so a mistyped, truncated or random
//! token costs nothing; the lookup is by SHA-256 of the token in a unique index, and a token
//! found active is then served from the [`super::cache`] for a few seconds. A JWT is
//! checked by the OIDC verifier instead, when `[auth.oidc]` is configured; identity headers
//! of a trusted proxy are read first (an explicit bearer token still wins over them).

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use opsdeck_core::StoreError;
use opsdeck_core::auth::{AuthMethod, Principal};
use opsdeck_core::token::{self, TokenKind, TokenRecord};

use super::proxy::ProxyIdentity;
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

/// What a presented credential turned out to be.
#[derive(Debug)]
pub enum Resolution {
    Principal(Principal),
    Ingest(IngestCaller),
    Scrape,
    /// Presented but not valid; the message says why without echoing it.
    Refused(String),
    /// The credential could not be checked (database down): 503, not 401.
    Unavailable(ApiError),
}

/// Resolves the value of `Authorization: Bearer <value>`.
pub async fn resolve_bearer(state: &AppState, presented: &str) -> Resolution {
    // The scrape token is a credential for `/metrics` only, checked in constant time.
    if let Some(scrape) = state.config().metrics.token.as_ref()
        && scrape.matches(presented)
    {
        return Resolution::Scrape;
    }
    if let Some(oidc) = state.oidc()
        && looks_like_jwt(presented)
    {
        return match oidc.verify(presented, state.clock().now()).await {
            Ok(principal) => Resolution::Principal(principal),
            Err(refusal) => Resolution::Refused(refusal.to_string()),
        };
    }
    let parsed = match token::parse(presented) {
        Ok(parsed) => parsed,
        Err(err) => return Resolution::Refused(format!("not a valid opsdeck token: {err}")),
    };
    let now = state.clock().now();
    let cache = state.token_usage().credentials();
    // Only tokens found active are cached; anything else is looked up every time.
    let hash = parsed.hash.as_hex();
    let record = match cache.token(hash) {
        Some(record) => record,
        None => {
            let start = cache.before_read();
            let record = match state.store().find_token_by_hash(&parsed.hash).await {
                Ok(Some(record)) => record,
                Ok(None) => {
                    cache.forget_token_hash(hash);
                    return Resolution::Refused("unknown token".to_owned());
                }
                // The store is down: a token it found active within the grace still reads.
                Err(err @ StoreError::Unavailable(_)) => match cache.token_in_outage(hash) {
                    Some(kept) => return principal_of(state, &kept, now),
                    None if cache.was_revoked(hash) => {
                        return Resolution::Refused("this token was revoked".to_owned());
                    }
                    None => return Resolution::Unavailable(ApiError::from(err)),
                },
                Err(err) => return Resolution::Unavailable(ApiError::from(err)),
            };
            if record.revoked_at.is_some() {
                cache.forget_token_hash(hash);
                return Resolution::Refused("this token was revoked".to_owned());
            }
            if !record.is_active(now) {
                cache.forget_token_hash(hash);
                return Resolution::Refused("this token has expired".to_owned());
            }
            cache.put_token(start, hash, record)
        }
    };
    principal_of(state, &record, now)
}

/// The caller a token found active stands for, unless it expired by `now`.
fn principal_of(state: &AppState, record: &TokenRecord, now: DateTime<Utc>) -> Resolution {
    // Checked on every hit too: a cached token stops working at the instant it expires.
    if !record.is_active(now) {
        return Resolution::Refused("this token has expired".to_owned());
    }
    state.token_usage().record(record.id, now);
    match (record.kind, record.role) {
        (TokenKind::Personal, Some(role)) => Resolution::Principal(Principal {
            id: record.id.to_string(),
            name: record.name.clone(),
            role,
            method: AuthMethod::Token,
        }),
        (TokenKind::IngestKey, None) if !record.scopes.is_empty() => {
            Resolution::Ingest(IngestCaller {
                key_id: record.id,
                name: record.name.clone(),
                scopes: record.scopes.clone(),
            })
        }
        _ => Resolution::Refused("this token is not usable".to_owned()),
    }
}

/// Whether a bearer value has the shape of a JWT: a JSON header (`eyJ` is `{"` in base64url)
/// and three dot-separated base64url parts, the last empty for an unsigned token (which the
/// verifier then refuses by name).
fn looks_like_jwt(value: &str) -> bool {
    let base64url = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let parts: Vec<&str> = value.split('.').collect();
    value.starts_with("eyJ")
        && parts.len() == 3
        && parts.iter().all(|part| base64url(part))
        && !parts[1].is_empty()
}

/// The bearer value of an `Authorization` header: `Ok(None)` without the header,
/// `Err` when it is present but not `Bearer <something>`.
pub fn bearer_value(request: &Request) -> Result<Option<String>, &'static str> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .map(Some)
        .ok_or("malformed Authorization header: expected `Bearer <opsdeck token>`")
}

/// Resolves every credential a request carries and attaches the caller; refuses invalid
/// credentials with 401 (audited as failed authentication).
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
    request.extensions_mut().insert(state.rate_limits().clone());
    let request_id = request
        .extensions()
        .get::<crate::middleware::request_id::RequestId>()
        .map(|r| r.0.clone());
    // Before anything reads headers: identity headers leave the request here, read only
    // when a trusted proxy sent them.
    let proxied = super::proxy::take_identity(&state, &mut request);
    let resolution = match (bearer_value(&request), proxied) {
        (Err(message), _) => Resolution::Refused(message.to_owned()),
        (Ok(None), ProxyIdentity::Principal(principal)) => Resolution::Principal(principal),
        (Ok(None), ProxyIdentity::Refused(message)) => Resolution::Refused(message),
        (Ok(None), ProxyIdentity::Absent) => {
            // No bearer: a dashboard session, if its cookie names a live one.
            let mut session_id = None;
            if let Some(value) = super::session::cookie_value(request.headers()) {
                match super::session::resolve(&state, &value).await {
                    Ok(Some((principal, session))) => {
                        session_id = Some(session.id);
                        request.extensions_mut().insert(Authenticated(principal));
                        request.extensions_mut().insert(session);
                    }
                    Ok(None) => {}
                    Err(err) => return ApiError::from(err).into_response(),
                }
            }
            let response = next.run(request).await;
            // A response that clears the cookie ended the session (logout): it must stop
            // working at once, not when its cache entry runs out.
            if let Some(id) = session_id
                && super::session::clears_cookie(response.headers())
            {
                state.token_usage().credentials().forget_session_id(id);
            }
            return response;
        }
        (Ok(Some(presented)), _) => {
            // An address that spent its failed-authentication budget is refused before
            // the lookup, whatever it presents: guessing gains nothing while blocked.
            let limits = state.rate_limits();
            if let Some(Err(limited)) = context.client.map(|ip| limits.check_auth_allowed(ip)) {
                return limited.into_response();
            }
            resolve_bearer(&state, &presented).await
        }
    };
    match resolution {
        Resolution::Principal(principal) => {
            request.extensions_mut().insert(Authenticated(principal));
        }
        Resolution::Ingest(caller) => {
            request.extensions_mut().insert(caller);
        }
        Resolution::Scrape => {
            request.extensions_mut().insert(ScrapeCaller);
        }
        Resolution::Refused(message) => {
            let budget = context
                .client
                .map(|ip| state.rate_limits().record_failed_auth(ip));
            let budget = match budget {
                Some(Err(limited)) => return limited.into_response(),
                other => other.and_then(Result::ok),
            };
            let mut response = refused(&context, request_id, &message).await;
            if let Some(budget) = budget {
                budget.apply(response.headers_mut());
            }
            return response;
        }
        Resolution::Unavailable(err) => return err.into_response(),
    }
    next.run(request).await
}
