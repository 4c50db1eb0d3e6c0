//! The audit log (admin): filtered, paginated reading, and verification of the hash chain.

use axum::extract::State;
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{AuditEntry, AuditFilter, verify_chain};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Actor id or name.
    pub actor: Option<String>,
    /// Exact action, e.g. `token.created` or `GET /ops/tokens`.
    pub action: Option<String>,
    /// Target as `kind:id`, e.g. `token:0193…`.
    pub target: Option<String>,
    pub tenant_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Cursor: only entries older than this sequence number (the `next` of a previous page).
    pub before: Option<i64>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub auth_method: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub tenant_id: Option<String>,
    pub outcome: u16,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        let r = e.record;
        Self {
            seq: e.seq,
            at: r.at,
            actor_id: r.actor.as_ref().map(|a| a.id.clone()),
            actor_name: r.actor.as_ref().map(|a| a.name.clone()),
            auth_method: r.actor.map(|a| a.method),
            action: r.action,
            target_kind: r.target.as_ref().map(|t| t.kind.clone()),
            target_id: r.target.map(|t| t.id),
            tenant_id: r.tenant_id,
            outcome: r.outcome,
            client_addr: r.client_addr,
            request_id: r.request_id,
            reason: r.reason,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next: Option<i64>,
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/ops/audit", tag = "admin",
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let (target_kind, target_id) = match query.target.as_deref() {
        None => (None, None),
        Some(t) => match t.split_once(':') {
            Some((kind, id)) => (Some(kind.to_owned()), Some(id.to_owned())),
            None => (Some(t.to_owned()), None),
        },
    };
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        target_kind,
        target_id,
        tenant_id: query.tenant_id,
        since: query.since,
        until: query.until,
        before_seq: query.before,
        limit,
    };
    let entries = state.store().list_audit(&filter).await?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(axum::Json(AuditPage {
        entries: entries.into_iter().map(AuditEntryView::from).collect(),
        next,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerification {
    /// `intact`, or `broken` when an entry was edited, deleted or inserted.
    pub status: &'static str,
    pub checked: u64,
    pub last_seq: Option<i64>,
    /// The first entry where the chain breaks, and how.
    pub first_break: Option<String>,
}

/// Walks the whole hash chain and reports the first entry that does not fit.
#[utoipa::path(get, path = "/ops/audit/verify", tag = "admin",
    responses((status = 200, body = AuditVerification), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn verify_audit(
    State(state): State<AppState>,
) -> Result<axum::Json<AuditVerification>, ApiError> {
    let report = verify_chain(state.store().as_ref(), 1000).await?;
    Ok(axum::Json(AuditVerification {
        status: if report.first_break.is_none() {
            "intact"
        } else {
            "broken"
        },
        checked: report.checked,
        last_seq: report.last_seq,
        first_break: report.first_break.map(|b| b.to_string()),
    }))
}
