//! `GET /queues/{source}/{queue}/jobs/{id}`: one job, read live from its source — state,
//! attempts, the error and stack of each attempt (redacted and truncated by the connector),
//! the payload as the shapes of its top-level keys, the options the system records — and
//! for operators the retry and discard forms of a failed job (handled in `actions`). A
//! source that cannot answer gets a page saying so, with its status.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use opsdeck_core::auth::Permission;
use opsdeck_core::queues::JobState;
use serde::Deserialize;

use super::detail::attempts;
use super::{SourceRow, job_href, not_found, queue_href, unavailable};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::ops::Caller;
use crate::ops::queues;
use crate::state::AppState;
use crate::web::Page;
use crate::web::format;
use crate::web::shell::{Section, Shell};

/// The query of the page: the action just done and what came of it, for the notice.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct JobQuery {
    #[serde(default)]
    pub done: String,
    #[serde(default)]
    pub result: String,
}

/// One attempt, written out.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub at: String,
    pub error: String,
    pub stack: String,
}

/// A single-job action the operator may take.
#[derive(Debug, Clone)]
pub struct JobOffer {
    pub action: &'static str,
    pub label: &'static str,
    pub href: String,
}

#[derive(Debug, Template)]
#[template(path = "queue_job.html")]
pub struct JobPage {
    shell: Shell,
    source: SourceRow,
    queue: String,
    queue_href: String,
    id: String,
    state: &'static str,
    name: String,
    tenant: String,
    attempts: String,
    created: String,
    at: String,
    error: String,
    tries: Vec<AttemptRow>,
    payload: Vec<(String, String)>,
    payload_more: usize,
    has_payload: bool,
    options: Vec<(String, String)>,
    may_operate: bool,
    offers: Vec<JobOffer>,
    offers_off: Vec<String>,
    notice: Option<String>,
    /// A refused action's message, shown above the forms.
    pub refused: Option<String>,
    /// The reason typed into a refused form, given back.
    pub reason: String,
}

fn notice(query: &JobQuery) -> Option<String> {
    let verb = match query.done.as_str() {
        "retry" => "Retry",
        "discard" => "Discard",
        _ => return None,
    };
    Some(match query.result.as_str() {
        "done" => format!("{verb} done."),
        "gone" => format!("{verb} not done: the job is gone from its queue."),
        "moved" => format!("{verb} not done: the job is no longer failed."),
        "newer" => format!("{verb} not done: the job failed again since."),
        "locked" => format!("{verb} not done: a worker holds the job."),
        "refused" => format!(
            "{verb} not done: the queue system's own tools must do this one (a job under a rate limit)."
        ),
        other => format!("{verb}: {other}."),
    })
}

/// The page of one job, or the 404 answer.
pub async fn job_page(
    state: &AppState,
    shell: Shell,
    caller: &Caller,
    (source, queue, id): (&str, &str, &str),
    query: &JobQuery,
) -> Result<Result<JobPage, Response>, ApiError> {
    let overview = queues::list_queues(state, caller)?;
    let Some(source_view) = overview.sources.iter().find(|s| s.name == source) else {
        return Ok(Err(not_found(
            shell,
            "There is no queue source with that name.".to_owned(),
        )));
    };
    let job = match queues::get_job(state, caller, source, queue, id).await {
        Ok(job) => job,
        Err(err) if err.code() == "not_found" => {
            return Ok(Err(not_found(shell, err.message().to_owned())));
        }
        Err(err) if matches!(err.status().as_u16(), 409 | 502 | 503) => {
            return Ok(Err(unavailable(shell, &err)));
        }
        Err(err) => return Err(err),
    };
    let now = state.clock().now();
    let source_row = SourceRow::new(source_view, now);
    let summary = &job.summary;
    let actionable = matches!(
        summary.state,
        JobState::Failed | JobState::Dead | JobState::Retrying
    );
    let href = job_href(source, queue, summary.id.as_str());
    let mut offers = Vec::new();
    let mut offers_off = Vec::new();
    if actionable {
        for (action, label) in [("retry", "Retry"), ("discard", "Discard")] {
            match source_row.why_not(action) {
                Some(why) => offers_off.push(format!("{action}: {why}")),
                None => offers.push(JobOffer {
                    action,
                    label,
                    href: format!("{href}/{action}"),
                }),
            }
        }
    }
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| format!("{} ({} ago)", format::time(at), format::ago(at, now)))
            .unwrap_or_else(|| "—".to_owned())
    };
    let may_operate = shell.may(Permission::OperateOps);
    Ok(Ok(JobPage {
        shell: shell.at(Section::Queues),
        queue: queue.to_owned(),
        queue_href: queue_href(source, queue),
        id: summary.id.to_string(),
        state: summary.state.as_str(),
        name: summary.name.clone().unwrap_or_default(),
        tenant: summary
            .tenant_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        attempts: attempts(summary.attempts, summary.max_attempts),
        created: when(summary.created_at),
        at: when(summary.at),
        error: summary.error.clone().unwrap_or_default(),
        tries: job
            .attempts
            .iter()
            .map(|a| AttemptRow {
                at: a.at.map(format::time).unwrap_or_default(),
                error: a.error.clone().unwrap_or_default(),
                stack: a.stack.clone().unwrap_or_default(),
            })
            .collect(),
        has_payload: job.payload.is_some(),
        payload_more: job.payload.as_ref().map_or(0, |p| p.more),
        payload: job.payload.map(|p| p.keys).unwrap_or_default(),
        options: job.options,
        may_operate,
        offers,
        offers_off,
        notice: notice(query),
        refused: None,
        reason: String::new(),
        source: source_row,
    }))
}

/// `GET /queues/{source}/{queue}/jobs/{id}`.
pub async fn show_job(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path((source, queue, id)): Path<(String, String, String)>,
    Query(query): Query<JobQuery>,
) -> Result<Response, ApiError> {
    Ok(
        match job_page(&state, shell, &caller, (&source, &queue, &id), &query).await? {
            Ok(page) => Page::new(page).into_response(),
            Err(missing) => missing,
        },
    )
}
