//! The admins' monitor form: `GET|POST /cron/+new` creates a monitor, `GET|POST
//! /cron/{slug}/edit` changes one. The page is `cron_monitor_form.html`; reading the form
//! into a definition is [`super::form`]'s, and creating or changing the monitor, with its
//! permission and audit entry, is [`crate::ops::cron`]'s, as for `POST /ops/cron` and
//! `PATCH /ops/cron/{slug}`. A refused form comes back with each problem next to its field
//! and everything as typed; a saved one redirects to the monitor's page.
//!
//! `+new` rather than `new`: `new` is a valid slug, and `/cron/new` would hide that
//! monitor's page behind the form.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use opsdeck_core::ids::Slug;

use super::form::{FormErrors, Kept, MonitorFields, checked, defined_in};
use super::unknown_monitor;
use crate::error::ApiError;
use crate::extract::Path;
use crate::guard::GuardedForm;
use crate::ops::Caller;
use crate::ops::cron::{self, MonitorView};
use crate::state::AppState;
use crate::web::Page;
use crate::web::shell::{Section, Shell};

/// Where the form for a new monitor is, and where it posts.
pub const NEW_MONITOR: &str = "/cron/+new";

#[derive(Template)]
#[template(path = "cron_monitor_form.html")]
struct FormPage {
    shell: Shell,
    /// The monitor's name and page for an edit; `None` for a new monitor.
    monitor: Option<(String, String)>,
    /// Where the form posts.
    action: String,
    fields: MonitorFields,
    errors: FormErrors,
    reason: String,
    /// The configuration section of a monitor opsdeck sets back to the file at each start.
    defined_in: Option<&'static str>,
    /// What an edit keeps that the form does not show, in words.
    kept: Vec<String>,
}

impl FormPage {
    fn new(shell: Shell, fields: MonitorFields) -> Self {
        Self {
            shell: shell.at(Section::Cron),
            monitor: None,
            action: NEW_MONITOR.to_owned(),
            fields,
            errors: FormErrors::default(),
            reason: String::new(),
            defined_in: None,
            kept: Vec::new(),
        }
    }

    /// The form of an existing monitor, filled with `fields`.
    async fn edit(
        state: &AppState,
        shell: Shell,
        caller: &Caller,
        slug: &Slug,
        fields: Option<MonitorFields>,
    ) -> Result<Result<(Self, Kept), Response>, ApiError> {
        let record = match cron::get_monitor(state, caller, slug).await {
            Ok(record) => record,
            Err(err) if err.code() == "not_found" => {
                return Ok(Err(unknown_monitor(shell, slug.as_str())));
            }
            Err(err) => return Err(err),
        };
        let view = MonitorView::new(&record, state.clock().now());
        let kept = Kept::of(&record.spec);
        let href = format!("/cron/{slug}");
        let page = Self {
            action: format!("{href}/edit"),
            monitor: Some((view.name.clone(), href)),
            defined_in: defined_in(state, &record),
            kept: kept.described(),
            fields: fields.unwrap_or_else(|| MonitorFields::of(&view)),
            ..Self::new(shell, MonitorFields::default())
        };
        Ok(Ok((page, kept)))
    }

    fn refused(mut self, errors: FormErrors, reason: String, status: StatusCode) -> Response {
        self.errors = errors;
        self.reason = reason;
        Page::with_status(self, status).into_response()
    }
}

/// `GET /cron/+new`: admins only (the route table refuses others).
pub async fn show_new_monitor(shell: Shell) -> Page<impl Template> {
    Page::new(FormPage::new(shell, MonitorFields::blank()))
}

/// `POST /cron/+new`.
pub async fn create_monitor(
    State(state): State<AppState>,
    shell: Shell,
    GuardedForm {
        caller,
        reason,
        form,
    }: GuardedForm<MonitorFields>,
) -> Result<Response, ApiError> {
    let mut errors = FormErrors::default();
    let spec = form.to_spec(Kept::default()).map_err(|p| errors.extend(p));
    let parsed = checked(reason.parsed, &mut errors);
    let page = FormPage::new(shell, form);
    let (Ok(spec), Some(parsed)) = (spec, parsed) else {
        return Ok(page.refused(errors, reason.typed, StatusCode::BAD_REQUEST));
    };
    let act = state.ops().act(&caller, &parsed);
    match cron::create_monitor(&state, act, &spec).await {
        Ok(view) => Ok(Redirect::to(&format!("/cron/{}?done=created", view.slug)).into_response()),
        Err(err) if err.status() == StatusCode::CONFLICT => {
            errors.add("slug", format!("{}: pick another slug", err.message()));
            Ok(page.refused(errors, reason.typed, StatusCode::CONFLICT))
        }
        Err(err) => Err(err),
    }
}

/// `GET /cron/{slug}/edit`: the form filled with the monitor's definition.
pub async fn show_edit_monitor(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let Ok(slug) = Slug::parse(&slug) else {
        return Ok(unknown_monitor(shell, &slug));
    };
    Ok(
        match FormPage::edit(&state, shell, &caller, &slug, None).await? {
            Ok((page, _)) => Page::new(page).into_response(),
            Err(not_found) => not_found,
        },
    )
}

/// `POST /cron/{slug}/edit`. The slug is the path's: a monitor's slug cannot change.
pub async fn update_monitor(
    State(state): State<AppState>,
    shell: Shell,
    Path(slug): Path<String>,
    GuardedForm {
        caller,
        reason,
        mut form,
    }: GuardedForm<MonitorFields>,
) -> Result<Response, ApiError> {
    let Ok(slug) = Slug::parse(&slug) else {
        return Ok(unknown_monitor(shell, &slug));
    };
    form.slug = slug.to_string();
    let (page, kept) =
        match FormPage::edit(&state, shell.clone(), &caller, &slug, Some(form.clone())).await? {
            Ok(found) => found,
            Err(not_found) => return Ok(not_found),
        };
    let mut errors = FormErrors::default();
    let spec = form.to_spec(kept).map_err(|p| errors.extend(p));
    let parsed = checked(reason.parsed, &mut errors);
    let (Ok(spec), Some(parsed)) = (spec, parsed) else {
        return Ok(page.refused(errors, reason.typed, StatusCode::BAD_REQUEST));
    };
    let act = state.ops().act(&caller, &parsed);
    match cron::update_monitor(&state, act, &spec).await {
        Ok(_) => Ok(Redirect::to(&format!("/cron/{slug}?done=updated")).into_response()),
        // Deleted since the form was opened.
        Err(err) if err.code() == "not_found" => Ok(unknown_monitor(shell, slug.as_str())),
        Err(err) => Err(err),
    }
}
