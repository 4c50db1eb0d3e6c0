//! The operators' forms of a monitor's page: `POST /cron/{slug}/pause`, `…/resume` and
//! `…/trigger`. The guards are [`GuardedForm`]'s (the session's CSRF token, the reason), the
//! action with its permission and audit entry is [`crate::ops::cron`]'s — the same as the
//! JSON API's — and this file only answers: a redirect back to the page with a notice, or
//! the page again with what went wrong.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use opsdeck_core::ids::Slug;

use super::detail::{DetailQuery, monitor_page};
use super::unknown_monitor;
use crate::error::ApiError;
use crate::extract::Path;
use crate::guard::{FormReason, GuardedForm, NoFields};
use crate::ops::{Caller, cron};
use crate::state::AppState;
use crate::web::Page;
use crate::web::shell::Shell;

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
    caller: &Caller,
    slug: &Slug,
    typed: String,
    status: StatusCode,
    message: String,
) -> Result<Response, ApiError> {
    let Some(mut page) =
        monitor_page(state, shell.clone(), caller, slug, &DetailQuery::default()).await?
    else {
        return Ok(unknown_monitor(shell, slug.as_str()));
    };
    page.error = Some(message);
    page.reason = typed;
    Ok(Page::with_status(page, status).into_response())
}

async fn act(
    state: AppState,
    shell: Shell,
    slug: String,
    caller: Caller,
    reason: FormReason,
    action: Action,
) -> Result<Response, ApiError> {
    let Ok(slug) = Slug::parse(&slug) else {
        return Ok(unknown_monitor(shell, &slug));
    };
    let Ok(parsed) = reason.parsed else {
        let message = "Say why (1–500 characters): the reason goes to the audit log.";
        let status = StatusCode::BAD_REQUEST;
        return refused(
            &state,
            shell,
            &caller,
            &slug,
            reason.typed,
            status,
            message.into(),
        )
        .await;
    };
    let act = state.ops().act(&caller, &parsed);
    let mut location = format!("/cron/{slug}?done={}", action.done());
    let outcome = match action {
        Action::Pause | Action::Resume => {
            cron::set_paused(&state, act, &slug, action == Action::Pause)
                .await
                .map(|_| ())
        }
        Action::Trigger => cron::trigger_job(&state, act, &slug)
            .await
            .map(|run_id| location.push_str(&format!("&run={run_id}#log"))),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&location).into_response()),
        Err(err) if err.code() == "not_found" => Ok(unknown_monitor(shell, slug.as_str())),
        Err(err) if matches!(err.status().as_u16(), 409 | 503) => {
            let message = format!(
                "Not {}: {}.",
                action.done(),
                err.message().trim_end_matches('.')
            );
            refused(
                &state,
                shell,
                &caller,
                &slug,
                reason.typed,
                err.status(),
                message,
            )
            .await
        }
        Err(err) => Err(err),
    }
}

/// `POST /cron/{slug}/pause`: operators only (the route table refuses others).
pub async fn pause_monitor(
    State(state): State<AppState>,
    shell: Shell,
    Path(slug): Path<String>,
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    act(state, shell, slug, caller, reason, Action::Pause).await
}

/// `POST /cron/{slug}/resume`.
pub async fn resume_monitor(
    State(state): State<AppState>,
    shell: Shell,
    Path(slug): Path<String>,
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    act(state, shell, slug, caller, reason, Action::Resume).await
}

/// `POST /cron/{slug}/trigger`: fires an HTTP job (`[[cron.jobs]]`) now; the page then
/// shows the new run's log as it arrives.
pub async fn trigger_monitor(
    State(state): State<AppState>,
    shell: Shell,
    Path(slug): Path<String>,
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    act(state, shell, slug, caller, reason, Action::Trigger).await
}
