//! The guarded queue actions (operator): retry or discard one job, bulk retry or discard of
//! a pinned selection, pause and resume. Each acts on someone else's system, which opsdeck
//! cannot take back: its audit entry, with the reason, is committed before the action runs
//! ([`crate::ops::Act::begin`]) and its outcome after. A `read_only` source, or an action
//! its system does not have, is refused with 409 and nothing written.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use opsdeck_connectors::queues::{ActGuard, ActionReport, Capabilities};
use opsdeck_core::auth::Permission;
use opsdeck_core::ids::{JobId, QueueName, TenantId};
use opsdeck_core::queues::{
    BulkAction, JobFilter, JobState, Selection, SelectionClaim, SelectionToken,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{connector, queue_of, source_error, source_of};
use crate::error::ApiError;
use crate::ops::{Act, Done};
use crate::queues::Source;
use crate::state::AppState;

/// Refuses an action on a `read_only` source or one its system lacks.
fn allowed(
    source: &Source,
    capabilities: Capabilities,
    pick: fn(&Capabilities) -> Result<(), &'static str>,
) -> Result<(), ApiError> {
    if source.read_only {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "read_only",
            format!(
                "queue source {} is read_only: opsdeck shows it and changes nothing",
                source.name
            ),
        ));
    }
    pick(&capabilities).map_err(|why| {
        ApiError::new(
            StatusCode::CONFLICT,
            "not_possible",
            format!("{} ({}): {why}", source.name, source.system),
        )
    })
}

/// What a single-job action did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobActionOutcome {
    pub id: String,
    /// `done`, or why it was left alone: `gone`, `moved` (no longer in the state it was
    /// seen in), `newer`, `locked`, `refused` (left to the system's own tools).
    pub result: &'static str,
}

fn retry_capability(c: &Capabilities) -> Result<(), &'static str> {
    c.retry
}

fn discard_capability(c: &Capabilities) -> Result<(), &'static str> {
    c.discard
}

/// Retries one job that failed.
pub async fn retry_job(
    state: &AppState,
    act: Act<'_>,
    source: &str,
    queue: &str,
    id: &str,
) -> Result<JobActionOutcome, ApiError> {
    one_job(state, act, source, queue, id, BulkAction::Retry).await
}

/// Discards one job that failed: its system's terminal state, never retried.
pub async fn discard_job(
    state: &AppState,
    act: Act<'_>,
    source: &str,
    queue: &str,
    id: &str,
) -> Result<JobActionOutcome, ApiError> {
    one_job(state, act, source, queue, id, BulkAction::Discard).await
}

/// The states a failed job can be acted on in.
fn actionable(state: JobState) -> bool {
    matches!(
        state,
        JobState::Failed | JobState::Dead | JobState::Retrying
    )
}

async fn one_job(
    state: &AppState,
    act: Act<'_>,
    source: &str,
    queue: &str,
    id: &str,
    action: BulkAction,
) -> Result<JobActionOutcome, ApiError> {
    act.caller.require(Permission::OperateOps)?;
    let source = source_of(state, source)?;
    let queue = queue_of(queue)?;
    let id = JobId::parse(id).map_err(|_| ApiError::not_found("no job with that id"))?;
    let connector = connector(source).await?;
    let pick = match action {
        BulkAction::Retry => retry_capability,
        BulkAction::Discard => discard_capability,
    };
    allowed(source, connector.capabilities(), pick)?;
    let job = connector
        .get_job(&queue, &id)
        .await
        .map_err(|err| source_error(source, err))?
        .ok_or_else(|| ApiError::not_found(format!("no job {id} in {}/{queue}", source.name)))?;
    let seen = job.summary.state;
    if !actionable(seen) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_failed",
            format!(
                "job {id} is {seen}, not failed: there is nothing to {}",
                action.as_str()
            ),
        ));
    }
    let done = Done::new(
        match action {
            BulkAction::Retry => "queue.job.retried",
            BulkAction::Discard => "queue.job.discarded",
        },
        "job",
        format!("{}/{queue}/{id}", source.name),
    )
    .for_tenant(job.summary.tenant_id.clone());
    let begun = act.begin(done).await?;
    let guard = ActGuard {
        state: seen,
        failed_not_after: None,
    };
    let ids = std::slice::from_ref(&id);
    let report = match action {
        BulkAction::Retry => connector.retry(&queue, ids, guard).await,
        BulkAction::Discard => connector.discard(&queue, ids, guard).await,
    };
    let now = state.clock().now();
    match report {
        Ok(report) => {
            let result = match report.skipped.first() {
                None if !report.done.is_empty() => "done",
                Some((_, skip)) => skip.as_str(),
                None => "gone",
            };
            begun
                .finish(if result == "done" { 200 } else { 409 }, now)
                .await?;
            Ok(JobActionOutcome {
                id: id.to_string(),
                result,
            })
        }
        Err(err) => {
            let err = source_error(source, err);
            begun.finish(err.status().as_u16(), now).await?;
            Err(err)
        }
    }
}

/// A bulk action's request: a dry run with a filter, or the real run with the dry run's
/// selection and count.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Count and pin the matching jobs, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Why (1–500 characters); kept in the audit log.
    pub reason: String,
    /// For the dry run: which jobs (state defaults to failed).
    pub filter: Option<BulkFilter>,
    /// For the real run: the `selection` the dry run answered.
    pub selection: Option<String>,
    /// For the real run: the `count` the dry run answered.
    pub expected_count: Option<u64>,
}

/// Which jobs a bulk dry run matches.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    /// failed (default), dead or retrying.
    pub state: Option<String>,
    /// Text the job's name, id or error contains.
    pub q: Option<String>,
    pub tenant_id: Option<String>,
}

impl crate::guard::WriteBody for BulkRequest {
    fn reason(&self) -> &str {
        &self.reason
    }
}

/// A dry run's answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRun {
    pub count: u64,
    /// Pass with `expected_count` to act on exactly these jobs.
    pub selection: String,
    pub expires_at: DateTime<Utc>,
}

/// What a bulk action did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkOutcome {
    /// Jobs acted on.
    pub count: u64,
    /// Jobs of the selection left alone, by why (`gone`, `moved`, `newer`, `locked`,
    /// `refused`).
    pub skipped: BTreeMap<&'static str, u64>,
    /// The longest single command the action ran on the source, in ms.
    pub longest_step_ms: f64,
}

/// Either answer of a bulk call.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BulkAnswer {
    DryRun(DryRun),
    Done(BulkOutcome),
}

fn selection_mismatch() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "selection_mismatch",
        "the selection is unknown, used, expired, for another queue or action, or holds another \
         count than expected_count: run the dry run again",
    )
}

fn parse_filter(filter: Option<&BulkFilter>) -> Result<JobFilter, ApiError> {
    let invalid = |field: &str, e: &dyn std::fmt::Display| {
        ApiError::bad_request("invalid_field", format!("field `filter.{field}`: {e}"))
    };
    let filter = filter.cloned().unwrap_or_default();
    let state = match filter.state.as_deref() {
        None => JobState::Failed,
        Some(text) => text.parse::<JobState>().map_err(|e| invalid("state", &e))?,
    };
    if !actionable(state) {
        return Err(invalid(
            "state",
            &"bulk actions take failed, dead or retrying jobs",
        ));
    }
    let q = filter
        .q
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if q.as_ref()
        .is_some_and(|q| q.chars().count() > JobFilter::Q_MAX_CHARS)
    {
        return Err(invalid("q", &"at most 200 characters"));
    }
    let tenant_id = filter
        .tenant_id
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .map_err(|e| invalid("tenant_id", &e))?;
    Ok(JobFilter {
        state,
        q,
        tenant_id,
    })
}

/// A bulk retry or discard: with `dry_run`, counts and pins the matching jobs; then, with the
/// selection and its count, acts on exactly those that still meet it.
pub async fn run_bulk(
    state: &AppState,
    act: Act<'_>,
    source: &str,
    queue: &str,
    action: BulkAction,
    request: &BulkRequest,
) -> Result<BulkAnswer, ApiError> {
    act.caller.require(Permission::OperateOps)?;
    let source = source_of(state, source)?;
    let queue = queue_of(queue)?;
    let connector = connector(source).await?;
    allowed(source, connector.capabilities(), |c| c.bulk)?;
    let pick = match action {
        BulkAction::Retry => retry_capability,
        BulkAction::Discard => discard_capability,
    };
    allowed(source, connector.capabilities(), pick)?;
    let target =
        |what: String| Done::new(bulk_action_name(action, request.dry_run), "selection", what);
    if request.dry_run {
        if request.selection.is_some() || request.expected_count.is_some() {
            return Err(ApiError::bad_request(
                "invalid_field",
                "a dry run takes a `filter`, not `selection` or `expected_count`",
            ));
        }
        let filter = parse_filter(request.filter.as_ref())?;
        let max = state.queues().bulk_max();
        let limit = usize::try_from(max).unwrap_or(usize::MAX);
        let ids = connector
            .select(&queue, &filter, limit)
            .await
            .map_err(|err| source_error(source, err))?;
        if ids.len() > limit {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many",
                format!(
                    "more than {max} jobs match (queues.bulk_max): narrow the filter (`q`, `tenant_id`) and act in parts"
                ),
            ));
        }
        let now = state.clock().now();
        let ttl = chrono::Duration::from_std(state.queues().selection_ttl())
            .unwrap_or(chrono::Duration::minutes(10));
        let selection = Selection {
            token: SelectionToken::generate(),
            source: source.name.clone(),
            queue: queue.clone(),
            action,
            filter,
            ids,
            pinned_at: now,
            expires_at: now + ttl,
            used_at: None,
        };
        state.store().create_selection(&selection).await?;
        let count = selection.count();
        act.record(
            &target(selection_label(
                &source.name,
                &queue,
                &selection.token,
                count,
            )),
            200,
        )
        .await?;
        return Ok(BulkAnswer::DryRun(DryRun {
            count,
            selection: selection.token.to_string(),
            expires_at: selection.expires_at,
        }));
    }
    let (Some(token), Some(expected)) = (request.selection.as_deref(), request.expected_count)
    else {
        return Err(ApiError::bad_request(
            "dry_run_required",
            "bulk actions run with `dry_run: true` first; then repeat with the `selection` and `expected_count` it answered",
        ));
    };
    if request.filter.is_some() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "the real run acts on the selection: send `selection` and `expected_count`, not `filter`",
        ));
    }
    let token: SelectionToken = token.parse().map_err(|_| selection_mismatch())?;
    let now = state.clock().now();
    let selection = state
        .store()
        .take_selection(
            &token,
            SelectionClaim {
                source: &source.name,
                queue: &queue,
                action,
                expected_count: expected,
            },
            now,
        )
        .await?
        .ok_or_else(selection_mismatch)?;
    let begun = act
        .begin(target(selection_label(
            &source.name,
            &queue,
            &token,
            selection.count(),
        )))
        .await?;
    let guard = ActGuard {
        state: selection.filter.state,
        failed_not_after: Some(selection.pinned_at),
    };
    let report = match action {
        BulkAction::Retry => connector.retry(&queue, &selection.ids, guard).await,
        BulkAction::Discard => connector.discard(&queue, &selection.ids, guard).await,
    };
    let now = state.clock().now();
    match report {
        Ok(report) => {
            begun.finish(200, now).await?;
            Ok(BulkAnswer::Done(outcome(&report)))
        }
        Err(err) => {
            let err = source_error(source, err);
            begun.finish(err.status().as_u16(), now).await?;
            Err(err)
        }
    }
}

fn bulk_action_name(action: BulkAction, dry_run: bool) -> &'static str {
    match (action, dry_run) {
        (BulkAction::Retry, true) => "queue.jobs.retry_dry_run",
        (BulkAction::Retry, false) => "queue.jobs.retried",
        (BulkAction::Discard, true) => "queue.jobs.discard_dry_run",
        (BulkAction::Discard, false) => "queue.jobs.discarded",
    }
}

/// The audit target of a selection: where, which, and how many.
fn selection_label(
    source: &opsdeck_core::ids::SourceName,
    queue: &QueueName,
    token: &SelectionToken,
    count: u64,
) -> String {
    format!("{source}/{queue}/{token} ({count} jobs)")
}

fn outcome(report: &ActionReport) -> BulkOutcome {
    let mut skipped = BTreeMap::new();
    for (_, skip) in &report.skipped {
        *skipped.entry(skip.as_str()).or_insert(0) += 1;
    }
    BulkOutcome {
        count: report.done.len() as u64,
        skipped,
        longest_step_ms: report.longest_step.as_secs_f64() * 1000.0,
    }
}

/// What a pause or resume left the queue as.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PauseOutcome {
    pub paused: bool,
}

/// Pauses or resumes a queue, where the system has a pause.
pub async fn set_paused(
    state: &AppState,
    act: Act<'_>,
    source: &str,
    queue: &str,
    paused: bool,
) -> Result<PauseOutcome, ApiError> {
    act.caller.require(Permission::OperateOps)?;
    let source = source_of(state, source)?;
    let queue = queue_of(queue)?;
    let connector = connector(source).await?;
    allowed(source, connector.capabilities(), |c| c.pause)?;
    let done = Done::new(
        if paused {
            "queue.paused"
        } else {
            "queue.resumed"
        },
        "queue",
        format!("{}/{queue}", source.name),
    );
    let begun = act.begin(done).await?;
    let result = connector.set_paused(&queue, paused).await;
    let now = state.clock().now();
    match result {
        Ok(()) => {
            begun.finish(200, now).await?;
            Ok(PauseOutcome { paused })
        }
        Err(err) => {
            let err = source_error(source, err);
            begun.finish(err.status().as_u16(), now).await?;
            Err(err)
        }
    }
}
