//! Tenant diagnostics (SPEC §6): finding a tenant, and one summary of what is wrong for it.
//!
//! A tenant is found in the application's own directory (`[tenants] directory`) when one is
//! configured, else among the tenants opsdeck has seen. The summary holds the directory's
//! row and each `[[tenants.queries]]` answer (read-only, each with its own timeout), then
//! what opsdeck itself knows.
//!
//! The summary is made of sections read side by side, each with its own time budget: a
//! section that fails or is slow says so in its own place (`status` `error` or `timeout`)
//! and the others still answer, so one slow source never blanks the page. The dashboard
//! goes further: it renders the page without the application database's queries and loads
//! each on its own ([`tenant_query`]), so the page is up before the slowest query answers. Support and admin
//! only ([`Permission::ReadTenants`]); the route table refuses the other roles first, and
//! every request is audited with the tenant as its target.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_connectors::queues::JobQuery;
use opsdeck_connectors::tenants::{DirectoryEntry, QueryKind, TenantError};
use opsdeck_core::audit::{AuditEntry, AuditFilter};
use opsdeck_core::auth::Permission;
use opsdeck_core::cron::{MonitorFilter, MonitorStatus};
use opsdeck_core::events::{AuditHighlight, ErrorGroup, LoginBurst, UsageTotal};
use opsdeck_core::ids::{TENANT_ID_MAX_CHARS, TenantId};
use opsdeck_core::queues::{JobFilter, JobState, JobSummary};
use serde::Serialize;
use utoipa::ToSchema;

use super::Caller;
use super::cron::MonitorView;
use super::impersonation::ImpersonationView;
use crate::error::ApiError;
use crate::state::AppState;

/// How long one section of the summary may take before it is reported as timed out.
pub const SECTION_BUDGET: Duration = Duration::from_secs(3);
/// Monitors of one tenant listed at most.
const MONITORS_MAX: u32 = 100;
/// Failed jobs read per queue, and listed at most in all.
const JOBS_PER_QUEUE: u32 = 20;
const JOBS_MAX: usize = 50;
/// opsdeck's own audit entries about the tenant listed.
const AUDIT_MAX: u32 = 20;
/// Error groups and application audit highlights listed.
const ERRORS_MAX: u32 = 20;
const HIGHLIGHTS_MAX: u32 = 20;
/// Failed logins in one hour that make a burst, and how far back bursts are looked for.
const LOGIN_BURST_THRESHOLD: u64 = 10;
const LOGIN_BURST_DAYS: i64 = 7;
/// Tenants a search answers at most.
pub const SEARCH_MAX: u32 = 100;
/// Tenants seen in events read for one search, before merging with the others.
const EVENT_TENANTS_READ: u32 = 1_000;

/// A tenant id from a path or a form; a malformed one is a 400 that says why.
pub fn tenant_of(text: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(text)
        .map_err(|e| ApiError::bad_request("invalid_field", format!("tenant id: {e}")))
}

/// One section of a summary: its data, or why it has none.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Section<T> {
    /// `ok`, `error` (see `error`), `timeout` (it took longer than its budget) or
    /// `unavailable` (nothing is configured that could answer it; `error` says what).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took to read.
    pub elapsed_ms: u64,
}

impl<T> Section<T> {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }

    /// A section nothing configured can answer, with what to configure.
    pub fn unavailable(why: impl Into<String>) -> Self {
        Self {
            status: "unavailable",
            data: None,
            error: Some(why.into()),
            elapsed_ms: 0,
        }
    }
}

/// Reads one section within `budget`: its value, its error's text, or a timeout.
pub async fn section<T>(
    budget: Duration,
    read: impl Future<Output = Result<T, ApiError>>,
) -> Section<T> {
    let started = Instant::now();
    let result = tokio::time::timeout(budget, read).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(Ok(data)) => Section {
            status: "ok",
            data: Some(data),
            error: None,
            elapsed_ms,
        },
        Ok(Err(err)) => Section {
            status: "error",
            data: None,
            error: Some(err.into_message()),
            elapsed_ms,
        },
        Err(_) => Section {
            status: "timeout",
            data: None,
            error: Some(format!(
                "no answer within {} ms; the other sections are not held up",
                budget.as_millis()
            )),
            elapsed_ms,
        },
    }
}

/// The tenant's cron monitors, failing ones first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantMonitors {
    pub monitors: Vec<MonitorView>,
    /// How many of them are down or late.
    pub failing: usize,
    /// More monitors carry the tenant than are listed.
    pub more: bool,
}

/// A failed job of the tenant, in one of the queue sources that know where a job's tenant
/// lives (`tenant_path`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantJob {
    pub source: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub job: JobSummary,
}

/// What could not be read of one queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueGap {
    pub source: String,
    pub queue: Option<String>,
    pub error: String,
}

/// The tenant's failed jobs across the queue sources that know their jobs' tenants (a
/// `tenant_path`, or a push source's reported failures).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantJobs {
    pub jobs: Vec<TenantJob>,
    /// Queues searched.
    pub queues: usize,
    /// A search stopped at its bound somewhere, or more jobs matched than are listed.
    pub partial: bool,
    /// Sources or queues that did not answer; the jobs of the others are listed.
    pub gaps: Vec<QueueGap>,
}

/// One of opsdeck's own audit entries about the tenant, as support may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantAuditLine {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub action: String,
    pub outcome: u16,
    pub reason: Option<String>,
}

impl From<AuditEntry> for TenantAuditLine {
    fn from(entry: AuditEntry) -> Self {
        let record = entry.record;
        Self {
            seq: entry.seq,
            at: record.at,
            actor: record.actor.map(|a| a.name),
            action: record.action,
            outcome: record.outcome,
            reason: record.reason,
        }
    }
}

/// One `[[tenants.queries]]` answer for the tenant: its rows (redacted, masked), or why none.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryAnswer {
    pub name: String,
    /// `profile` (one row of facts) or `table` (a few rows).
    pub kind: &'static str,
    /// `ok`, or the error's code: `timeout`, `unreachable`, `read_only`, `query_failed`, …
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Vec<Object>>>)]
    pub rows: Option<Vec<Vec<serde_json::Value>>>,
    /// More rows were there than shown.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

/// The directory's row for a tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantFacts {
    pub name: Option<String>,
    pub plan: Option<String>,
    pub status: Option<String>,
}

impl From<DirectoryEntry> for TenantFacts {
    fn from(entry: DirectoryEntry) -> Self {
        Self {
            name: entry.name,
            plan: entry.plan,
            status: entry.status,
        }
    }
}

/// The tenant's usage counters over the last 24 hours, 7 and 30 days, from the hourly and
/// daily rollups (never the raw events).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantUsage {
    #[schema(value_type = Vec<Object>)]
    pub last_24h: Vec<UsageTotal>,
    #[schema(value_type = Vec<Object>)]
    pub last_7d: Vec<UsageTotal>,
    #[schema(value_type = Vec<Object>)]
    pub last_30d: Vec<UsageTotal>,
}

/// What the application's audit events say that support should see first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantHighlights {
    /// Impersonations, role and permission changes, failed logins, exports and deletions,
    /// newest first.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<AuditHighlight>,
    /// Hours of the last 7 days with at least 10 failed logins, newest first.
    #[schema(value_type = Vec<Object>)]
    pub failed_login_bursts: Vec<LoginBurst>,
}

/// `GET /ops/tenants/{id}`: everything opsdeck can tell about one tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSummary {
    pub tenant_id: String,
    /// When the summary was read.
    pub at: DateTime<Utc>,
    /// The tenant as the application's directory lists it.
    #[schema(value_type = Object)]
    pub directory: Section<TenantFacts>,
    /// The answers of `[[tenants.queries]]`, in configuration order; each failed or timed
    /// out on its own.
    #[schema(value_type = Object)]
    pub queries: Section<Vec<QueryAnswer>>,
    /// Usage counters from the application's `usage` events.
    #[schema(value_type = Object)]
    pub usage: Section<TenantUsage>,
    /// The application's `error` events grouped by fingerprint, most recently seen first.
    #[schema(value_type = Object)]
    pub errors: Section<Vec<ErrorGroup>>,
    /// Highlights of the application's `audit` events.
    #[schema(value_type = Object)]
    pub audit_highlights: Section<TenantHighlights>,
    /// Impersonations of the tenant's users neither ended nor expired (never their tokens).
    #[schema(value_type = Object)]
    pub impersonations: Section<Vec<ImpersonationView>>,
    #[schema(value_type = Object)]
    pub monitors: Section<TenantMonitors>,
    #[schema(value_type = Object)]
    pub jobs: Section<TenantJobs>,
    /// opsdeck's own audit entries naming the tenant (views of it, impersonations, actions
    /// on its jobs and monitors), newest first.
    #[schema(value_type = Object)]
    pub opsdeck_audit: Section<Vec<TenantAuditLine>>,
}

/// Which of the application database's answers a summary waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queries {
    /// Every `[[tenants.queries]]` answer (the JSON summary).
    Run,
    /// None: the dashboard loads each on its own ([`tenant_query`]), so a slow one never
    /// holds the page back. The section says `deferred`.
    Defer,
}

/// The summary of `id`, every section read at once within [`SECTION_BUDGET`].
pub async fn tenant_summary(
    state: &AppState,
    caller: &Caller,
    id: &str,
    queries: Queries,
) -> Result<TenantSummary, ApiError> {
    caller.require(Permission::ReadTenants)?;
    let tenant = tenant_of(id)?;
    let (directory, queries, usage, errors, audit_highlights, impersonations) = tokio::join!(
        tenant_facts(state, &tenant),
        async {
            match queries {
                Queries::Run => tenant_queries(state, &tenant).await,
                Queries::Defer => deferred_queries(state),
            }
        },
        section(SECTION_BUDGET, tenant_usage(state, &tenant)),
        section(SECTION_BUDGET, async {
            Ok(state
                .store()
                .recent_error_groups(&tenant, ERRORS_MAX)
                .await?)
        }),
        section(SECTION_BUDGET, tenant_highlights(state, &tenant)),
        tenant_impersonations(state, caller, &tenant),
    );
    let (monitors, jobs, opsdeck_audit) = tokio::join!(
        section(SECTION_BUDGET, tenant_monitors(state, &tenant)),
        tenant_jobs(state, &tenant),
        section(SECTION_BUDGET, tenant_audit(state, &tenant)),
    );
    // A directory that answers and does not list the tenant: no such tenant.
    if matches!(directory.data, Some(None)) {
        return Err(ApiError::not_found(format!(
            "the tenant directory lists no tenant \"{tenant}\""
        )));
    }
    let Section {
        status,
        data,
        error,
        elapsed_ms,
    } = directory;
    let directory = Section {
        status,
        data: data.flatten(),
        error,
        elapsed_ms,
    };
    Ok(TenantSummary {
        tenant_id: tenant.to_string(),
        at: state.clock().now(),
        directory,
        queries,
        usage,
        errors,
        audit_highlights,
        impersonations,
        monitors,
        jobs,
        opsdeck_audit,
    })
}

/// How long the application's database may take for the directory's row, beyond which
/// its own statement timeout has already given up.
const APP_DB_BUDGET: Duration = Duration::from_secs(32);

fn tenant_error(err: TenantError) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        err.code(),
        err.to_string(),
    )
}

/// The directory's row for the tenant: `data` is `Some(None)` when the directory answered
/// without it.
async fn tenant_facts(state: &AppState, tenant: &TenantId) -> Section<Option<TenantFacts>> {
    let sources = state.tenant_sources();
    if !sources.has_directory() {
        return Section::unavailable(
            "no tenant directory is configured ([tenants] url and directory)",
        );
    }
    section(APP_DB_BUDGET, async {
        sources
            .directory_get(tenant)
            .await
            .map(|entry| entry.map(TenantFacts::from))
            .map_err(tenant_error)
    })
    .await
}

/// Every `[[tenants.queries]]` for the tenant, side by side; each bounded by its own
/// statement timeout.
async fn tenant_queries(state: &AppState, tenant: &TenantId) -> Section<Vec<QueryAnswer>> {
    let sources = state.tenant_sources();
    if sources.queries().is_empty() {
        return tenant_queries_unconfigured();
    }
    let started = Instant::now();
    let answers = sources
        .run_all(tenant)
        .await
        .into_iter()
        .map(|outcome| answer(outcome.name, outcome.kind, outcome.result))
        .collect();
    Section {
        status: "ok",
        data: Some(answers),
        error: None,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// The queries' section when they are loaded one by one: their names and kinds, no rows.
fn deferred_queries(state: &AppState) -> Section<Vec<QueryAnswer>> {
    let configured = state.tenant_sources().queries();
    if configured.is_empty() {
        return tenant_queries_unconfigured();
    }
    Section {
        status: "ok",
        data: Some(
            configured
                .into_iter()
                .map(|(name, kind)| QueryAnswer {
                    name: name.to_owned(),
                    kind: kind_name(kind),
                    status: "deferred",
                    columns: None,
                    rows: None,
                    truncated: false,
                    error: None,
                    elapsed_ms: 0,
                })
                .collect(),
        ),
        error: None,
        elapsed_ms: 0,
    }
}

fn tenant_queries_unconfigured() -> Section<Vec<QueryAnswer>> {
    Section::unavailable(
        "no tenant query is configured ([[tenants.queries]]: a profile or a table read \
         from the application's database)",
    )
}

fn kind_name(kind: QueryKind) -> &'static str {
    match kind {
        QueryKind::Profile => "profile",
        QueryKind::Table => "table",
    }
}

/// One query's answer, however it ended.
fn answer(
    name: String,
    kind: QueryKind,
    result: Result<opsdeck_connectors::tenants::Rows, TenantError>,
) -> QueryAnswer {
    let kind = kind_name(kind);
    match result {
        Ok(rows) => QueryAnswer {
            name,
            kind,
            status: "ok",
            columns: Some(rows.columns),
            rows: Some(rows.rows),
            truncated: rows.truncated,
            error: None,
            elapsed_ms: u64::try_from(rows.elapsed.as_millis()).unwrap_or(u64::MAX),
        },
        Err(err) => QueryAnswer {
            name,
            kind,
            status: err.code(),
            columns: None,
            rows: None,
            truncated: false,
            error: Some(err.to_string()),
            elapsed_ms: 0,
        },
    }
}

/// The `[[tenants.queries]]` entry `name` for tenant `id`, on its own (the dashboard loads
/// each section this way). An unknown name is a 404; a query that fails is an answer that
/// says why.
pub async fn tenant_query(
    state: &AppState,
    caller: &Caller,
    id: &str,
    name: &str,
) -> Result<QueryAnswer, ApiError> {
    caller.require(Permission::ReadTenants)?;
    let tenant = tenant_of(id)?;
    let sources = state.tenant_sources();
    let Some((name, kind)) = sources.queries().into_iter().find(|(n, _)| *n == name) else {
        return Err(ApiError::not_found(format!(
            "no tenant query is named \"{name}\" ([[tenants.queries]])"
        )));
    };
    let result = sources.run_query(name, &tenant).await;
    Ok(answer(name.to_owned(), kind, result))
}

async fn tenant_usage(state: &AppState, tenant: &TenantId) -> Result<TenantUsage, ApiError> {
    let now = state.clock().now();
    let store = state.store();
    let (last_24h, last_7d, last_30d) = tokio::join!(
        store.usage_totals(tenant, now - chrono::Duration::hours(24), now),
        store.usage_totals(tenant, now - chrono::Duration::days(7), now),
        store.usage_totals(tenant, now - chrono::Duration::days(30), now),
    );
    Ok(TenantUsage {
        last_24h: last_24h?,
        last_7d: last_7d?,
        last_30d: last_30d?,
    })
}

async fn tenant_highlights(
    state: &AppState,
    tenant: &TenantId,
) -> Result<TenantHighlights, ApiError> {
    let since = state.clock().now() - chrono::Duration::days(LOGIN_BURST_DAYS);
    let store = state.store();
    let (events, bursts) = tokio::join!(
        store.audit_highlights(tenant, HIGHLIGHTS_MAX),
        store.failed_login_bursts(tenant, since, LOGIN_BURST_THRESHOLD, HIGHLIGHTS_MAX),
    );
    Ok(TenantHighlights {
        events: events?,
        failed_login_bursts: bursts?,
    })
}

/// The tenant's active impersonations, when impersonation is enabled and the caller may
/// see them.
async fn tenant_impersonations(
    state: &AppState,
    caller: &Caller,
    tenant: &TenantId,
) -> Section<Vec<ImpersonationView>> {
    if !state.config().impersonation.enabled {
        return Section::unavailable(
            "impersonation is not enabled ([impersonation] enabled = true, with an audience \
             and an encryption_key)",
        );
    }
    if caller.require(Permission::Impersonate).is_err() {
        return Section::unavailable("this role may not see impersonations");
    }
    section(
        SECTION_BUDGET,
        super::impersonation::list_impersonations(state, caller, tenant),
    )
    .await
}

async fn tenant_monitors(state: &AppState, tenant: &TenantId) -> Result<TenantMonitors, ApiError> {
    let filter = MonitorFilter {
        tenant_id: Some(tenant.clone()),
        ..MonitorFilter::default()
    };
    let page = state
        .store()
        .list_monitors(&filter, None, MONITORS_MAX)
        .await?;
    let now = state.clock().now();
    let mut monitors: Vec<MonitorView> = page
        .monitors
        .iter()
        .map(|record| MonitorView::new(record, now))
        .collect();
    let failing = |view: &MonitorView| {
        view.status == MonitorStatus::Down.as_str() || view.status == MonitorStatus::Late.as_str()
    };
    // Failing first; the order within each part stays by slug.
    monitors.sort_by_key(|view| !failing(view));
    Ok(TenantMonitors {
        failing: monitors.iter().filter(|v| failing(v)).count(),
        monitors,
        more: page.next.is_some(),
    })
}

/// The tenant's failed jobs: every queue of every source with a `tenant_path`, side by side,
/// each within the section's budget.
async fn tenant_jobs(state: &AppState, tenant: &TenantId) -> Section<TenantJobs> {
    let sources: Vec<_> = state
        .queues()
        .sources()
        .iter()
        // A push source's application names each failure's tenant itself.
        .filter(|s| s.tenant_path.is_some() || s.connection_is_push())
        .collect();
    if sources.is_empty() {
        return Section::unavailable(
            "no queue source knows its jobs' tenants: set a tenant_path on a source \
             ([[queues.sources]] tenant_path, e.g. data.tenantId) to list a tenant's failed jobs",
        );
    }
    let view = state.queues().view();
    section(SECTION_BUDGET, async {
        let mut reads = Vec::new();
        let mut gaps = Vec::new();
        for source in &sources {
            let queues: Vec<_> = view
                .queues
                .iter()
                .filter(|q| q.source == source.name)
                .map(|q| q.queue.clone())
                .collect();
            if queues.is_empty() {
                gaps.push(QueueGap {
                    source: source.name.to_string(),
                    queue: None,
                    error: "no queue seen yet: the source has not been polled".to_owned(),
                });
            }
            for queue in queues {
                reads.push(async move {
                    let query = JobQuery {
                        filter: JobFilter {
                            state: JobState::Failed,
                            q: None,
                            tenant_id: Some(tenant.clone()),
                        },
                        cursor: None,
                        limit: JOBS_PER_QUEUE,
                    };
                    let page = match source.connector().await {
                        Ok(connector) => connector.list_jobs(&queue, &query).await,
                        Err(err) => Err(err),
                    };
                    (*source, queue, page)
                });
            }
        }
        let searched = reads.len();
        let mut jobs = Vec::new();
        let mut partial = false;
        for (source, queue, page) in futures_util::future::join_all(reads).await {
            match page {
                Ok(page) => {
                    partial |= page.partial || page.next.is_some();
                    jobs.extend(page.jobs.into_iter().map(|job| TenantJob {
                        source: source.name.to_string(),
                        job,
                    }));
                }
                Err(err) => gaps.push(QueueGap {
                    source: source.name.to_string(),
                    queue: Some(queue.to_string()),
                    error: crate::ops::queues::source_error(source, err).into_message(),
                }),
            }
        }
        // Newest failure first.
        jobs.sort_by_key(|j| std::cmp::Reverse(j.job.at));
        if jobs.len() > JOBS_MAX {
            jobs.truncate(JOBS_MAX);
            partial = true;
        }
        Ok::<_, ApiError>(TenantJobs {
            jobs,
            queues: searched,
            partial,
            gaps,
        })
    })
    .await
}

async fn tenant_audit(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Vec<TenantAuditLine>, ApiError> {
    let filter = AuditFilter {
        tenant_id: Some(tenant.clone()),
        limit: AUDIT_MAX,
        ..AuditFilter::default()
    };
    let entries = state.store().list_audit(&filter).await?;
    Ok(entries.into_iter().map(TenantAuditLine::from).collect())
}

/// One tenant a search found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantHit {
    pub id: String,
    /// Where it was found: `directory` (the application's), or where opsdeck saw it:
    /// `events` (the application sent events about it), `cron` (a monitor carries it).
    pub seen_in: Vec<&'static str>,
    /// The directory's facts, when it was found there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<TenantFacts>,
}

/// `GET /ops/tenants?q=`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// `directory` (the application's directory query searched) or `seen` (the tenants
    /// opsdeck has seen, by id).
    pub source: &'static str,
    pub tenants: Vec<TenantHit>,
    /// Pass as `after` for the next page; null on the last (and always with a directory,
    /// which is searched rather than paged: see `truncated`).
    pub next: Option<String>,
    /// More tenants matched than are listed: narrow the search.
    pub truncated: bool,
}

/// Tenants matching `q` (all when empty): with a directory, as its query matches them (at
/// most `limit`); else those whose id contains `q`, by id, after `after`, at most `limit`.
pub async fn search_tenants(
    state: &AppState,
    caller: &Caller,
    q: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<TenantList, ApiError> {
    caller.require(Permission::ReadTenants)?;
    let limit = limit.clamp(1, SEARCH_MAX);
    let after = after.map(tenant_of).transpose()?;
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > TENANT_ID_MAX_CHARS) {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("parameter `q`: at most {TENANT_ID_MAX_CHARS} characters"),
        ));
    }
    let sources = state.tenant_sources();
    if sources.has_directory() {
        if after.is_some() {
            return Err(ApiError::bad_request(
                "invalid_field",
                "parameter `after`: the tenant directory is searched, not paged; narrow `q`",
            ));
        }
        let page = sources
            .directory_search(q.unwrap_or(""), limit as usize)
            .await
            .map_err(tenant_error)?;
        return Ok(TenantList {
            source: "directory",
            tenants: page
                .tenants
                .into_iter()
                .map(|entry| TenantHit {
                    id: entry.id.clone(),
                    seen_in: vec!["directory"],
                    facts: Some(TenantFacts::from(entry)),
                })
                .collect(),
            next: None,
            truncated: page.truncated,
        });
    }
    // Seen in monitors (paged by id) and in events (the store's best matches, at most
    // EVENT_TENANTS_READ of them), merged by id.
    let store = state.store();
    let (monitors, events) = tokio::join!(
        store.monitor_tenants(q, after.as_ref(), limit + 1),
        store.search_event_tenants(q.unwrap_or(""), EVENT_TENANTS_READ),
    );
    let mut seen: std::collections::BTreeMap<String, Vec<&'static str>> = Default::default();
    for id in monitors? {
        seen.entry(id.to_string()).or_default().push("cron");
    }
    for tenant in events? {
        if after.as_ref().is_none_or(|after| tenant.tenant_id > *after) {
            seen.entry(tenant.tenant_id.to_string())
                .or_default()
                .insert(0, "events");
        }
    }
    let mut tenants: Vec<TenantHit> = seen
        .into_iter()
        .map(|(id, seen_in)| TenantHit {
            id,
            seen_in,
            facts: None,
        })
        .collect();
    let next = if tenants.len() > limit as usize {
        tenants.truncate(limit as usize);
        tenants.last().map(|t| t.id.clone())
    } else {
        None
    };
    Ok(TenantList {
        source: "seen",
        tenants,
        truncated: next.is_some(),
        next,
    })
}
