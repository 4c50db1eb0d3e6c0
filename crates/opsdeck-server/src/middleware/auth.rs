//! Authorization at the route table: every route declares its [`Access`], and
//! [`authorize`] enforces it before the handler runs. Default deny: a route that needs a
//! permission answers 401 (JSON) or redirects to `/login` (HTML) unless an authentication
//! layer has attached an [`Authenticated`] principal, and 403 when the principal's role lacks
//! the permission.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opsdeck_core::auth::{Permission, Principal};

use crate::error::ApiError;

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// SPEC §2's public list only: probes, login, static assets, pings, public key sets.
    Public,
    /// `/metrics`: the scrape token, checked by the handler (no token configured → 404).
    ScrapeToken,
    /// An authenticated principal whose role grants the permission.
    Requires(Permission),
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
    let Access::Requires(permission) = access else {
        return next.run(request).await;
    };
    let Some(authenticated) = request.extensions().get::<Authenticated>().cloned() else {
        return match kind {
            Kind::Html => redirect_to_login(&request),
            Kind::Json | Kind::Text => ApiError::unauthorized().into_response(),
        };
    };
    if !authenticated.0.role.allows(permission) {
        let mut response = ApiError::forbidden(format!(
            "role `{}` may not {}",
            authenticated.0.role,
            permission.describe()
        ))
        .into_response();
        response.extensions_mut().insert(authenticated);
        return response;
    }
    let mut response = next.run(request).await;
    response.extensions_mut().insert(authenticated);
    response
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
