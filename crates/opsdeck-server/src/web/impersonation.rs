//! A tenant's impersonations (SPEC §6, §7), for support and admin:
//! `GET /tenants/{id}/impersonations` lists the active ones, each with a form that ends it,
//! and a form that starts one; `POST /tenants/{id}/impersonations` starts one and shows its
//! token on a page of its own, this once; `POST /tenants/{id}/impersonations/{jti}/end`
//! ends one and redirects back to the list. The guards are [`GuardedForm`]'s (the session's
//! CSRF token, the reason); starting and ending, with their permission and audit entries,
//! are [`crate::ops::impersonation`]'s, the same as the JSON API's. When impersonation is
//! off, the page says how to turn it on instead of showing the forms.

use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::SubsecRound as _;
use opsdeck_core::ids::TenantId;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::guard::{GuardedForm, NoFields};
use crate::ops::Caller;
use crate::ops::impersonation::{self as ops, ImpersonationRequest, ImpersonationView};
use crate::state::AppState;
use crate::web::Page;
use crate::web::format;
use crate::web::shell::{Section, Shell};
use crate::web::tenants::tenant_href;

const SAY_WHY: &str = "Say why (1–500 characters): the reason goes to the audit log.";

/// The lifetimes offered besides the configured default and maximum.
const OFFERED_TTLS: [Duration; 4] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
];

/// The list of a tenant's impersonations: `/tenants/{id}/impersonations`.
pub fn impersonations_href(id: &str) -> String {
    format!("{}/impersonations", tenant_href(id))
}

/// An active impersonation as the list shows it (never its token).
#[derive(Debug)]
pub struct ImpersonationRow {
    pub jti: String,
    pub user_id: String,
    pub operator: String,
    pub reason: String,
    pub started: String,
    pub expires: String,
    pub expires_in: String,
    pub end_href: String,
}

impl ImpersonationRow {
    fn new(tenant: &str, view: &ImpersonationView, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            jti: view.jti.to_string(),
            user_id: view.user_id.clone(),
            operator: view.operator.clone(),
            reason: view.reason.clone(),
            started: format::time(view.issued_at),
            expires: format::time(view.expires_at),
            expires_in: format::ago(now, view.expires_at),
            end_href: format!("{}/{}/end", impersonations_href(tenant), view.jti),
        }
    }
}

/// A lifetime the start form offers.
#[derive(Debug)]
pub struct TtlChoice {
    pub value: String,
    pub selected: bool,
}

#[derive(Debug, Template)]
#[template(path = "tenant_impersonations.html")]
pub struct ImpersonationsPage {
    shell: Shell,
    id: String,
    tenant_href: String,
    href: String,
    /// Off: the page says how to turn impersonation on, and shows no form.
    enabled: bool,
    rows: Vec<ImpersonationRow>,
    notice: Option<String>,
    /// What went wrong with the form just posted.
    error: Option<String>,
    /// The start form's fields as typed.
    user_id: String,
    reason: String,
    ttls: Vec<TtlChoice>,
}

#[derive(Debug, Template)]
#[template(path = "tenant_impersonation_started.html")]
pub struct StartedPage {
    shell: Shell,
    id: String,
    tenant_href: String,
    href: String,
    user_id: String,
    token: String,
    jti: String,
    expires: String,
    expires_in: String,
}

/// What the start form typed, kept when the page is shown again.
#[derive(Debug, Default, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    user_id: String,
    ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// The jti of the impersonation just ended.
    ended: Option<String>,
}

/// The offered lifetimes up to the configured maximum, the one typed (or the default)
/// selected.
fn ttl_choices(state: &AppState, typed: Option<&str>) -> Vec<TtlChoice> {
    let config = &state.config().impersonation;
    let mut ttls: Vec<Duration> = OFFERED_TTLS
        .into_iter()
        .chain([config.default_ttl, config.max_ttl])
        .filter(|ttl| *ttl <= config.max_ttl && *ttl >= Duration::from_secs(60))
        .collect();
    ttls.sort();
    ttls.dedup();
    let chosen = typed.map_or_else(|| format::interval(config.default_ttl), str::to_owned);
    ttls.into_iter()
        .map(|ttl| {
            let value = format::interval(ttl);
            TtlChoice {
                selected: value == chosen,
                value,
            }
        })
        .collect()
}

fn tenant(id: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(id).map_err(|e| ApiError::bad_request("invalid_path", e.to_string()))
}

/// The list page of `tenant`, its forms empty; `enabled` false when impersonation is off.
async fn list_page(
    state: &AppState,
    shell: Shell,
    caller: &Caller,
    tenant: &TenantId,
) -> Result<ImpersonationsPage, ApiError> {
    let id = tenant.as_str();
    let (enabled, views) = match ops::list_impersonations(state, caller, tenant).await {
        Ok(views) => (true, views),
        Err(err) if err.code() == "impersonation_disabled" => (false, Vec::new()),
        Err(err) => return Err(err),
    };
    let now = state.clock().now();
    Ok(ImpersonationsPage {
        shell: shell.at(Section::Tenants),
        tenant_href: tenant_href(id),
        href: impersonations_href(id),
        enabled,
        rows: views
            .iter()
            .map(|view| ImpersonationRow::new(id, view, now))
            .collect(),
        notice: None,
        error: None,
        user_id: String::new(),
        reason: String::new(),
        ttls: ttl_choices(state, None),
        id: id.to_owned(),
    })
}

/// The list page again with `message` above the forms and what was typed kept; nothing
/// changed.
async fn refused(
    state: &AppState,
    shell: Shell,
    caller: &Caller,
    tenant: &TenantId,
    (typed, form): (String, StartForm),
    (status, message): (StatusCode, String),
) -> Result<Response, ApiError> {
    let mut page = list_page(state, shell, caller, tenant).await?;
    let status = if page.enabled {
        status
    } else {
        StatusCode::NOT_FOUND
    };
    page.error = Some(message);
    page.reason = typed;
    page.ttls = ttl_choices(state, form.ttl.as_deref());
    page.user_id = form.user_id;
    Ok(Page::with_status(page, status).into_response())
}

/// `GET /tenants/{id}/impersonations`; when impersonation is off, the page (200) says how
/// to turn it on.
pub async fn show_impersonations(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Page<ImpersonationsPage>, ApiError> {
    let tenant = tenant(&id)?;
    let mut page = list_page(&state, shell, &caller, &tenant).await?;
    // Only a jti: the query is anyone's to write, the notice must not say just anything.
    let ended = query.ended.as_deref().and_then(|t| Uuid::parse_str(t).ok());
    page.notice = ended.map(|jti| {
        format!(
            "Impersonation {jti} ended: the application learns it from the revocation feed \
             and refuses its token from then on."
        )
    });
    Ok(Page::new(page))
}

/// `POST /tenants/{id}/impersonations`: starts one and shows its token this once.
pub async fn start_impersonation(
    State(state): State<AppState>,
    shell: Shell,
    Path(id): Path<String>,
    GuardedForm {
        caller,
        reason,
        form,
    }: GuardedForm<StartForm>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&id)?;
    let Ok(parsed) = reason.parsed else {
        let refusal = (StatusCode::BAD_REQUEST, SAY_WHY.to_owned());
        return refused(
            &state,
            shell,
            &caller,
            &tenant,
            (reason.typed, form),
            refusal,
        )
        .await;
    };
    let config = &state.config().impersonation;
    let request = match ImpersonationRequest::parse(config, &form.user_id, form.ttl.as_deref()) {
        Ok(request) => request,
        Err(err) => {
            let refusal = (err.status(), format!("Not started: {}.", err.message()));
            return refused(
                &state,
                shell,
                &caller,
                &tenant,
                (reason.typed, form),
                refusal,
            )
            .await;
        }
    };
    let act = state.ops().act(&caller, &parsed);
    let started = match ops::start_impersonation(&state, act, tenant.clone(), request).await {
        Ok(started) => started,
        Err(err) if err.status().is_client_error() || err.status().as_u16() == 503 => {
            let message = format!("Not started: {}.", err.message().trim_end_matches('.'));
            let refusal = (err.status(), message);
            return refused(
                &state,
                shell,
                &caller,
                &tenant,
                (reason.typed, form),
                refusal,
            )
            .await;
        }
        Err(err) => return Err(err),
    };
    // In whole seconds, as the expiry is.
    let now = state.clock().now().trunc_subsecs(0);
    Ok(Page::new(StartedPage {
        shell: shell.at(Section::Tenants),
        tenant_href: tenant_href(tenant.as_str()),
        href: impersonations_href(tenant.as_str()),
        id: tenant.as_str().to_owned(),
        user_id: form.user_id.trim().to_owned(),
        token: started.token,
        jti: started.jti.to_string(),
        expires: format::time(started.expires_at),
        expires_in: format::ago(now, started.expires_at),
    })
    .into_response())
}

/// `POST /tenants/{id}/impersonations/{jti}/end`: ends one, then back to the list (303).
pub async fn end_impersonation(
    State(state): State<AppState>,
    shell: Shell,
    Path((id, jti)): Path<(String, String)>,
    GuardedForm { caller, reason, .. }: GuardedForm<NoFields>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&id)?;
    let keep = (String::new(), StartForm::default());
    let Ok(parsed) = reason.parsed else {
        let message = format!("Impersonation {jti} not ended. {SAY_WHY}");
        let refusal = (StatusCode::BAD_REQUEST, message);
        return refused(&state, shell, &caller, &tenant, keep, refusal).await;
    };
    let Ok(jti) = Uuid::parse_str(&jti) else {
        let refusal = (
            StatusCode::NOT_FOUND,
            "This tenant has no impersonation with this jti.".to_owned(),
        );
        return refused(&state, shell, &caller, &tenant, keep, refusal).await;
    };
    let act = state.ops().act(&caller, &parsed);
    match ops::end_impersonation(&state, act, &tenant, jti).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}?ended={jti}",
            impersonations_href(tenant.as_str())
        ))
        .into_response()),
        Err(err) if err.status().is_client_error() => {
            let message = format!("Not ended: {}.", err.message().trim_end_matches('.'));
            refused(
                &state,
                shell,
                &caller,
                &tenant,
                keep,
                (err.status(), message),
            )
            .await
        }
        Err(err) => Err(err),
    }
}
