//! Authorization at the route table: every route declares its [`Access`], and
//! [`authorize`] enforces it before the handler runs. Default deny: a route that needs a
//! permission answers 401 (JSON) or redirects to `/login` (HTML) unless an authentication
//! layer has attached an [`Authenticated`] principal, and 403 when the principal's role lacks
//! the permission.

use std::net::IpAddr;

use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opsdeck_core::audit::Target;
use opsdeck_core::auth::{Permission, Principal};
use opsdeck_core::token::Scope;

use crate::audit::{AuditSink, actor_of, record};
use crate::auth::IngestCaller;
use crate::auth::session::{CSRF_HEADER, SessionContext, same_origin};
use crate::error::ApiError;
use crate::middleware::request_id::RequestId;

/// What the authorization step needs from the global layers: where the request came from
/// and where to audit it. Attached to every request by [`crate::auth::authenticate`].
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub client: Option<IpAddr>,
    pub audit: AuditSink,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// SPEC §2's public list only: probes, login, static assets, pings, public key sets.
    Public,
    /// `/metrics`: the scrape token, checked by the handler (no token configured → 404).
    ScrapeToken,
    /// An authenticated principal whose role grants the permission.
    Requires(Permission),
    /// The ingest API: an ingest key (bearer) with this scope, charged to its ingest
    /// budget. Personal tokens and sessions are refused (403), as ingest keys are on /ops.
    Ingest(Scope),
}

/// What a route answers with; decides how a missing principal is told to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Json,
    Text,
    Html,
}

/// The principal of the request, attached by an authentication layer and copied to the
/// response so the access log can name it.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

pub async fn authorize(access: Access, kind: Kind, request: Request, next: Next) -> Response {
    let permission = match access {
        Access::Requires(permission) => permission,
        Access::Ingest(scope) => return authorize_ingest(scope, request, next).await,
        Access::Public | Access::ScrapeToken => return next.run(request).await,
    };
    let context = request.extensions().get::<RequestContext>().cloned();
    let audit = context.as_ref().map(|c| audit_record(c, &request));
    let refresh = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| is_refresh(p.as_str()));
    let principal = request.extensions().get::<Authenticated>().cloned();
    let response = match &principal {
        None if request.extensions().get::<IngestCaller>().is_some() => ApiError::forbidden(
            "ingest keys are for the ingest API only; use a personal token for /ops",
        )
        .into_response(),
        None => match kind {
            Kind::Html => redirect_to_login(&request),
            Kind::Json | Kind::Text => ApiError::unauthorized().into_response(),
        },
        Some(authenticated) if !authenticated.0.role.allows(permission) => {
            let message = format!(
                "role `{}` may not {}",
                authenticated.0.role,
                permission.describe()
            );
            match kind {
                Kind::Html => crate::web::refused_page(&message),
                Kind::Json | Kind::Text => ApiError::forbidden(message).into_response(),
            }
        }
        Some(authenticated) => match csrf_refusal(&request, kind) {
            Some(refusal) => refusal,
            // Charged only once the caller may do this: a refused request spends nothing.
            None => match crate::ratelimit::charge_request(&request, &authenticated.0) {
                Err(limited) => limited.into_response(),
                Ok(budget) => {
                    let mut response = next.run(request).await;
                    budget.apply(response.headers_mut());
                    response
                }
            },
        },
    };
    let mut response = response;
    let quiet = response.status().is_success() && refresh;
    if let (Some(context), Some(mut entry)) = (context, audit.filter(|_| !quiet)) {
        entry.actor = principal.as_ref().map(|p| actor_of(&p.0));
        entry.outcome = response.status().as_u16();
        context.audit.record(entry).await;
    }
    if let Some(principal) = principal {
        response.extensions_mut().insert(principal);
    }
    response
}

/// [`Access::Ingest`]: the caller's key must carry `scope`; the call is charged to the key's
/// ingest budget. Not audited: ingest calls are the application's traffic, not /ops access.
async fn authorize_ingest(scope: Scope, request: Request, next: Next) -> Response {
    let key_id = match request.extensions().get::<IngestCaller>() {
        Some(caller) if caller.scopes.contains(&scope) => caller.key_id,
        Some(_) => {
            return ApiError::forbidden(format!("this ingest key lacks the scope `{scope}`"))
                .into_response();
        }
        None if request.extensions().get::<Authenticated>().is_some() => {
            return ApiError::forbidden(format!(
                "the ingest API takes an ingest key (opsdeck_key_…) with scope `{scope}`, \
                 not a personal token or a session"
            ))
            .into_response();
        }
        None => return ApiError::unauthorized().into_response(),
    };
    let limits = request
        .extensions()
        .get::<std::sync::Arc<crate::ratelimit::RateLimits>>()
        .cloned();
    match limits.map(|limits| limits.check_ingest(key_id)) {
        Some(Err(limited)) => limited.into_response(),
        Some(Ok(budget)) => {
            let mut response = next.run(request).await;
            budget.apply(response.headers_mut());
            response
        }
        None => next.run(request).await,
    }
}

/// Routes a page polls on its own to refresh in place (every few seconds while open). The
/// opening of the page is audited; its allowed refreshes are not, or one open tab would
/// add some 17,000 entries a day. A refused refresh is still audited.
const REFRESH_ROUTES: [&str; 1] = ["/overview/live"];

fn is_refresh(route: &str) -> bool {
    REFRESH_ROUTES.contains(&route)
}

/// For a request from a dashboard session that changes state: refused unless it comes
/// from our own origin and (for JSON routes) carries the session's CSRF token in
/// `X-CSRF-Token`. HTML form routes check the token in their form themselves.
fn csrf_refusal(request: &Request, kind: Kind) -> Option<Response> {
    let session = request.extensions().get::<SessionContext>()?;
    if request.method().is_safe() {
        return None;
    }
    if !same_origin(request.method(), request.headers()) {
        return Some(
            ApiError::forbidden(
                "cross-site request refused: state changes must come from opsdeck's own pages",
            )
            .into_response(),
        );
    }
    if kind == Kind::Html {
        return None;
    }
    let presented = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (!session.csrf_matches(presented)).then(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_token_invalid",
            "send the session's CSRF token (GET /ops/session) in the X-CSRF-Token header",
        )
        .into_response()
    })
}

/// The audit record of one request: method and route template as the action.
fn audit_record(context: &RequestContext, request: &Request) -> opsdeck_core::audit::AuditRecord {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let mut entry = record(format!("{} {}", request.method(), route), context.now);
    entry.client_addr = context.client.map(|ip| ip.to_string());
    entry.request_id = request.extensions().get::<RequestId>().map(|r| r.0.clone());
    entry.tenant_id = crate::middleware::tenant::tenant_of(&route, request.uri().path());
    entry.target = Some(Target {
        kind: "route".to_owned(),
        id: request.uri().path().to_owned(),
    });
    entry
}

fn redirect_to_login(request: &Request) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let location = format!("/login?next={}", url_escape(target));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Percent-encodes everything but unreserved characters and `/`, enough for a `next=` value.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
