//! `GET /ops/session`: who the caller is, and — for a dashboard session — the CSRF token
//! its scripts send back in `X-CSRF-Token` on state-changing requests.

use axum::Extension;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::auth::session::SessionContext;
use crate::error::ErrorBody;

#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub id: String,
    pub name: String,
    /// viewer, operator, support or admin.
    pub role: String,
    /// token, session, oidc or proxy.
    pub method: String,
    /// Present for dashboard sessions only.
    pub csrf_token: Option<String>,
}

/// The calling principal.
#[utoipa::path(get, path = "/ops/session", tag = "ops",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub async fn get_session(
    Extension(Authenticated(principal)): Extension<Authenticated>,
    session: Option<Extension<SessionContext>>,
) -> axum::Json<WhoAmI> {
    axum::Json(WhoAmI {
        id: principal.id,
        name: principal.name,
        role: principal.role.to_string(),
        method: principal.method.as_str().to_owned(),
        csrf_token: session.map(|Extension(s)| s.csrf().to_owned()),
    })
}
