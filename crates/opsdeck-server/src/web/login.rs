//! `/login` (a form to paste a personal token) and `/logout`. Signing in opens a server-side
//! session and sets the `opsdeck_session` cookie; both events are audited.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::Authenticated;
use crate::auth::bearer::{Resolution, resolve_bearer};
use crate::auth::session::{SessionContext, clear_cookie, same_origin, set_cookie};
use crate::error::ApiError;
use crate::extract::Query;
use crate::guard::{GuardedForm, NoFields};
use crate::middleware::auth::RequestContext;
use crate::ops::sessions::{self, Origin};
use crate::state::AppState;
use crate::web::Page;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    next: String,
}

/// Only same-site paths: never `//host` or a full URL (open redirects).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn show_login(
    Query(query): Query<NextQuery>,
    principal: Option<Extension<Authenticated>>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    if principal.is_some() {
        return Redirect::to(&next).into_response();
    }
    Page::new(LoginPage { error: None, next }).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

fn login_failed(message: &str, next: String) -> Response {
    Page::with_status(
        LoginPage {
            error: Some(message.to_owned()),
            next,
        },
        StatusCode::UNAUTHORIZED,
    )
    .into_response()
}

pub async fn submit_login(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = safe_next(form.next.as_deref());
    if !same_origin(&axum::http::Method::POST, &headers) {
        return Err(ApiError::forbidden(
            "sign-in must come from the opsdeck login page",
        ));
    }
    let principal = match resolve_bearer(&state, form.token.trim()).await {
        Resolution::Principal(principal) => principal,
        Resolution::Unavailable(err) => return Err(err),
        other => {
            let message = match other {
                Resolution::Refused(reason) => reason,
                _ => "this credential cannot sign in; use a personal token".to_owned(),
            };
            sessions::refuse_sign_in(&state, context.client, &message).await;
            return Ok(login_failed(&message, next));
        }
    };
    let origin = Origin {
        client: context.client,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let secret = sessions::open_session(&state, &principal, origin).await?;
    let config = &state.config().session;
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(
            secret.expose(),
            config.absolute_timeout,
            config.secure_cookie,
        ),
    );
    Ok(response)
}

/// `POST /logout`: ends the session (the form's CSRF token checked by [`GuardedForm`]).
pub async fn submit_logout(
    State(state): State<AppState>,
    session: Option<Extension<SessionContext>>,
    GuardedForm { caller, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    let secure = state.config().session.secure_cookie;
    if let Some(Extension(session)) = session {
        sessions::end_session(&state, &caller, session.id).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(secure));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
