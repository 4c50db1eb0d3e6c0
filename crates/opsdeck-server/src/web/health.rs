//! The Health pages: `GET /health` lists every check; `GET /health/{name}` shows one with
//! its status timeline, latency chart, status changes and 24 h / 7 d figures; and
//! `POST /health/{name}/run` runs it now (operators), guarded like the JSON API's run: the
//! session's CSRF token, a mandatory reason, and an audit entry committed before the run.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::auth::Permission;
use opsdeck_core::health::StatusChange;
use opsdeck_core::ids::CheckName;
use serde::Deserialize;

use super::Page;
use super::charts::{self, Band, LatencyChart};
use super::checks::{Board, CheckRow};
use super::format;
use super::shell::{Section, Shell};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::guard::{GuardedForm, NoFields};
use crate::health::CheckDetail;
use crate::ops::{Caller, health};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "health.html")]
struct HealthPage {
    shell: Shell,
    board: Board,
}

/// `GET /health`.
pub async fn show_health(State(state): State<AppState>, shell: Shell) -> Page<impl Template> {
    Page::new(HealthPage {
        shell: shell.at(Section::Health),
        board: Board::new(&state.health().snapshot()),
    })
}

struct ChangeRow {
    at: String,
    from: &'static str,
    from_class: &'static str,
    to: &'static str,
    to_class: &'static str,
    held: String,
    output: String,
}

struct Window {
    label: &'static str,
    uptime: String,
    p50: String,
    p95: String,
    results: u64,
}

#[derive(Template)]
#[template(path = "health_check.html")]
struct CheckPage {
    shell: Shell,
    check: CheckRow,
    hour: Vec<Band>,
    day: Vec<Band>,
    week: Vec<Band>,
    chart: Option<LatencyChart>,
    changes: Vec<ChangeRow>,
    windows: Vec<Window>,
    may_run: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    reason: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    shell: Shell,
    title: String,
    message: String,
}

fn check_page(shell: Shell, detail: CheckDetail, now: DateTime<Utc>) -> CheckPage {
    let current = detail.check.status;
    let hour_start = now - Duration::hours(1);
    let day_start = now - Duration::hours(24);
    let week_start = now - Duration::days(7);
    // Newest first: each change held until the one listed before it.
    let mut until = now;
    let mut changes = Vec::with_capacity(detail.changes.len());
    for change in &detail.changes {
        changes.push(change_row(change, until));
        until = change.at;
    }
    CheckPage {
        may_run: shell.may(Permission::OperateOps),
        shell: shell.at(Section::Health),
        check: CheckRow::new(&detail.check, now),
        hour: charts::timeline(&detail.changes, hour_start, now, current),
        day: charts::timeline(&detail.changes, day_start, now, current),
        week: charts::timeline(&detail.changes, week_start, now, current),
        chart: charts::latency_chart(&detail.samples, day_start, now),
        changes,
        windows: detail
            .windows
            .iter()
            .map(|w| Window {
                label: w.label,
                uptime: format::percent(w.uptime),
                p50: format::latency_opt(w.p50_ms),
                p95: format::latency_opt(w.p95_ms),
                results: w.results,
            })
            .collect(),
        notice: None,
        error: None,
        reason: String::new(),
    }
}

fn change_row(change: &StatusChange, until: DateTime<Utc>) -> ChangeRow {
    let held = (until - change.at).to_std().unwrap_or_default();
    ChangeRow {
        at: format::time(change.at),
        from: charts::status_word(change.from),
        from_class: charts::status_class(change.from),
        to: charts::status_word(Some(change.to)),
        to_class: charts::status_class(Some(change.to)),
        held: humantime::format_duration(std::time::Duration::from_secs(held.as_secs()))
            .to_string(),
        output: change.output.clone().unwrap_or_default(),
    }
}

fn unknown_check(shell: Shell, name: &str) -> Response {
    let message = match CheckName::parse(name) {
        Ok(name) => format!("There is no health check named \"{name}\"."),
        Err(_) => "There is no health check with that name.".to_owned(),
    };
    Page::with_status(
        MessagePage {
            shell: shell.at(Section::Health),
            title: "No such check".to_owned(),
            message,
        },
        StatusCode::NOT_FOUND,
    )
    .into_response()
}

/// The check's detail, or the page that says there is no such check.
async fn detail_of(
    state: &AppState,
    caller: &Caller,
    shell: &Shell,
    name: &str,
) -> Result<Result<CheckDetail, Response>, ApiError> {
    match health::get_check(state, caller, name).await {
        Ok(detail) => Ok(Ok(detail)),
        Err(err) if err.code() == "not_found" => Ok(Err(unknown_check(shell.clone(), name))),
        Err(err) => Err(err),
    }
}

#[derive(Debug, Deserialize)]
pub struct CheckQuery {
    ran: Option<String>,
}

/// `GET /health/{name}`.
pub async fn show_check(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<CheckQuery>,
) -> Result<Response, ApiError> {
    let detail = match detail_of(&state, &caller, &shell, &name).await? {
        Ok(detail) => detail,
        Err(page) => return Ok(page),
    };
    let mut page = check_page(shell, detail, state.clock().now());
    if query.ran.is_some() {
        page.notice = Some("The check ran just now; this is its latest result.");
    }
    Ok(Page::new(page).into_response())
}

/// `POST /health/{name}/run`: operators only (the route table refuses others). The same
/// action as `POST /ops/health/checks/{name}/run`: one audit trail, whichever way the
/// operator asked.
pub async fn run_check_now(
    State(state): State<AppState>,
    shell: Shell,
    Path(name): Path<String>,
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    let reason = match reason.parsed {
        Ok(reason) => reason,
        Err(_) => {
            let detail = match detail_of(&state, &caller, &shell, &name).await? {
                Ok(detail) => detail,
                Err(page) => return Ok(page),
            };
            let mut page = check_page(shell, detail, state.clock().now());
            page.error = Some(
                "Say why you run the check (1–500 characters): the reason goes to the audit log."
                    .to_owned(),
            );
            page.reason = reason.typed;
            return Ok(Page::with_status(page, StatusCode::BAD_REQUEST).into_response());
        }
    };
    match health::run_check(&state, state.ops().act(&caller, &reason), &name).await {
        Ok(view) => Ok(Redirect::to(&format!("/health/{}?ran=1", view.name)).into_response()),
        Err(err) if err.code() == "not_found" => Ok(unknown_check(shell, &name)),
        Err(err) => Err(err),
    }
}
