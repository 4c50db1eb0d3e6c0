//! `POST /api/v1/events` (SPEC §6): the application reports errors, audit events and usage
//! of its tenants with an ingest key of scope `events`, as a JSON array or NDJSON.
//!
//! The answer is `200` with one result per event, in the order sent: `stored`,
//! `duplicate` (its `(tenant_id, id)` was stored before; nothing changed) or `rejected`
//! with the field at fault. One bad event never drops the others. It is sent only once the
//! stored events are committed; when they cannot be, the whole request is answered `503`
//! with `Retry-After` and nothing of it is stored, so the client sends it again (the ids
//! make that safe). The body as a whole is refused (and nothing stored) when it exceeds
//! `events.max_body` or holds more than `events.max_batch` events (`413`), or is neither
//! an array nor NDJSON (`400`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opsdeck_core::events::{
    BatchFormat, Event, EventError, IngestOutcome, parse_event, split_batch,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The answer to a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsAnswer {
    /// Events stored by this request.
    pub stored: usize,
    /// Events whose `(tenant_id, id)` was stored before, or earlier in this batch.
    pub duplicates: usize,
    /// Events refused; see their results.
    pub rejected: usize,
    /// One per event, in the order sent.
    pub results: Vec<EventResult>,
}

/// What became of one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResult {
    /// The event's position in the batch, from 0.
    pub index: usize,
    /// The event's id, when it had a valid one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `stored`, `duplicate` or `rejected`.
    #[schema(example = "stored")]
    pub status: &'static str,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EventProblem>,
}

/// Why one event was rejected.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventProblem {
    /// The field at fault; absent when the event as a whole is (not JSON, too large).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// One event, as the application sends it (the schema of an array's element or of an
/// NDJSON line). Fields of the other types are refused.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EventInput {
    /// Unique per tenant: 1–128 visible ASCII characters. A repeat is a `duplicate`.
    #[schema(example = "01JEV3K6ZQ8R0D6F3T1Y2X4W5V")]
    pub id: String,
    /// `error`, `audit` or `usage`.
    #[serde(rename = "type")]
    #[schema(example = "error")]
    pub kind: String,
    #[schema(example = "acme")]
    pub tenant_id: String,
    /// RFC 3339; at most 5 minutes ahead and `events.max_age` behind.
    #[schema(example = "2026-12-07T10:00:00Z")]
    pub at: String,
    /// error (required): redacted before storage, at most 8 KiB.
    pub message: Option<String>,
    /// error: the group key; derived from the stack's top frames or the normalised message
    /// when absent.
    pub fingerprint: Option<String>,
    /// error: at most 32 KiB.
    pub stack: Option<String>,
    /// error.
    pub route: Option<String>,
    /// error.
    pub request_id: Option<String>,
    /// audit (required), e.g. `user.login_failed`, `member.role_changed`.
    pub action: Option<String>,
    /// audit.
    pub actor: Option<String>,
    /// audit.
    pub target: Option<String>,
    /// audit: `impersonation`, `role_change`, `failed_login`, `export`, `deletion` or
    /// `other`; read from the action's words when absent.
    pub category: Option<String>,
    /// usage (required): the counter, e.g. `api.requests`.
    pub name: Option<String>,
    /// usage (required): a number from 0 to 1e15, added to the counter.
    pub value: Option<f64>,
}

/// Records a batch of application events (ingest key with scope `events`).
#[utoipa::path(post, path = "/api/v1/events", tag = "ingest",
    request_body(content = Vec<EventInput>,
        description = "a JSON array of events, or NDJSON (`Content-Type: application/x-ndjson`, one event per line)"),
    responses(
        (status = 200, description = "every event's outcome, in order; a rejected event does not stop the others", body = EventsAnswer),
        (status = 400, description = "the body is neither a JSON array nor NDJSON", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "not an ingest key with scope events", body = ErrorBody),
        (status = 413, description = "larger than events.max_body, or more than events.max_batch events", body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 503, description = "nothing was stored; retry after Retry-After seconds", body = ErrorBody)))]
pub async fn post_events(State(state): State<AppState>, request: Request) -> Response {
    match ingest(&state, request).await {
        Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
        Err(err) => err,
    }
}

async fn ingest(state: &AppState, request: Request) -> Result<EventsAnswer, Response> {
    let config = &state.config().events;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_body(request.into_body(), config.max_body).await?;
    let format = BatchFormat::detect(content_type.as_deref(), &body).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_body",
            "send a JSON array of events, or NDJSON (one event object per line)",
        )
        .into_response()
    })?;
    let items = split_batch(&body, format)
        .map_err(|err| ApiError::bad_request("invalid_body", err.to_string()).into_response())?;
    if items.len() > config.max_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!(
                "a batch holds at most {} events (events.max_batch); split it",
                config.max_batch
            ),
        )
        .into_response());
    }
    let received_at = state.clock().now();
    let limits = config.limits();
    let parsed: Vec<Result<Event, EventError>> = items
        .iter()
        .map(|raw| parse_event(raw, received_at, &limits).map(Event::redacted))
        .collect();
    let mut ids = Vec::with_capacity(parsed.len());
    let mut valid = Vec::new();
    let mut problems = Vec::with_capacity(parsed.len());
    for result in parsed {
        match result {
            Ok(event) => {
                ids.push(Some(event.id.as_str().to_owned()));
                problems.push(None);
                valid.push(event);
            }
            Err(problem) => {
                ids.push(None);
                problems.push(Some(problem));
            }
        }
    }
    let metrics = state.events().metrics();
    let offered = valid.len();
    let rejected = ids.len() - offered;
    let outcomes = match state.events().submit(valid, received_at).await {
        Ok(outcomes) => outcomes,
        Err(err) => {
            metrics.count("unavailable", offered);
            metrics.count("rejected", rejected);
            return Err(unavailable(&err.to_string()));
        }
    };
    let mut outcomes = outcomes.into_iter();
    let mut answer = EventsAnswer {
        stored: 0,
        duplicates: 0,
        rejected: 0,
        results: Vec::with_capacity(ids.len()),
    };
    for (index, (id, problem)) in ids.into_iter().zip(problems).enumerate() {
        let (status, error) = match problem {
            Some(problem) => {
                answer.rejected += 1;
                let error = EventProblem {
                    field: problem.field,
                    message: problem.problem,
                };
                ("rejected", Some(error))
            }
            None => {
                let outcome = outcomes.next().ok_or_else(|| unavailable("lost outcome"))?;
                match outcome {
                    IngestOutcome::Stored => answer.stored += 1,
                    IngestOutcome::Duplicate => answer.duplicates += 1,
                }
                (outcome.as_str(), None)
            }
        };
        answer.results.push(EventResult {
            index,
            id,
            status,
            error,
        });
    }
    metrics.count("stored", answer.stored);
    metrics.count("duplicate", answer.duplicates);
    metrics.count("rejected", answer.rejected);
    Ok(answer)
}

/// Reads the body up to `limit` bytes: a longer one is answered 413 as soon as it is seen.
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, Response> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body exceeds events.max_body ({limit} bytes); send smaller batches"
            ),
        )
        .into_response()
    };
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(
            ApiError::bad_request("invalid_body", "the request body could not be read")
                .into_response(),
        ),
    }
}

/// 503 with `Retry-After`: nothing of the request was stored.
fn unavailable(message: &str) -> Response {
    let mut response = ApiError::unavailable(format!(
        "the events could not be recorded ({message}); nothing was stored, retry later"
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
