//! Queues and jobs (SPEC §5): the views — every queue of every source from the view in
//! memory (never waiting on a source), one queue with its history, a queue's jobs and one
//! job read live through the source's connector — and, in [`actions`], the guarded
//! changes. The JSON API and the Queues pages show what these return.

mod actions;
mod views;

use axum::http::StatusCode;
use opsdeck_connectors::queues::{QueueConnector, QueueError};
use opsdeck_core::ids::{QueueName, SourceName};

pub use actions::{
    BulkAnswer, BulkFilter, BulkOutcome, BulkRequest, DryRun, JobActionOutcome, PauseOutcome,
    discard_job, retry_job, run_bulk, set_paused,
};
pub use views::{
    CountView, JobListQuery, QueueDetail, QueueView, QueuesOverview, SourceView, get_job,
    get_queue, list_jobs, list_queues,
};

use crate::error::ApiError;
use crate::queues::Source;
use crate::state::AppState;

/// The source `name` names, or 404.
pub fn source_of<'a>(state: &'a AppState, name: &str) -> Result<&'a Source, ApiError> {
    SourceName::parse(name)
        .ok()
        .and_then(|name| state.queues().source(&name))
        .ok_or_else(|| ApiError::not_found("no queue source with that name"))
}

/// A queue name from a path, or 404.
pub fn queue_of(name: &str) -> Result<QueueName, ApiError> {
    QueueName::parse(name).map_err(|_| ApiError::not_found("no queue with that name"))
}

/// The connector of `source`, connecting on first use.
async fn connector(source: &Source) -> Result<&dyn QueueConnector, ApiError> {
    source
        .connector()
        .await
        .map_err(|err| source_error(source, err))
}

/// What a connector's failure means to the caller, with the source's secrets masked.
pub fn source_error(source: &Source, err: QueueError) -> ApiError {
    let text = crate::health::scrub(&err.to_string(), &source.secrets());
    match err {
        QueueError::Unreachable(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "source_unavailable",
            format!("queue source {} does not answer: {text}", source.name),
        ),
        QueueError::Unsupported(_) => ApiError::new(
            StatusCode::CONFLICT,
            "unsupported",
            format!("queue source {} is refused: {text}", source.name),
        ),
        QueueError::NotFound(_) => ApiError::not_found(text),
        QueueError::NotPossible(_) => ApiError::new(StatusCode::CONFLICT, "not_possible", text),
        QueueError::Other(_) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "source_error",
            format!("queue source {} failed: {text}", source.name),
        ),
    }
}
