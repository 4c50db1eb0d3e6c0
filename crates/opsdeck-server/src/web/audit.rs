//! `GET /audit` (admin): the audit log as a table, filtered by actor, action and time, newest
//! first, one page at a time (a cursor on the sequence number, as `GET /ops/audit`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use opsdeck_core::audit::{AuditEntry, AuditFilter};
use serde::Deserialize;

use super::Page;
use super::format;
use super::shell::{Section, Shell};
use crate::error::ApiError;
use crate::extract::Query;
use crate::ops::{Caller, audit};
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;

/// The filter form as submitted: an empty field means "any", so every field is text here
/// and parsed below, where a bad value can be shown next to the form.
#[derive(Debug, Default, Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    before: String,
}

struct Row {
    seq: i64,
    at: String,
    actor: String,
    actor_id: String,
    method: String,
    action: String,
    target: String,
    tenant: String,
    outcome: u16,
    denied: bool,
    client: String,
    reason: String,
    request_id: String,
}

impl From<AuditEntry> for Row {
    fn from(entry: AuditEntry) -> Self {
        let r = entry.record;
        Self {
            seq: entry.seq,
            at: format::time(r.at),
            actor: r
                .actor
                .as_ref()
                .map_or_else(|| "anonymous".to_owned(), |a| a.name.clone()),
            actor_id: r.actor.as_ref().map(|a| a.id.clone()).unwrap_or_default(),
            method: r.actor.map(|a| a.method).unwrap_or_default(),
            action: r.action,
            target: r
                .target
                .map(|t| format!("{}:{}", t.kind, t.id))
                .unwrap_or_default(),
            tenant: r.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
            outcome: r.outcome,
            denied: r.outcome >= 400,
            client: r.client_addr.unwrap_or_default(),
            reason: r.reason.unwrap_or_default(),
            request_id: r.request_id.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    shell: Shell,
    form: AuditForm,
    error: Option<String>,
    rows: Vec<Row>,
    /// The link to the next, older, page; `None` on the last one.
    older: Option<String>,
    first_page: bool,
}

/// A time from the form: `datetime-local` sends `2025-01-31T14:05` (read as UTC, as the
/// page shows every time in UTC); RFC 3339 is accepted too.
fn parse_time(field: &str, text: &str) -> Result<Option<DateTime<Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|layout| NaiveDateTime::parse_from_str(text, layout).ok())
        .map(|naive| Some(naive.and_utc()))
        .ok_or_else(|| format!("`{field}`: expected a time like 2025-01-31T14:05 (UTC)"))
}

fn filter_of(form: &AuditForm) -> Result<AuditFilter, String> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let before = match form.before.trim() {
        "" => None,
        seq => Some(
            seq.parse::<i64>()
                .map_err(|_| "`before`: expected an entry number".to_owned())?,
        ),
    };
    Ok(AuditFilter {
        actor: text(&form.actor),
        action: text(&form.action),
        since: parse_time("since", &form.since)?,
        until: parse_time("until", &form.until)?,
        before_seq: before,
        limit: PAGE_SIZE,
        ..AuditFilter::default()
    })
}

/// The same filter, one page further back.
fn older_link(form: &AuditForm, last_seq: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("actor", &form.actor),
        ("action", &form.action),
        ("since", &form.since),
        ("until", &form.until),
    ] {
        if !value.trim().is_empty() {
            query.append_pair(name, value.trim());
        }
    }
    query.append_pair("before", &last_seq.to_string());
    format!("/audit?{}", query.finish())
}

/// `GET /audit`.
pub async fn show_audit(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Query(form): Query<AuditForm>,
) -> Result<Page<impl Template>, ApiError> {
    let shell = shell.at(Section::Audit);
    let filter = match filter_of(&form) {
        Ok(filter) => filter,
        Err(error) => {
            let page = AuditPage {
                shell,
                form,
                error: Some(error),
                rows: Vec::new(),
                older: None,
                first_page: true,
            };
            return Ok(Page::with_status(page, StatusCode::BAD_REQUEST));
        }
    };
    let entries = audit::list_entries(&state, &caller, &filter).await?;
    let older = (entries.len() == PAGE_SIZE as usize)
        .then(|| entries.last().map(|e| older_link(&form, e.seq)))
        .flatten();
    Ok(Page::new(AuditPage {
        first_page: filter.before_seq.is_none(),
        shell,
        form,
        error: None,
        rows: entries.into_iter().map(Row::from).collect(),
        older,
    }))
}
