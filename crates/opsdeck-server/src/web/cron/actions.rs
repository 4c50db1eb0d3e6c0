//! The operators' forms of a monitor's page: `POST /cron/{slug}/pause`, `…/resume` and
//! `…/trigger`. Guarded like the health page's "Run now" and like the JSON API's same
//! actions: the route table demands `OperateOps`, the form carries the session's CSRF
//! token and a mandatory reason, and the audit entry is committed before the answer, a
//! redirect back to the page with a notice. The change and its audit entry are the JSON
//! API's own functions ([`set_paused`], [`trigger_job`]): only the answers differ.

use axum::Extension;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use opsdeck_core::ids::Slug;
use serde::Deserialize;

use super::detail::{DetailQuery, monitor_page};
use super::unknown_monitor;
use crate::api::cron_admin::{set_paused, trigger_job};
use crate::api::guard::{Reason, WriteContext};
use crate::auth::session::SessionContext;
use crate::cron::TriggerError;
use crate::error::ApiError;
use crate::extract::Path;
use crate::state::AppState;
use crate::web::Page;
use crate::web::shell::Shell;

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reason: String,
}

/// What a form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pause,
    Resume,
    Trigger,
}

impl Action {
    fn done(self) -> &'static str {
        match self {
            Action::Pause => "paused",
            Action::Resume => "resumed",
            Action::Trigger => "triggered",
        }
    }
}

/// The monitor's page again, with `message` above the forms and the reason typed kept.
async fn refused(
    state: &AppState,
    shell: Shell,
    slug: &Slug,
    form: ActionForm,
    status: StatusCode,
    message: String,
) -> Result<Response, ApiError> {
    let Some(mut page) = monitor_page(state, shell.clone(), slug, &DetailQuery::default()).await?
    else {
        return Ok(unknown_monitor(shell, slug.as_str()));
    };
    page.error = Some(message);
    page.reason = form.reason;
    Ok(Page::with_status(page, status).into_response())
}

async fn act(
    state: AppState,
    shell: Shell,
    write: WriteContext,
    session: Option<Extension<SessionContext>>,
    slug: String,
    form: ActionForm,
    action: Action,
) -> Result<Response, ApiError> {
    if let Some(Extension(session)) = session
        && !session.csrf_matches(&form.csrf_token)
    {
        return Err(ApiError::forbidden(
            "the form's CSRF token does not match this session; reload the page",
        ));
    }
    let Ok(slug) = Slug::parse(&slug) else {
        return Ok(unknown_monitor(shell, &slug));
    };
    let reason = match Reason::parse(&form.reason) {
        Ok(reason) => reason,
        Err(_) => {
            let message = "Say why (1–500 characters): the reason goes to the audit log.";
            return refused(
                &state,
                shell,
                &slug,
                form,
                StatusCode::BAD_REQUEST,
                message.into(),
            )
            .await;
        }
    };
    let mut location = format!("/cron/{slug}?done={}", action.done());
    match action {
        Action::Pause | Action::Resume => {
            let paused = action == Action::Pause;
            let changed = set_paused(&state, &write, &reason, &slug, paused, 303).await?;
            if changed.is_none() {
                return Ok(unknown_monitor(shell, slug.as_str()));
            }
        }
        Action::Trigger => match trigger_job(&state, &write, &reason, &slug, 303).await? {
            Ok(run_id) => location.push_str(&format!("&run={run_id}#log")),
            Err(TriggerError::NotFound) => return Ok(unknown_monitor(shell, slug.as_str())),
            Err(err @ TriggerError::NotAJob) => {
                let message = format!("Not triggered: {err}.");
                return refused(&state, shell, &slug, form, StatusCode::CONFLICT, message).await;
            }
            Err(err @ TriggerError::Unavailable) => {
                let message = format!("Not triggered: {err}.");
                let status = StatusCode::SERVICE_UNAVAILABLE;
                return refused(&state, shell, &slug, form, status, message).await;
            }
        },
    }
    Ok(Redirect::to(&location).into_response())
}

/// `POST /cron/{slug}/pause`: operators only (the route table refuses others).
pub async fn pause_monitor(
    State(state): State<AppState>,
    shell: Shell,
    write: WriteContext,
    session: Option<Extension<SessionContext>>,
    Path(slug): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, ApiError> {
    act(state, shell, write, session, slug, form, Action::Pause).await
}

/// `POST /cron/{slug}/resume`.
pub async fn resume_monitor(
    State(state): State<AppState>,
    shell: Shell,
    write: WriteContext,
    session: Option<Extension<SessionContext>>,
    Path(slug): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, ApiError> {
    act(state, shell, write, session, slug, form, Action::Resume).await
}

/// `POST /cron/{slug}/trigger`: fires an HTTP job (`[[cron.jobs]]`) now; the page then
/// shows the new run's log as it arrives.
pub async fn trigger_monitor(
    State(state): State<AppState>,
    shell: Shell,
    write: WriteContext,
    session: Option<Extension<SessionContext>>,
    Path(slug): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, ApiError> {
    act(state, shell, write, session, slug, form, Action::Trigger).await
}
