//! `POST /api/v1/queues/{queue}/snapshot` (SPEC §5): a `push` source's application reports
//! one queue — counts, oldest age, recent failures — with an ingest key of scope `jobs`.
//! Answered once stored.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::queues::{Snapshot, record_snapshot};
use crate::state::AppState;

/// A stored snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotAccepted {
    pub source: String,
    pub queue: String,
    pub received_at: DateTime<Utc>,
}

/// Records a snapshot of one queue of a push source.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/snapshot", tag = "ingest",
    request_body = Snapshot, params(("queue" = String, Path, description = "the queue's name")),
    responses((status = 202, body = SnapshotAccepted), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "no push source configured"),
              (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn post_snapshot(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Json(snapshot): Json<Snapshot>,
) -> Result<(StatusCode, axum::Json<SnapshotAccepted>), ApiError> {
    let source = record_snapshot(state.queues(), &queue, snapshot).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(SnapshotAccepted {
            source: source.to_string(),
            queue,
            received_at: state.clock().now(),
        }),
    ))
}
