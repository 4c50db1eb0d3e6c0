//! Tenants (SPEC §6, §7): `GET /tenants` finds a tenant, `GET /tenants/{id}` shows what is
//! wrong for it — each section of [`crate::ops::tenants`] in its own card, so one that
//! failed or timed out says so where it stands and the others are shown as usual. The
//! application database's queries are not waited for: each card loads on its own from
//! `GET /tenants/{id}/queries/{name}` (the script fills it in; without the script, a link).

use askama::Template;
use axum::extract::State;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::ops::Caller;
use crate::ops::tenants::{self, Queries, QueryAnswer, Section, TenantAuditLine, TenantFacts};
use crate::state::AppState;
use crate::web::Page;
use crate::web::cron::MonitorRow;
use crate::web::format;
use crate::web::queues::detail::JobRow;
use crate::web::queues::segment;
use crate::web::shell::{self, Shell};

/// A tenant found, as the search lists it.
#[derive(Debug)]
pub struct TenantLink {
    pub id: String,
    pub href: String,
    pub seen_in: String,
    /// The directory's name, plan and status, where it was found there.
    pub name: String,
    pub plan: String,
    pub status: String,
}

#[derive(Debug, Template)]
#[template(path = "tenants.html")]
pub struct TenantsPage {
    shell: Shell,
    q: String,
    tenants: Vec<TenantLink>,
    next: Option<String>,
    /// The application's directory was searched (its name, plan and status are shown).
    directory: bool,
    truncated: bool,
}

#[derive(Debug, Deserialize)]
pub struct SearchForm {
    q: Option<String>,
    after: Option<String>,
}

/// The page of a tenant: `/tenants/{id}`, its id percent-encoded.
pub fn tenant_href(id: &str) -> String {
    format!("/tenants/{}", segment(id))
}

/// The card of one of a tenant's application queries, on its own.
pub fn query_href(tenant: &str, name: &str) -> String {
    format!("{}/queries/{}", tenant_href(tenant), segment(name))
}

/// `GET /tenants?q=`.
pub async fn show_tenants(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Query(form): Query<SearchForm>,
) -> Result<Page<TenantsPage>, ApiError> {
    let list = tenants::search_tenants(
        &state,
        &caller,
        form.q.as_deref(),
        form.after.as_deref(),
        tenants::SEARCH_MAX,
    )
    .await?;
    let q = form.q.unwrap_or_default();
    let next = list
        .next
        .map(|after| format!("/tenants?q={}&after={}", segment(q.trim()), segment(&after)));
    Ok(Page::new(TenantsPage {
        shell: shell.at(shell::Section::Tenants),
        directory: list.source == "directory",
        truncated: list.truncated && list.source == "directory",
        tenants: list
            .tenants
            .into_iter()
            .map(|hit| {
                let facts = hit.facts.unwrap_or(TenantFacts {
                    name: None,
                    plan: None,
                    status: None,
                });
                TenantLink {
                    href: tenant_href(&hit.id),
                    seen_in: hit.seen_in.join(", "),
                    id: hit.id,
                    name: facts.name.unwrap_or_default(),
                    plan: facts.plan.unwrap_or_default(),
                    status: facts.status.unwrap_or_default(),
                }
            })
            .collect(),
        q,
        next,
    }))
}

/// A section's state as a card shows it.
#[derive(Debug)]
pub struct SectionNote {
    /// ok, error, timeout or unavailable.
    pub status: &'static str,
    pub message: Option<String>,
    pub elapsed: String,
}

impl SectionNote {
    fn of<T>(section: &Section<T>) -> Self {
        Self {
            status: section.status,
            message: section.error.clone(),
            elapsed: format::latency_ms(section.elapsed_ms as f64),
        }
    }
}

#[derive(Debug)]
pub struct AuditLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub outcome: u16,
    pub reason: String,
}

impl AuditLine {
    fn new(line: &TenantAuditLine) -> Self {
        Self {
            at: format::time(line.at),
            actor: line.actor.clone().unwrap_or_default(),
            action: line.action.clone(),
            outcome: line.outcome,
            reason: line.reason.clone().unwrap_or_default(),
        }
    }
}

/// One `[[tenants.queries]]` answer as a card shows it: a profile as label and value pairs,
/// a table as rows.
#[derive(Debug)]
pub struct QueryCard {
    pub name: String,
    pub profile: bool,
    /// ok, or the error's code.
    pub status: &'static str,
    pub error: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub truncated: bool,
    /// Where the card loads from on its own (`/tenants/{id}/queries/{name}`).
    pub href: String,
}

/// A value of the application's database as text: `—` for null.
fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "—".to_owned(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl QueryCard {
    fn new(tenant: &str, answer: &QueryAnswer) -> Self {
        Self {
            href: query_href(tenant, &answer.name),
            name: answer.name.clone(),
            profile: answer.kind == "profile",
            status: answer.status,
            error: answer.error.clone(),
            columns: answer.columns.clone().unwrap_or_default(),
            rows: answer
                .rows
                .iter()
                .flatten()
                .map(|row| row.iter().map(cell).collect())
                .collect(),
            truncated: answer.truncated,
        }
    }

    /// A profile's label and value pairs (its first row).
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        let Some(row) = self.rows.first() else {
            return Vec::new();
        };
        self.columns
            .iter()
            .zip(row)
            .map(|(c, v)| (c.as_str(), v.as_str()))
            .collect()
    }
}

/// One usage counter over the three windows.
#[derive(Debug)]
pub struct UsageRow {
    pub name: String,
    pub day: String,
    pub week: String,
    pub month: String,
}

/// A value of a usage counter: whole numbers without a fraction.
fn amount(value: Option<f64>) -> String {
    match value {
        None => "0".to_owned(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v:.2}"),
    }
}

fn usage_rows(usage: &tenants::TenantUsage) -> Vec<UsageRow> {
    let value = |list: &[opsdeck_core::events::UsageTotal], name: &str| {
        list.iter().find(|u| u.name == name).map(|u| u.value)
    };
    // The 30-day window holds every counter the shorter ones do.
    let mut names: Vec<&str> = usage
        .last_30d
        .iter()
        .chain(&usage.last_7d)
        .chain(&usage.last_24h)
        .map(|u| u.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| UsageRow {
            name: name.to_owned(),
            day: amount(value(&usage.last_24h, name)),
            week: amount(value(&usage.last_7d, name)),
            month: amount(value(&usage.last_30d, name)),
        })
        .collect()
}

/// An error group as a row.
#[derive(Debug)]
pub struct ErrorRow {
    pub message: String,
    pub route: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub last_ago: String,
    pub stack: String,
}

/// An application audit highlight as a row.
#[derive(Debug)]
pub struct HighlightRow {
    pub at: String,
    pub category: &'static str,
    pub action: String,
    pub actor: String,
    pub target: String,
}

#[derive(Debug, Template)]
#[template(path = "tenant.html")]
pub struct TenantPage {
    shell: Shell,
    id: String,
    at: String,
    facts_note: SectionNote,
    facts: Option<TenantFacts>,
    queries_note: SectionNote,
    queries: Vec<QueryCard>,
    usage_note: SectionNote,
    usage: Vec<UsageRow>,
    errors_note: SectionNote,
    errors: Vec<ErrorRow>,
    highlights_note: SectionNote,
    highlights: Vec<HighlightRow>,
    /// Hours with a burst of failed logins: when, and how many.
    bursts: Vec<(String, u64)>,
    impersonations_note: SectionNote,
    impersonations: usize,
    impersonations_href: String,
    monitors_note: SectionNote,
    monitors: Vec<MonitorRow>,
    failing_monitors: usize,
    more_monitors: bool,
    jobs_note: SectionNote,
    /// Each job with its source.
    jobs: Vec<(String, JobRow)>,
    queues_searched: usize,
    jobs_partial: bool,
    job_gaps: Vec<String>,
    audit_note: SectionNote,
    audit: Vec<AuditLine>,
}

/// `GET /tenants/{id}`.
pub async fn show_tenant(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Page<TenantPage>, ApiError> {
    // The application's queries are loaded by the page one by one (`show_tenant_query`):
    // the slowest of them never holds back the rest of the page.
    let summary = tenants::tenant_summary(&state, &caller, &id, Queries::Defer).await?;
    let now = summary.at;
    let monitors = summary.monitors.data.as_ref();
    let jobs = summary.jobs.data.as_ref();
    Ok(Page::new(TenantPage {
        shell: shell.at(shell::Section::Tenants),
        at: format::time(now),
        facts_note: SectionNote::of(&summary.directory),
        facts: summary.directory.data.clone(),
        queries_note: SectionNote::of(&summary.queries),
        queries: summary
            .queries
            .data
            .iter()
            .flatten()
            .map(|answer| QueryCard::new(&summary.tenant_id, answer))
            .collect(),
        usage_note: SectionNote::of(&summary.usage),
        usage: summary
            .usage
            .data
            .as_ref()
            .map(usage_rows)
            .unwrap_or_default(),
        errors_note: SectionNote::of(&summary.errors),
        errors: summary
            .errors
            .data
            .iter()
            .flatten()
            .map(|group| ErrorRow {
                message: group.message.clone(),
                route: group.route.clone().unwrap_or_default(),
                count: group.count,
                first_seen: format::time(group.first_seen),
                last_seen: format::time(group.last_seen),
                last_ago: format::ago(group.last_seen, now),
                stack: group.stack_head.clone().unwrap_or_default(),
            })
            .collect(),
        highlights_note: SectionNote::of(&summary.audit_highlights),
        highlights: summary
            .audit_highlights
            .data
            .iter()
            .flat_map(|h| &h.events)
            .map(|event| HighlightRow {
                at: format::time(event.at),
                category: event.category.as_str(),
                action: event.action.clone(),
                actor: event.actor.clone().unwrap_or_default(),
                target: event.target.clone().unwrap_or_default(),
            })
            .collect(),
        bursts: summary
            .audit_highlights
            .data
            .iter()
            .flat_map(|h| &h.failed_login_bursts)
            .map(|burst| (format::time(burst.hour), burst.count))
            .collect(),
        impersonations_note: SectionNote::of(&summary.impersonations),
        impersonations: summary.impersonations.data.as_ref().map_or(0, Vec::len),
        impersonations_href: crate::web::impersonation::impersonations_href(&summary.tenant_id),
        monitors_note: SectionNote::of(&summary.monitors),
        monitors: monitors
            .map(|m| m.monitors.iter().map(|v| MonitorRow::new(v, now)).collect())
            .unwrap_or_default(),
        failing_monitors: monitors.map_or(0, |m| m.failing),
        more_monitors: monitors.is_some_and(|m| m.more),
        jobs_note: SectionNote::of(&summary.jobs),
        jobs: jobs
            .map(|j| {
                j.jobs
                    .iter()
                    .map(|job| (job.source.clone(), JobRow::new(&job.source, &job.job, now)))
                    .collect()
            })
            .unwrap_or_default(),
        queues_searched: jobs.map_or(0, |j| j.queues),
        jobs_partial: jobs.is_some_and(|j| j.partial),
        job_gaps: jobs
            .map(|j| {
                j.gaps
                    .iter()
                    .map(|gap| match &gap.queue {
                        Some(queue) => format!("{} / {queue}: {}", gap.source, gap.error),
                        None => format!("{}: {}", gap.source, gap.error),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        audit_note: SectionNote::of(&summary.opsdeck_audit),
        audit: summary
            .opsdeck_audit
            .data
            .as_ref()
            .map(|lines| lines.iter().map(AuditLine::new).collect())
            .unwrap_or_default(),
        id: summary.tenant_id,
    }))
}

#[derive(Debug, Template)]
#[template(path = "tenant_query.html")]
pub struct TenantQueryPage {
    shell: Shell,
    id: String,
    tenant_href: String,
    at: String,
    elapsed: String,
    q: QueryCard,
}

/// `GET /tenants/{id}/queries/{name}`: one application query's card, on a page of its own;
/// the tenant page's script puts the card in its place.
pub async fn show_tenant_query(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> Result<Page<TenantQueryPage>, ApiError> {
    let answer = tenants::tenant_query(&state, &caller, &id, &name).await?;
    Ok(Page::new(TenantQueryPage {
        shell: shell.at(shell::Section::Tenants),
        tenant_href: tenant_href(&id),
        at: format::time(state.clock().now()),
        elapsed: format::latency_ms(answer.elapsed_ms as f64),
        q: QueryCard::new(&id, &answer),
        id,
    }))
}
