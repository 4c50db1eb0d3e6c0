//! `GET /cron/{slug}`: one monitor — its settings, status and since when, a duration chart
//! of its recent runs, the run table a page at a time ("older runs", the store's cursor),
//! the log excerpt of one run (`?run=<id>`, else the latest), and for operators the pause,
//! resume and trigger forms (handled in `actions`).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use opsdeck_core::auth::Permission;
use opsdeck_core::cron::{MonitorRecord, Run, RunCursor};
use opsdeck_core::ids::Slug;
use serde::Deserialize;
use uuid::Uuid;

use super::chart::{DurationChart, duration_chart};
use super::runs::{LogPanel, RunRow, log_panel, run_row};
use super::{MonitorRow, span, unknown_monitor};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::ops::Caller;
use crate::ops::cron::{self, MonitorView};
use crate::state::AppState;
use crate::web::Page;
use crate::web::format;
use crate::web::shell::{Section, Shell};

/// Runs per page of the table.
pub const RUNS_PER_PAGE: u32 = 25;
/// Runs in the duration chart: the latest, whichever page of the table is shown.
const CHART_RUNS: u32 = 60;

/// The query of the page; every field is text so a bad value becomes a note, not an error
/// page.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct DetailQuery {
    /// The `older runs` cursor of the previous page.
    #[serde(default)]
    pub cursor: String,
    /// The run whose log excerpt is shown.
    #[serde(default)]
    pub run: String,
    /// The action just done (`paused`, `resumed`, `triggered`, `created`, `updated`), for
    /// the notice.
    #[serde(default)]
    pub done: String,
}

#[derive(Debug, Template)]
#[template(path = "cron_monitor.html")]
pub struct MonitorPage {
    shell: Shell,
    monitor: MonitorRow,
    settings: Vec<(&'static str, String)>,
    /// The tenant the monitor is for, or empty.
    tenant: String,
    last_success: String,
    chart: Option<DurationChart>,
    runs: Vec<RunRow>,
    older: Option<String>,
    first_page: bool,
    log: LogPanel,
    paused: bool,
    may_operate: bool,
    may_trigger: bool,
    notice: Option<&'static str>,
    /// A refused action's message, shown above its form.
    pub error: Option<String>,
    /// The reason typed into a refused form, given back.
    pub reason: String,
}

fn settings(
    record: &MonitorRecord,
    view: &MonitorView,
    row: &MonitorRow,
) -> Vec<(&'static str, String)> {
    let spec = &record.spec;
    let mut schedule = row.schedule.clone();
    if let Some(expr) = row.expr.as_ref().filter(|e| **e != row.schedule) {
        schedule.push_str(&format!(" ({expr})"));
    }
    schedule.push_str(&format!(
        ", time zone {}",
        view.tz.as_deref().unwrap_or("UTC")
    ));
    let mut list = vec![
        ("Slug", view.slug.clone()),
        ("Schedule", schedule),
        ("Grace", span(spec.grace())),
        (
            "Max runtime",
            spec.settings()
                .max_runtime
                .map_or_else(|| "none".to_owned(), span),
        ),
        (
            "Min runtime",
            spec.settings()
                .min_runtime
                .map_or_else(|| "none".to_owned(), span),
        ),
        (
            "Down after",
            format!("{} failed runs in a row", view.failure_threshold),
        ),
        (
            "Up again after",
            format!("{} successful runs in a row", view.recovery_threshold),
        ),
    ];
    let windows: Vec<String> = spec
        .settings()
        .maintenance
        .iter()
        .map(|w| {
            format!(
                "{} for {} ({})",
                w.opens().expr(),
                span(w.duration()),
                w.opens().tz().name()
            )
        })
        .collect();
    if !windows.is_empty() {
        list.push(("Maintenance windows", windows.join("; ")));
    }
    if !view.tags.is_empty() {
        list.push(("Tags", view.tags.join(", ")));
    }
    list.push(("Defined by", view.source.clone()));
    list.push(("Created", format::time(view.created_at)));
    list.push(("Ping URL", format!("/ping/<ingest key>/{}", view.slug)));
    list
}

/// Whether `slug` is one of the HTTP jobs opsdeck fires itself (`[[cron.jobs]]`).
pub fn is_job(state: &AppState, slug: &Slug) -> bool {
    state
        .config()
        .cron
        .jobs
        .iter()
        .any(|job| job.monitor.slug == slug.as_str())
}

/// The page of `slug`, or `None` when there is no such monitor.
pub async fn monitor_page(
    state: &AppState,
    shell: Shell,
    caller: &Caller,
    slug: &Slug,
    query: &DetailQuery,
) -> Result<Option<MonitorPage>, ApiError> {
    let record = match cron::get_monitor(state, caller, slug).await {
        Ok(record) => record,
        Err(err) if err.code() == "not_found" => return Ok(None),
        Err(err) => return Err(err),
    };
    let now = state.clock().now();
    let view = MonitorView::new(&record, now);
    let row = MonitorRow::new(&view, now);
    // A cursor that is not one of ours shows the newest page rather than an error page.
    let cursor = query.cursor.trim().parse::<RunCursor>().ok();
    let (recent, page) = tokio::try_join!(
        cron::list_runs(state, caller, slug, None, CHART_RUNS),
        cron::list_runs(state, caller, slug, cursor.as_ref(), RUNS_PER_PAGE),
    )?;
    let listed: Vec<&Run> = recent.runs.iter().chain(page.runs.iter()).collect();
    let log = log_panel(
        state,
        caller,
        slug,
        &query.run,
        recent.runs.first(),
        &listed,
    )
    .await?;
    let selected = match query.run.trim() {
        "" => recent.runs.first().map(|r| r.run_id),
        text => Uuid::parse_str(text).ok(),
    };
    let cursor_text = cursor.map(|c| c.to_string()).unwrap_or_default();
    let runs = page
        .runs
        .iter()
        .map(|run| run_row(run, &row.href, &cursor_text, selected))
        .collect();
    let may_operate = shell.may(Permission::OperateOps);
    Ok(Some(MonitorPage {
        settings: settings(&record, &view, &row),
        tenant: view.tenant_id.clone().unwrap_or_default(),
        last_success: view.last_success_at.map_or_else(
            || "never".to_owned(),
            |at| format!("{} ago", format::ago(at, now)),
        ),
        chart: duration_chart(&recent.runs),
        runs,
        older: page
            .next
            .map(|next| format!("{}?cursor={next}#runs", row.href)),
        first_page: cursor.is_none(),
        log,
        paused: view.paused,
        may_trigger: may_operate && is_job(state, slug),
        may_operate,
        notice: match query.done.as_str() {
            "paused" => {
                Some("Paused: runs are still recorded, but nothing is expected or alerted.")
            }
            "resumed" => Some("Resumed: the next run is expected on schedule."),
            "triggered" => Some("Triggered: the job was fired now; its run is listed below."),
            "created" => Some(
                "Created: point the job at its ping URL; runs are expected on schedule from \
                 its first ping.",
            ),
            "updated" => Some("Saved: the new definition applies from now on."),
            _ => None,
        },
        error: None,
        reason: String::new(),
        shell: shell.at(Section::Cron),
        monitor: row,
    }))
}

/// `GET /cron/{slug}`.
pub async fn show_monitor(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path(slug): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, ApiError> {
    let Ok(parsed) = Slug::parse(&slug) else {
        return Ok(unknown_monitor(shell, &slug));
    };
    match monitor_page(&state, shell.clone(), &caller, &parsed, &query).await? {
        Some(page) => Ok(Page::new(page).into_response()),
        None => Ok(unknown_monitor(shell, &slug)),
    }
}
