//! While opsdeck's own database is unreachable (SPEC §8): a request that would change stored
//! state is refused at once with 503 and `Retry-After`, before anything runs, so nothing is
//! half done; a read goes on, and when part of what it shows was served from memory
//! ([`served_stale`]) the response says so in `Opsdeck-Stale` with the time that part was
//! read. Ingest over `GET` (pings) reaches its handler, which answers 503 as fast, from the
//! store's breaker.

use std::cell::Cell;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::ApiError;
use crate::state::AppState;

/// Set on a response part of which was read from memory during an outage: the time of the
/// oldest such read (RFC 3339).
pub static OPSDECK_STALE: HeaderName = HeaderName::from_static("opsdeck-stale");

tokio::task_local! {
    static STALE: Cell<Option<DateTime<Utc>>>;
}

/// Records that the request being served shows something read at `read_at` rather than now.
pub fn served_stale(read_at: DateTime<Utc>) {
    let _ = STALE.try_with(|stale| {
        let oldest = stale.get().map_or(read_at, |at| at.min(read_at));
        stale.set(Some(oldest));
    });
}

/// The refusal of a change while the database has been unreachable since `since`.
pub fn refused_change(since: DateTime<Utc>) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
        format!(
            "opsdeck's database has been unreachable since {}; nothing was changed; retry \
             once it answers (GET /readyz says when)",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    )
}

/// Put on a request served during an outage, for the banner every page shows.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseDown {
    pub since: DateTime<Utc>,
}

pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if let Some(since) = state.store().availability().down_since() {
        if !request.method().is_safe() {
            return refused_change(since).into_response();
        }
        request.extensions_mut().insert(DatabaseDown { since });
    }
    let (mut response, stale) = STALE
        .scope(Cell::new(None), async move {
            let response = next.run(request).await;
            (response, STALE.with(Cell::get))
        })
        .await;
    if let Some(read_at) = stale
        && let Ok(value) =
            HeaderValue::from_str(&read_at.to_rfc3339_opts(SecondsFormat::Millis, true))
    {
        response.headers_mut().insert(OPSDECK_STALE.clone(), value);
    }
    response
}
