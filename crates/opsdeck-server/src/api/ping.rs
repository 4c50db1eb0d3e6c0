//! The ping URLs (SPEC §4), healthchecks.io's slug URLs under opsdeck's ping key:
//! `/ping/{key}/{slug}` (success), `…/start`, `…/fail`, `…/log` and `…/{exit_status}`
//! (0 succeeded, 1–255 failed), each by HEAD, GET or POST. `?rid=<uuid>` pairs a start
//! with its finish, `?create=1` creates an unknown monitor (answered `201 Created`), a POST
//! body is kept as the run's log (its tail within `Ping-Body-Limit`, `cron.ping_body_limit`).
//! `?source=exec` marks the pings of `opsdeck exec`, so its runs are recorded with source
//! `exec` (healthchecks.io ignores the parameter, so the same URLs still work there).
//!
//! The key in the path is the credential, so the routes are public in the route table and
//! the key is checked here, before anything else: a wrong key gets the same 401 whether the
//! slug exists or not. Successes answer plain text (`OK`), refusals the JSON error
//! envelope; every answer carries `Ping-Body-Limit` and `Access-Control-Allow-Origin: *`.
//! The answer comes once the ping is committed (see [`crate::cron::ingest`]).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::cron::{Ping, PingError, PingKind, RunSource, parse_rid};
use opsdeck_core::ids::Slug;
use serde::Deserialize;

use crate::cron::ingest::key::{self, KeyCheck};
use crate::cron::ingest::{Accepted, IngestError, PingRequest, Provision, body};
use crate::error::ApiError;
use crate::extract::Path;
use crate::middleware::auth::RequestContext;
use crate::state::AppState;

/// The response header that tells clients how much of a body is kept.
pub const PING_BODY_LIMIT_HEADER: &str = "ping-body-limit";

/// `/ping/{key}/{slug}`: the job succeeded.
pub async fn ping_success(
    State(state): State<AppState>,
    Path((key, slug)): Path<(String, String)>,
    request: Request,
) -> Response {
    receive(&state, &key, &slug, "", request).await
}

/// `/ping/{key}/{slug}/start`: the job started.
pub async fn ping_start(
    State(state): State<AppState>,
    Path((key, slug)): Path<(String, String)>,
    request: Request,
) -> Response {
    receive(&state, &key, &slug, "start", request).await
}

/// `/ping/{key}/{slug}/fail`: the job failed.
pub async fn ping_fail(
    State(state): State<AppState>,
    Path((key, slug)): Path<(String, String)>,
    request: Request,
) -> Response {
    receive(&state, &key, &slug, "fail", request).await
}

/// `/ping/{key}/{slug}/log`: output only; the monitor's status is untouched.
pub async fn ping_log(
    State(state): State<AppState>,
    Path((key, slug)): Path<(String, String)>,
    request: Request,
) -> Response {
    receive(&state, &key, &slug, "log", request).await
}

/// `/ping/{key}/{slug}/{exit_status}`: the job ended with this exit status.
pub async fn ping_exit(
    State(state): State<AppState>,
    Path((key, slug, exit_status)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    receive(&state, &key, &slug, &exit_status, request).await
}

#[derive(Debug, Deserialize)]
struct PingQuery {
    rid: Option<String>,
    create: Option<String>,
    source: Option<String>,
}

async fn receive(
    state: &AppState,
    key: &str,
    slug: &str,
    tail: &str,
    request: Request,
) -> Response {
    let mut response = match accept(state, key, slug, tail, request).await {
        Ok(response) | Err(response) => response,
    };
    let headers = response.headers_mut();
    headers.insert(
        PING_BODY_LIMIT_HEADER,
        HeaderValue::from(state.config().cron.ping_body_limit),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn accept(
    state: &AppState,
    key: &str,
    slug: &str,
    tail: &str,
    request: Request,
) -> Result<Response, Response> {
    let received_at = state.clock().now();
    let ingest = state.ingest();
    let kind = PingKind::parse_tail(tail);
    let context = request.extensions().get::<RequestContext>();
    if let Some(limited) = key::blocked(state, context.and_then(|c| c.client)) {
        ingest.refused(kind.ok(), "rate_limited");
        return Err(limited);
    }
    let key_id = match key::check(state, key).await {
        KeyCheck::Valid(id) => id,
        KeyCheck::Refused(reason) => {
            ingest.refused(kind.ok(), "unauthorized");
            let context = context.cloned();
            return Err(key::refuse(state, context.as_ref(), reason).await);
        }
        KeyCheck::Unavailable(err) => {
            ingest.refused(kind.ok(), "unavailable");
            return Err(err.into_response());
        }
    };
    let budget = state
        .rate_limits()
        .check_ingest(key_id)
        .map_err(|limited| {
            ingest.refused(kind.ok(), "rate_limited");
            limited.into_response()
        })?;
    let invalid = |err: ApiError| {
        ingest.refused(kind.ok(), "invalid");
        err.into_response()
    };
    let (slug, ping, provision) = parse(slug, kind, &request).map_err(invalid)?;
    let limit = state.config().cron.ping_body_limit;
    let body = body::read_tail(request.into_body(), limit)
        .await
        .map_err(|err| invalid(ApiError::bad_request("invalid_body", err.to_string())))?;
    let ping = PingRequest {
        slug,
        ping: ping.with_body(body),
        provision,
        received_at,
    };
    let mut response = match ingest.submit(ping).await {
        Ok(Accepted { created: true, .. }) => text(StatusCode::CREATED, "Created"),
        Ok(_) => text(StatusCode::OK, "OK"),
        Err(IngestError::NotFound) => ApiError::not_found(
            "not found: no monitor has this slug; add ?create=1 to create it with the ping",
        )
        .into_response(),
        Err(err @ IngestError::Unavailable) => {
            ApiError::unavailable(err.to_string()).into_response()
        }
    };
    budget.apply(response.headers_mut());
    Ok(response)
}

/// The slug, the ping and what to do if the monitor is missing, from the URL.
fn parse(
    slug: &str,
    kind: Result<PingKind, PingError>,
    request: &Request,
) -> Result<(Slug, Ping, Provision), ApiError> {
    let kind = kind.map_err(|err| {
        let code = match err {
            PingError::ExitStatus => "invalid_exit_status",
            _ => "invalid_ping_kind",
        };
        ApiError::bad_request(code, err.to_string())
    })?;
    let slug =
        Slug::parse(slug).map_err(|err| ApiError::bad_request("invalid_slug", err.to_string()))?;
    let query = axum::extract::Query::<PingQuery>::try_from_uri(request.uri())
        .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))?
        .0;
    let mut ping = Ping::new(kind, source_of(query.source.as_deref())?);
    if let Some(rid) = &query.rid {
        let rid =
            parse_rid(rid).map_err(|err| ApiError::bad_request("invalid_rid", err.to_string()))?;
        ping = ping.with_rid(rid);
    }
    let provision = match query.create.as_deref() {
        None | Some("0" | "false") => Provision::Existing,
        Some("1" | "true") => Provision::AutoCreate,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "create must be 1 (create the monitor if it does not exist) or 0",
            ));
        }
    };
    Ok((slug, ping, provision))
}

/// Who sent the ping, from `?source=`: a plain ping when absent. Only the clients that
/// ping these URLs may be named; the scheduler and the check-ins record their own source.
fn source_of(param: Option<&str>) -> Result<RunSource, ApiError> {
    match param {
        None | Some("ping") => Ok(RunSource::Ping),
        Some("exec") => Ok(RunSource::Exec),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            "source must be ping (the default) or exec (set by opsdeck exec)",
        )),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    (status, headers, body).into_response()
}
