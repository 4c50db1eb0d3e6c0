//! `GET /queues/{source}/{queue}`: one queue — its counts with how old each is, backlog and
//! failure charts over 24 hours, its jobs by state with a text search, a tenant filter and
//! cursor paging (read live from the source), and for operators the bulk retry and discard
//! forms (which lead to the confirmation page of `actions`) and pause or resume where the
//! system has them; where it has not, the page says why.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use opsdeck_core::auth::Permission;
use opsdeck_core::ids::TenantId;
use opsdeck_core::queues::{JobFilter, JobState, JobSummary};
use serde::Deserialize;

use super::chart::{LineChart, charts};
use super::{QueueRow, SourceRow, job_href, not_found};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::ops::Caller;
use crate::ops::queues::{self, JobListQuery};
use crate::state::AppState;
use crate::web::Page;
use crate::web::format;
use crate::web::shell::{Section, Shell};

/// Jobs per page of the list.
const JOBS_PER_PAGE: u32 = 25;

/// The query of the page; every field is text, so a bad value becomes a note, not an error
/// page.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub cursor: String,
    /// The action just done, for the notice: `retry`, `discard`, `paused`, `resumed`.
    #[serde(default)]
    pub done: String,
    /// How many jobs it acted on, and left alone.
    #[serde(default)]
    pub count: String,
    #[serde(default)]
    pub skipped: String,
}

/// A state's tab above the job list.
#[derive(Debug, Clone)]
pub struct StateTab {
    pub state: &'static str,
    pub count: Option<u64>,
    pub href: String,
    pub current: bool,
}

/// A job as the list shows it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub href: String,
    pub name: String,
    pub state: &'static str,
    pub attempts: String,
    pub when: String,
    pub at: String,
    pub error: String,
    pub tenant: String,
}

impl JobRow {
    pub fn new(source: &str, job: &JobSummary, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            id: job.id.to_string(),
            href: job_href(source, job.queue.as_str(), job.id.as_str()),
            name: job.name.clone().unwrap_or_default(),
            state: job.state.as_str(),
            attempts: attempts(job.attempts, job.max_attempts),
            when: job
                .at
                .map(|at| format!("{} ago", format::ago(at, now)))
                .unwrap_or_default(),
            at: job.at.map(format::time).unwrap_or_default(),
            error: job.error.clone().unwrap_or_default(),
            tenant: job
                .tenant_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }
    }
}

/// `2 of 3`, `2`, or nothing.
pub fn attempts(made: Option<u32>, max: Option<u32>) -> String {
    match (made, max) {
        (Some(made), Some(max)) => format!("{made} of {max}"),
        (Some(made), None) => made.to_string(),
        (None, Some(max)) => format!("? of {max}"),
        (None, None) => String::new(),
    }
}

/// A bulk action the operator may start on the listed state.
#[derive(Debug, Clone)]
pub struct BulkOffer {
    pub action: &'static str,
    pub label: &'static str,
    pub href: String,
}

#[derive(Debug, Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    shell: Shell,
    source: SourceRow,
    queue: QueueRow,
    backlog_chart: Option<LineChart>,
    failure_chart: Option<LineChart>,
    tabs: Vec<StateTab>,
    state: &'static str,
    q: String,
    tenant_id: String,
    jobs: Vec<JobRow>,
    jobs_note: Option<String>,
    partial: bool,
    scanned: u64,
    older: Option<String>,
    first_href: String,
    first_page: bool,
    may_operate: bool,
    bulk: Vec<BulkOffer>,
    /// Why each bulk action is not offered, when it is not.
    bulk_off: Vec<String>,
    pause_off: Option<String>,
    notice: Option<String>,
    /// A refused action's message, shown above the forms.
    pub error: Option<String>,
    /// The reason typed into a refused form, given back.
    pub reason: String,
}

impl QueuePage {
    /// The page's link with its current filter and `more` query pairs.
    fn link(&self, more: &[(&str, &str)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("state", self.state);
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        if !self.tenant_id.is_empty() {
            query.append_pair("tenant_id", &self.tenant_id);
        }
        for (k, v) in more {
            query.append_pair(k, v);
        }
        format!("{}?{}", self.queue.href, query.finish())
    }
}

fn notice(query: &QueueQuery) -> Option<String> {
    let count = query.count.parse::<u64>().unwrap_or(0);
    let skipped = query.skipped.parse::<u64>().unwrap_or(0);
    let left = if skipped > 0 {
        format!("; {skipped} left alone (no longer failed, gone, or failed again after the count)")
    } else {
        String::new()
    };
    match query.done.as_str() {
        "retry" => Some(format!("Retried {count} job(s){left}.")),
        "discard" => Some(format!("Discarded {count} job(s){left}.")),
        "paused" => Some("Paused: running jobs finish, no new job starts.".to_owned()),
        "resumed" => Some("Resumed: jobs start again.".to_owned()),
        _ => None,
    }
}

/// The page of `source`/`queue`, or the 404 answer.
pub async fn queue_page(
    state: &AppState,
    shell: Shell,
    caller: &Caller,
    source: &str,
    queue: &str,
    query: &QueueQuery,
) -> Result<Result<QueuePage, Response>, ApiError> {
    let detail = match queues::get_queue(state, caller, source, queue).await {
        Ok(detail) => detail,
        Err(err) if err.code() == "not_found" => {
            return Ok(Err(not_found(shell, err.message().to_owned())));
        }
        Err(err) => return Err(err),
    };
    let now = state.clock().now();
    let source_row = SourceRow::new(&detail.source, now);
    let queue_row = QueueRow::new(&detail.queue, now);
    let (backlog_chart, failure_chart) =
        charts(&detail.history, now - chrono::Duration::hours(24), now);
    let mut notes = Vec::new();
    let job_state = match query.state.trim() {
        "" => JobState::Failed,
        text => text.parse::<JobState>().unwrap_or_else(|e| {
            notes.push(e.to_string());
            JobState::Failed
        }),
    };
    let q: String = query
        .q
        .trim()
        .chars()
        .take(JobFilter::Q_MAX_CHARS)
        .collect();
    let tenant = match query.tenant_id.trim() {
        "" => None,
        text => match TenantId::parse(text) {
            Ok(tenant) => Some(tenant),
            Err(e) => {
                notes.push(format!("tenant: {e}"));
                None
            }
        },
    };
    let cursor = Some(query.cursor.trim().to_owned()).filter(|c| !c.is_empty() && c.len() <= 500);
    let listed = queues::list_jobs(
        state,
        caller,
        source,
        queue,
        JobListQuery {
            filter: JobFilter {
                state: job_state,
                q: Some(q.clone()).filter(|q| !q.is_empty()),
                tenant_id: tenant.clone(),
            },
            cursor: cursor.clone(),
            limit: JOBS_PER_PAGE,
        },
    )
    .await;
    let (jobs, next, scanned, partial) = match listed {
        Ok(page) => (
            page.jobs
                .iter()
                .map(|job| JobRow::new(&source_row.name, job, now))
                .collect(),
            page.next,
            page.scanned,
            page.partial,
        ),
        Err(err) if err.status().is_server_error() && err.code() == "internal" => return Err(err),
        // The source does not answer, or cannot list this state: the rest of the page
        // still shows, with why the list is empty.
        Err(err) => {
            notes.push(format!(
                "The {job_state} jobs cannot be listed: {}",
                err.message()
            ));
            (Vec::new(), None, 0, false)
        }
    };
    let mut tabs_states: Vec<JobState> = JobState::ALL
        .into_iter()
        .filter(|s| detail.queue.counts.contains_key(s.as_str()) || *s == JobState::Failed)
        .collect();
    if !tabs_states.contains(&job_state) {
        tabs_states.push(job_state);
    }
    let tabs = tabs_states
        .into_iter()
        .map(|s| StateTab {
            state: s.as_str(),
            count: detail.queue.counts.get(s.as_str()).map(|c| c.count),
            href: format!("{}?state={s}", queue_row.href),
            current: s == job_state,
        })
        .collect();
    let may_operate = shell.may(Permission::OperateOps);
    let actionable = matches!(
        job_state,
        JobState::Failed | JobState::Dead | JobState::Retrying
    );
    let mut bulk = Vec::new();
    let mut bulk_off = Vec::new();
    if actionable {
        for (action, label) in [
            ("retry", "Retry matching jobs…"),
            ("discard", "Discard matching jobs…"),
        ] {
            match source_row
                .why_not("bulk")
                .or_else(|| source_row.why_not(action))
            {
                Some(why) => bulk_off.push(format!("{action}: {why}")),
                None => bulk.push(BulkOffer {
                    action,
                    label,
                    href: format!("{}/{action}", queue_row.href),
                }),
            }
        }
    }
    let mut page = QueuePage {
        shell: shell.at(Section::Queues),
        pause_off: source_row.why_not("pause").map(str::to_owned),
        source: source_row,
        queue: queue_row,
        backlog_chart,
        failure_chart,
        tabs,
        state: job_state.as_str(),
        q,
        tenant_id: tenant.map(|t| t.to_string()).unwrap_or_default(),
        jobs,
        jobs_note: (!notes.is_empty()).then(|| notes.join(" ")),
        partial,
        scanned,
        older: None,
        first_href: String::new(),
        first_page: cursor.is_none(),
        may_operate,
        bulk,
        bulk_off,
        notice: notice(query),
        error: None,
        reason: String::new(),
    };
    page.first_href = page.link(&[]);
    page.older = next.map(|next| format!("{}#jobs", page.link(&[("cursor", &next)])));
    Ok(Ok(page))
}

/// `GET /queues/{source}/{queue}`.
pub async fn show_queue(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path((source, queue)): Path<(String, String)>,
    Query(query): Query<QueueQuery>,
) -> Result<Response, ApiError> {
    Ok(
        match queue_page(&state, shell, &caller, &source, &queue, &query).await? {
            Ok(page) => Page::new(page).into_response(),
            Err(missing) => missing,
        },
    )
}
