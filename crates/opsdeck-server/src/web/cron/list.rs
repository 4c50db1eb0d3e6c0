//! `GET /cron`: every monitor with its status, schedule, last run, next expected run,
//! failure streak and tags, the failing ones with their error snippet. Filtered by status
//! and tag through the query string (a plain GET form, so it works without script). One
//! query: the counts per status and the tags offered are read from the same list.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use opsdeck_core::cron::{MonitorFilter, MonitorStatus};
use opsdeck_core::ids::Slug;
use serde::Deserialize;

use super::{MonitorRow, monitor_class};
use crate::error::ApiError;
use crate::extract::Query;
use crate::ops::Caller;
use crate::ops::cron::{self, MonitorView};
use crate::state::AppState;
use crate::web::Page;
use crate::web::format;
use crate::web::shell::{Section, Shell};

/// The statuses in the order people triage them: what is broken first.
pub const TRIAGE_ORDER: [MonitorStatus; 6] = [
    MonitorStatus::Down,
    MonitorStatus::Late,
    MonitorStatus::Running,
    MonitorStatus::Up,
    MonitorStatus::Paused,
    MonitorStatus::New,
];

/// The filter form as submitted; an empty field means "any".
#[derive(Debug, Default, Deserialize)]
pub struct ListForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    tag: String,
    /// The slug of a monitor just deleted from its page, for the notice.
    #[serde(default)]
    deleted: String,
}

impl ListForm {
    /// The monitor just deleted, if the query names one.
    fn deleted(&self) -> Option<&str> {
        Slug::parse(&self.deleted)
            .ok()
            .map(|_| self.deleted.as_str())
    }
}

/// How many monitors have one status, with the link that lists them.
#[derive(Debug, Clone)]
pub struct StatusCount {
    pub word: &'static str,
    pub class: &'static str,
    pub count: usize,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "cron.html")]
struct ListPage {
    shell: Shell,
    form: ListForm,
    counts: Vec<StatusCount>,
    tags: Vec<String>,
    total: usize,
    rows: Vec<MonitorRow>,
    error: Option<String>,
    at: String,
}

fn status_link(status: MonitorStatus, tag: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("status", status.as_str());
    if !tag.is_empty() {
        query.append_pair("tag", tag);
    }
    format!("/cron?{}", query.finish())
}

/// `GET /cron`.
pub async fn show_monitors(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Query(form): Query<ListForm>,
) -> Result<Page<impl Template>, ApiError> {
    let now = state.clock().now();
    let wanted = match form.status.trim() {
        "" => Ok(None),
        text => text.parse::<MonitorStatus>().map(Some).map_err(|_| {
            "Status: choose one of new, up, running, late, down or paused.".to_owned()
        }),
    };
    let tag = form.tag.trim().to_owned();
    // Every monitor, once: the status shown is derived now (as the API filters), and the
    // tag menu offers every tag in use, not only those of the monitors listed.
    let views = cron::list_monitors(&state, &caller, &MonitorFilter::default(), None).await?;
    let mut tags: Vec<String> = views.iter().flat_map(|v| v.tags.clone()).collect();
    tags.sort();
    tags.dedup();
    let tagged: Vec<&MonitorView> = views
        .iter()
        .filter(|v| tag.is_empty() || v.tags.contains(&tag))
        .collect();
    let wanted_status = wanted.as_ref().ok().copied().flatten();
    let counts = TRIAGE_ORDER
        .into_iter()
        .map(|status| StatusCount {
            word: status.as_str(),
            class: monitor_class(status.as_str()),
            count: tagged
                .iter()
                .filter(|v| v.status == status.as_str())
                .count(),
            href: status_link(status, &tag),
            current: wanted_status == Some(status),
        })
        .collect();
    let mut rows: Vec<MonitorRow> = tagged
        .iter()
        .filter(|v| wanted_status.is_none_or(|w| v.status == w.as_str()))
        .map(|v| MonitorRow::new(v, now))
        .collect();
    // Broken first, then by name: the list is read top-down during an incident.
    let rank = |status: &str| {
        TRIAGE_ORDER
            .iter()
            .position(|s| s.as_str() == status)
            .unwrap_or(TRIAGE_ORDER.len())
    };
    rows.sort_by(|a, b| {
        rank(&a.status)
            .cmp(&rank(&b.status))
            .then_with(|| a.name.cmp(&b.name))
    });
    let error = wanted.err();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        shell: shell.at(Section::Cron),
        total: views.len(),
        form,
        counts,
        tags,
        rows,
        error,
        at: format::time(now),
    };
    Ok(Page::with_status(page, status))
}
