//! Impersonation (SPEC §6, support and admin): start one (a signed token for one of a
//! tenant's users, returned once), list the tenant's active ones, end one, and what the
//! application reads: the key set and the revocation feed. Each start and end commits its
//! audit entry (action `impersonation.started` / `impersonation.ended`, target the
//! impersonation by its jti, tenant the tenant, with the reason), never the token.

pub mod keys;

use chrono::{DateTime, SubsecRound as _, Utc};
use opsdeck_core::auth::Permission;
use opsdeck_core::ids::TenantId;
use opsdeck_core::impersonation::{
    Claims, EncryptionKey, Impersonation, JwkSet, LEEWAY, Revocation, RevocationQuery, Revoked,
    Ttl, UserId, jws,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Act, Caller, Done};
use crate::config::{ImpersonationConfig, duration};
use crate::error::ApiError;
use crate::state::AppState;

/// An impersonation as listed: never its token.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImpersonationView {
    pub jti: Uuid,
    pub tenant_id: String,
    /// The user acted as.
    pub user_id: String,
    /// The principal who started it: id and name.
    pub operator_id: String,
    pub operator: String,
    /// Why, as given (redacted).
    pub reason: String,
    /// The key that signed the token.
    pub kid: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

impl From<Impersonation> for ImpersonationView {
    fn from(i: Impersonation) -> Self {
        Self {
            jti: i.jti,
            tenant_id: i.tenant.as_str().to_owned(),
            user_id: i.user_id.as_str().to_owned(),
            operator_id: i.operator_id,
            operator: i.operator_name,
            reason: i.reason,
            kid: i.kid,
            issued_at: i.issued_at,
            expires_at: i.expires_at,
            revoked_at: i.revoked_at,
            revoked_by: i.revoked_by,
        }
    }
}

/// A request to impersonate, checked: who, and for how long.
#[derive(Debug, Clone)]
pub struct ImpersonationRequest {
    user_id: UserId,
    ttl: Ttl,
}

impl ImpersonationRequest {
    /// `ttl` as a duration with a unit (`"15m"`), `impersonation.default_ttl` when absent.
    /// Errors name the field as the JSON API calls it.
    pub fn parse(
        config: &ImpersonationConfig,
        user_id: &str,
        ttl: Option<&str>,
    ) -> Result<Self, ApiError> {
        let invalid = |message: String| ApiError::bad_request("invalid_field", message);
        let user_id =
            UserId::parse(user_id).map_err(|e| invalid(format!("field `user_id`: {e}")))?;
        let ttl = match ttl {
            Some(text) => {
                duration::parse(text).map_err(|e| invalid(format!("field `ttl`: {e}")))?
            }
            None => config.default_ttl,
        };
        let ttl =
            Ttl::new(ttl, config.max_ttl).map_err(|e| invalid(format!("field `ttl`: {e}")))?;
        Ok(Self { user_id, ttl })
    }
}

/// A token just issued: shown this once.
#[derive(Debug)]
pub struct Started {
    pub token: String,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// The configuration and sealing key, or the answer that impersonation is off.
fn enabled(state: &AppState) -> Result<(&ImpersonationConfig, EncryptionKey), ApiError> {
    let config = &state.config().impersonation;
    match config.sealing_key() {
        Some(seal) if config.enabled => Ok((config, seal)),
        _ => Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "impersonation_disabled",
            "impersonation is not enabled on this server: set [impersonation] enabled = true, \
             with `audience` and `encryption_key`, and restart",
        )),
    }
}

fn key_trouble(cause: anyhow::Error) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "impersonation_unavailable",
        "no impersonation signing key could be used; the request id locates the details in the \
         server log",
    )
    .with_cause(cause)
}

/// Issues a token to act as a user of `tenant`, records the impersonation and commits its
/// audit entry.
pub async fn start_impersonation(
    state: &AppState,
    act: Act<'_>,
    tenant: TenantId,
    request: ImpersonationRequest,
) -> Result<Started, ApiError> {
    act.caller.require(Permission::Impersonate)?;
    let (config, seal) = enabled(state)?;
    let key = keys::signing_key(state.store(), config, &seal, act.now)
        .await
        .map_err(key_trouble)?;
    // The token speaks in whole seconds; the record says the same.
    let issued_at = act.now.trunc_subsecs(0);
    let impersonation = Impersonation {
        jti: Uuid::new_v4(),
        tenant: tenant.clone(),
        user_id: request.user_id,
        operator_id: act.caller.id().to_owned(),
        operator_name: act.caller.name().to_owned(),
        reason: act.reason.as_str().to_owned(),
        kid: key.kid().to_owned(),
        issued_at,
        expires_at: request.ttl.expiry(issued_at),
        revoked_at: None,
        revoked_by: None,
    };
    let token = jws::sign(&Claims::of(&impersonation, &config.audience), &key)
        .map_err(|e| key_trouble(e.into()))?;
    state.store().record_impersonation(&impersonation).await?;
    act.record(&done("impersonation.started", &impersonation), 201)
        .await?;
    Ok(Started {
        token,
        jti: impersonation.jti,
        expires_at: impersonation.expires_at,
    })
}

/// The tenant's impersonations neither ended nor expired, newest first.
pub async fn list_impersonations(
    state: &AppState,
    caller: &Caller,
    tenant: &TenantId,
) -> Result<Vec<ImpersonationView>, ApiError> {
    caller.require(Permission::Impersonate)?;
    enabled(state)?;
    let now = state.clock().now();
    let active = state
        .store()
        .list_active_impersonations(tenant, now)
        .await?;
    Ok(active.into_iter().map(ImpersonationView::from).collect())
}

/// Ends (revokes) the tenant's impersonation `jti`: the application learns it from the
/// revocation feed. Ending one already ended changes nothing and answers it as it is; 404
/// if the tenant has no impersonation with this id.
pub async fn end_impersonation(
    state: &AppState,
    act: Act<'_>,
    tenant: &TenantId,
    jti: Uuid,
) -> Result<ImpersonationView, ApiError> {
    act.caller.require(Permission::Impersonate)?;
    enabled(state)?;
    let revoked = state
        .store()
        .revoke_impersonation(tenant, jti, act.caller.id(), act.now)
        .await?;
    match revoked {
        Revoked::Now(impersonation) => {
            act.record(&done("impersonation.ended", &impersonation), 200)
                .await?;
            Ok(impersonation.into())
        }
        Revoked::Already(impersonation) => Ok(impersonation.into()),
        Revoked::Unknown => Err(ApiError::not_found(
            "this tenant has no impersonation with this jti",
        )),
    }
}

fn done(action: &'static str, impersonation: &Impersonation) -> Done {
    Done::new(action, "impersonation", impersonation.jti.to_string())
        .for_tenant(Some(impersonation.tenant.clone()))
}

/// The key set the application verifies tokens with; empty when impersonation is off.
pub async fn key_set(state: &AppState) -> Result<JwkSet, ApiError> {
    if enabled(state).is_err() {
        return Ok(JwkSet::default());
    }
    Ok(keys::key_set(state.store(), state.clock().now()).await?)
}

/// The most revocations one page of the feed holds.
pub const FEED_MAX_LIMIT: u32 = 1000;
/// A page's size when the request names none.
pub const FEED_DEFAULT_LIMIT: u32 = 100;

/// One page of the revocation feed, and where the next starts.
#[derive(Debug)]
pub struct RevokedPage {
    pub revoked: Vec<Revocation>,
    /// The `since` and `after` of the next page; the same as asked when this one is empty.
    pub next: (Option<DateTime<Utc>>, Option<Uuid>),
}

/// Revocations of tokens that may still be presented (those that expired more than
/// [`LEEWAY`] ago are left out: their `exp` refuses them anyway), oldest revocation first,
/// from `since` (inclusive) on, skipping at exactly `since` the jtis up to `after`.
pub async fn revoked_impersonations(
    state: &AppState,
    since: Option<DateTime<Utc>>,
    after: Option<Uuid>,
    limit: Option<u32>,
) -> Result<RevokedPage, ApiError> {
    let limit = limit.unwrap_or(FEED_DEFAULT_LIMIT);
    if !(1..=FEED_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be between 1 and {FEED_MAX_LIMIT}"),
        ));
    }
    if after.is_some() && since.is_none() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`after` is a cursor within `since`: give both, as the previous page's `next`",
        ));
    }
    let leeway = chrono::Duration::from_std(LEEWAY).unwrap_or_default();
    let query = RevocationQuery {
        since,
        after,
        expiring_after: state.clock().now() - leeway,
        limit,
    };
    let revoked = state.store().revoked_impersonations(&query).await?;
    let next = match revoked.last() {
        Some(last) => (Some(last.revoked_at), Some(last.jti)),
        None => (since, after),
    };
    Ok(RevokedPage { revoked, next })
}
