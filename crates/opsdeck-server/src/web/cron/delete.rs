//! Deleting a monitor from the dashboard (admins): `GET /cron/{slug}/delete` is the
//! confirmation step — what goes with the monitor, a reason — and `POST /cron/{slug}/delete`
//! deletes it through [`crate::ops::cron::delete_monitor`], the action (permission, audit
//! entry) of `DELETE /ops/cron/{slug}`, then goes back to the list with a notice.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use opsdeck_core::ids::Slug;

use super::form::{FormErrors, checked, defined_in};
use super::{MonitorRow, unknown_monitor};
use crate::error::ApiError;
use crate::extract::Path;
use crate::guard::{GuardedForm, NoFields};
use crate::ops::Caller;
use crate::ops::cron::{self, MonitorView};
use crate::state::AppState;
use crate::web::Page;
use crate::web::shell::{Section, Shell};

#[derive(Template)]
#[template(path = "cron_monitor_delete.html")]
struct DeletePage {
    shell: Shell,
    monitor: MonitorRow,
    /// The configuration section of a monitor opsdeck would create again at the next start.
    defined_in: Option<&'static str>,
    errors: FormErrors,
    reason: String,
}

/// The confirmation page of `slug`, or the page that says there is no such monitor.
async fn delete_page(
    state: &AppState,
    shell: Shell,
    caller: &Caller,
    slug: &Slug,
) -> Result<Result<DeletePage, Response>, ApiError> {
    let record = match cron::get_monitor(state, caller, slug).await {
        Ok(record) => record,
        Err(err) if err.code() == "not_found" => {
            return Ok(Err(unknown_monitor(shell, slug.as_str())));
        }
        Err(err) => return Err(err),
    };
    let now = state.clock().now();
    Ok(Ok(DeletePage {
        shell: shell.at(Section::Cron),
        monitor: MonitorRow::new(&MonitorView::new(&record, now), now),
        defined_in: defined_in(state, &record),
        errors: FormErrors::default(),
        reason: String::new(),
    }))
}

/// `GET /cron/{slug}/delete`: admins only (the route table refuses others).
pub async fn show_delete_monitor(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let Ok(slug) = Slug::parse(&slug) else {
        return Ok(unknown_monitor(shell, &slug));
    };
    Ok(match delete_page(&state, shell, &caller, &slug).await? {
        Ok(page) => Page::new(page).into_response(),
        Err(not_found) => not_found,
    })
}

/// `POST /cron/{slug}/delete`.
pub async fn delete_monitor(
    State(state): State<AppState>,
    shell: Shell,
    Path(slug): Path<String>,
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    let Ok(slug) = Slug::parse(&slug) else {
        return Ok(unknown_monitor(shell, &slug));
    };
    let mut errors = FormErrors::default();
    let Some(parsed) = checked(reason.parsed, &mut errors) else {
        return Ok(match delete_page(&state, shell, &caller, &slug).await? {
            Ok(mut page) => {
                page.errors = errors;
                page.reason = reason.typed;
                Page::with_status(page, StatusCode::BAD_REQUEST).into_response()
            }
            Err(not_found) => not_found,
        });
    };
    match cron::delete_monitor(&state, state.ops().act(&caller, &parsed), &slug).await {
        Ok(()) => Ok(Redirect::to(&format!("/cron?deleted={slug}")).into_response()),
        Err(err) if err.code() == "not_found" => Ok(unknown_monitor(shell, slug.as_str())),
        Err(err) => Err(err),
    }
}
