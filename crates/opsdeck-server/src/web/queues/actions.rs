//! The operators' forms of the Queues pages: retry or discard one job
//! (`POST /queues/{source}/{queue}/jobs/{id}/retry|discard`), bulk retry or discard
//! (`POST /queues/{source}/{queue}/retry|discard`) and pause or resume
//! (`POST /queues/{source}/{queue}/pause|resume`). The guards are [`GuardedForm`]'s (the
//! session's CSRF token, the reason); each action, with its permission and audit entry, is
//! [`crate::ops::queues`]'s, the same as the JSON API's.
//!
//! A bulk action takes two posts, as the API does: the first (the filter, no selection)
//! is the dry run, answered with a confirmation page that shows how many jobs it pinned
//! and asks for the reason again; the second carries the selection and that count, and
//! acts on exactly those jobs.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use opsdeck_core::queues::BulkAction;
use serde::Deserialize;

use super::detail::{QueueQuery, queue_page};
use super::job::{JobQuery, job_page};
use super::{job_href, queue_href};
use crate::error::ApiError;
use crate::extract::Path;
use crate::guard::{FormReason, GuardedForm, NoFields};
use crate::ops::queues::{self, BulkAnswer, BulkFilter, BulkRequest};
use crate::ops::{Caller, Reason};
use crate::state::AppState;
use crate::web::Page;
use crate::web::format;
use crate::web::shell::{Section, Shell};

const SAY_WHY: &str = "Say why (1–500 characters): the reason goes to the audit log.";

fn verb(action: BulkAction) -> &'static str {
    match action {
        BulkAction::Retry => "Retry",
        BulkAction::Discard => "Discard",
    }
}

/// `Not retried: <why>.`
fn refusal(action: &str, err: &ApiError) -> String {
    format!("Not {action}: {}.", err.message().trim_end_matches('.'))
}

/// Whether a refused action is shown on its page (the caller can do something about it)
/// rather than answered as an error.
fn shown(err: &ApiError) -> bool {
    err.status().is_client_error() || matches!(err.status().as_u16(), 502 | 503)
}

/// The queue's page again with `message` above the forms and the reason typed kept.
async fn queue_refused(
    state: &AppState,
    shell: Shell,
    caller: &Caller,
    (source, queue): (&str, &str),
    query: &QueueQuery,
    typed: String,
    (status, message): (StatusCode, String),
) -> Result<Response, ApiError> {
    Ok(
        match queue_page(state, shell, caller, source, queue, query).await? {
            Ok(mut page) => {
                page.error = Some(message);
                page.reason = typed;
                Page::with_status(page, status).into_response()
            }
            Err(missing) => missing,
        },
    )
}

async fn one_job(
    state: AppState,
    shell: Shell,
    (source, queue, id): (String, String, String),
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
    action: BulkAction,
) -> Result<Response, ApiError> {
    let target = (source.as_str(), queue.as_str(), id.as_str());
    let refused = |typed: String, status: StatusCode, message: String| {
        let (state, shell, caller) = (&state, shell.clone(), &caller);
        async move {
            Ok::<_, ApiError>(
                match job_page(state, shell, caller, target, &JobQuery::default()).await? {
                    Ok(mut page) => {
                        page.refused = Some(message);
                        page.reason = typed;
                        Page::with_status(page, status).into_response()
                    }
                    Err(missing) => missing,
                },
            )
        }
    };
    let Ok(parsed) = reason.parsed else {
        return refused(reason.typed, StatusCode::BAD_REQUEST, SAY_WHY.to_owned()).await;
    };
    let act = state.ops().act(&caller, &parsed);
    let outcome = match action {
        BulkAction::Retry => queues::retry_job(&state, act, &source, &queue, &id).await,
        BulkAction::Discard => queues::discard_job(&state, act, &source, &queue, &id).await,
    };
    match outcome {
        Ok(outcome) => Ok(Redirect::to(&format!(
            "{}?done={}&result={}",
            job_href(&source, &queue, &outcome.id),
            action.as_str(),
            outcome.result
        ))
        .into_response()),
        Err(err) if err.code() == "not_found" => {
            Ok(super::not_found(shell.clone(), err.message().to_owned()))
        }
        Err(err) if shown(&err) => {
            let done = match action {
                BulkAction::Retry => "retried",
                BulkAction::Discard => "discarded",
            };
            refused(reason.typed, err.status(), refusal(done, &err)).await
        }
        Err(err) => Err(err),
    }
}

/// `POST /queues/{source}/{queue}/jobs/{id}/retry`: operators only (the route table
/// refuses others).
pub async fn retry_job(
    State(state): State<AppState>,
    shell: Shell,
    Path(target): Path<(String, String, String)>,
    form: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    one_job(state, shell, target, form, BulkAction::Retry).await
}

/// `POST /queues/{source}/{queue}/jobs/{id}/discard`.
pub async fn discard_job(
    State(state): State<AppState>,
    shell: Shell,
    Path(target): Path<(String, String, String)>,
    form: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    one_job(state, shell, target, form, BulkAction::Discard).await
}

/// The fields of a bulk form: the filter for the dry run, or the selection and its count
/// for the real run.
#[derive(Debug, Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    selection: String,
    #[serde(default)]
    expected_count: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    tenant_id: String,
}

impl BulkForm {
    fn query(&self) -> QueueQuery {
        QueueQuery {
            state: self.state.clone(),
            q: self.q.clone(),
            tenant_id: self.tenant_id.clone(),
            ..QueueQuery::default()
        }
    }

    fn filter(&self) -> BulkFilter {
        let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        BulkFilter {
            state: given(&self.state),
            q: given(&self.q),
            tenant_id: given(&self.tenant_id),
        }
    }

    /// The filter in words, for the confirmation page.
    fn words(&self) -> String {
        let mut words = format!(
            "{} jobs",
            Some(self.state.trim())
                .filter(|s| !s.is_empty())
                .unwrap_or("failed")
        );
        if !self.q.trim().is_empty() {
            words.push_str(&format!(" matching \u{201c}{}\u{201d}", self.q.trim()));
        }
        if !self.tenant_id.trim().is_empty() {
            words.push_str(&format!(" of tenant {}", self.tenant_id.trim()));
        }
        words
    }
}

/// The confirmation of a bulk action: what the dry run counted and pinned.
#[derive(Debug, Template)]
#[template(path = "queue_bulk.html")]
pub struct ConfirmPage {
    shell: Shell,
    source: String,
    queue: String,
    queue_href: String,
    action: &'static str,
    verb: &'static str,
    count: u64,
    what: String,
    selection: String,
    expires: String,
    expires_in: String,
    state: String,
    reason: String,
    error: Option<String>,
}

async fn bulk(
    state: AppState,
    shell: Shell,
    (source, queue): (String, String),
    GuardedForm {
        caller,
        reason,
        form,
    }: GuardedForm<BulkForm>,
    action: BulkAction,
) -> Result<Response, ApiError> {
    let target = (source.as_str(), queue.as_str());
    let done_word = match action {
        BulkAction::Retry => "retried",
        BulkAction::Discard => "discarded",
    };
    let selection = form.selection.trim().to_owned();
    if selection.is_empty() {
        // The dry run: count and pin, then ask to confirm.
        let Ok(parsed) = reason.parsed else {
            let refusal = (StatusCode::BAD_REQUEST, SAY_WHY.to_owned());
            let query = form.query();
            return queue_refused(
                &state,
                shell,
                &caller,
                target,
                &query,
                reason.typed,
                refusal,
            )
            .await;
        };
        let request = BulkRequest {
            dry_run: true,
            reason: parsed.as_str().to_owned(),
            filter: Some(form.filter()),
            selection: None,
            expected_count: None,
        };
        let act = state.ops().act(&caller, &parsed);
        return match queues::run_bulk(&state, act, &source, &queue, action, &request).await {
            Ok(BulkAnswer::DryRun(dry)) => {
                let now = state.clock().now();
                Ok(Page::new(ConfirmPage {
                    shell: shell.at(Section::Queues),
                    source: source.clone(),
                    queue: queue.clone(),
                    queue_href: queue_href(&source, &queue),
                    action: action.as_str(),
                    verb: verb(action),
                    count: dry.count,
                    what: form.words(),
                    selection: dry.selection,
                    expires: format::time(dry.expires_at),
                    expires_in: format::ago(now, dry.expires_at),
                    state: form.state.clone(),
                    reason: reason.typed,
                    error: None,
                })
                .into_response())
            }
            Ok(BulkAnswer::Done(_)) => Err(ApiError::internal(anyhow::anyhow!(
                "a dry run answered as a real run"
            ))),
            Err(err) if err.code() == "not_found" => {
                Ok(super::not_found(shell.clone(), err.message().to_owned()))
            }
            Err(err) if shown(&err) => {
                let refusal = (err.status(), refusal(done_word, &err));
                let query = form.query();
                queue_refused(
                    &state,
                    shell,
                    &caller,
                    target,
                    &query,
                    reason.typed,
                    refusal,
                )
                .await
            }
            Err(err) => Err(err),
        };
    }
    // The real run, confirmed.
    let expected = form.expected_count.trim().parse::<u64>().ok();
    let parsed = match (reason.parsed, expected) {
        (Ok(parsed), Some(_)) => parsed,
        (parsed, _) => {
            let message = if parsed.is_err() {
                SAY_WHY
            } else {
                "The form lost the count to confirm: start again from the queue's page."
            };
            return Ok(Page::with_status(
                ConfirmPage {
                    shell: shell.at(Section::Queues),
                    queue_href: queue_href(&source, &queue),
                    source,
                    queue,
                    action: action.as_str(),
                    verb: verb(action),
                    count: expected.unwrap_or(0),
                    what: form.words(),
                    selection,
                    expires: String::new(),
                    expires_in: String::new(),
                    state: form.state.clone(),
                    reason: reason.typed,
                    error: Some(message.to_owned()),
                },
                StatusCode::BAD_REQUEST,
            )
            .into_response());
        }
    };
    let request = BulkRequest {
        dry_run: false,
        reason: parsed.as_str().to_owned(),
        filter: None,
        selection: Some(selection),
        expected_count: expected,
    };
    let act = state.ops().act(&caller, &parsed);
    match queues::run_bulk(&state, act, &source, &queue, action, &request).await {
        Ok(BulkAnswer::Done(outcome)) => {
            let skipped: u64 = outcome.skipped.values().sum();
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("state", form.state.trim())
                .append_pair("done", action.as_str())
                .append_pair("count", &outcome.count.to_string())
                .append_pair("skipped", &skipped.to_string());
            Ok(Redirect::to(&format!(
                "{}?{}",
                queue_href(&source, &queue),
                query.finish()
            ))
            .into_response())
        }
        Ok(BulkAnswer::DryRun(_)) => Err(ApiError::internal(anyhow::anyhow!(
            "a real run answered as a dry run"
        ))),
        Err(err) if err.code() == "not_found" => {
            Ok(super::not_found(shell.clone(), err.message().to_owned()))
        }
        Err(err) if shown(&err) => {
            let refusal = (err.status(), refusal(done_word, &err));
            let query = form.query();
            queue_refused(
                &state,
                shell,
                &caller,
                target,
                &query,
                reason.typed,
                refusal,
            )
            .await
        }
        Err(err) => Err(err),
    }
}

/// `POST /queues/{source}/{queue}/retry`: the dry run (a filter) or the confirmed run (a
/// selection and its count).
pub async fn retry_jobs(
    State(state): State<AppState>,
    shell: Shell,
    Path(target): Path<(String, String)>,
    form: GuardedForm<BulkForm>,
) -> Result<Response, ApiError> {
    bulk(state, shell, target, form, BulkAction::Retry).await
}

/// `POST /queues/{source}/{queue}/discard`.
pub async fn discard_jobs(
    State(state): State<AppState>,
    shell: Shell,
    Path(target): Path<(String, String)>,
    form: GuardedForm<BulkForm>,
) -> Result<Response, ApiError> {
    bulk(state, shell, target, form, BulkAction::Discard).await
}

async fn pause(
    state: AppState,
    shell: Shell,
    (source, queue): (String, String),
    caller: Caller,
    reason: FormReason,
    paused: bool,
) -> Result<Response, ApiError> {
    let target = (source.as_str(), queue.as_str());
    let query = QueueQuery::default();
    let parsed: Reason = match reason.parsed {
        Ok(parsed) => parsed,
        Err(_) => {
            let refusal = (StatusCode::BAD_REQUEST, SAY_WHY.to_owned());
            return queue_refused(
                &state,
                shell,
                &caller,
                target,
                &query,
                reason.typed,
                refusal,
            )
            .await;
        }
    };
    let act = state.ops().act(&caller, &parsed);
    match queues::set_paused(&state, act, &source, &queue, paused).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}?done={}",
            queue_href(&source, &queue),
            if paused { "paused" } else { "resumed" }
        ))
        .into_response()),
        Err(err) if err.code() == "not_found" => {
            Ok(super::not_found(shell.clone(), err.message().to_owned()))
        }
        Err(err) if shown(&err) => {
            let word = if paused { "paused" } else { "resumed" };
            let refusal = (err.status(), refusal(word, &err));
            queue_refused(
                &state,
                shell,
                &caller,
                target,
                &query,
                reason.typed,
                refusal,
            )
            .await
        }
        Err(err) => Err(err),
    }
}

/// `POST /queues/{source}/{queue}/pause`, where the system has a pause.
pub async fn pause_queue(
    State(state): State<AppState>,
    shell: Shell,
    Path(target): Path<(String, String)>,
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    pause(state, shell, target, caller, reason, true).await
}

/// `POST /queues/{source}/{queue}/resume`.
pub async fn resume_queue(
    State(state): State<AppState>,
    shell: Shell,
    Path(target): Path<(String, String)>,
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    pause(state, shell, target, caller, reason, false).await
}
