//! Personal tokens and ingest keys (admin): list, create (the secret is returned once),
//! revoke. The JSON API, the Tokens page and `opsdeck token …` all go through here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::auth::{Permission, Role};
use opsdeck_core::ids::TokenName;
use opsdeck_core::token::{self, Grant, NewToken, Scope, Scopes, TokenKind, TokenRecord};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Act, Caller, Done, Ops};
use crate::error::ApiError;

/// A token as listed: never its secret or hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    /// `personal` (opsdeck_pat_…) or `ingest_key` (opsdeck_key_…).
    pub kind: &'static str,
    pub name: String,
    pub role: Option<String>,
    pub scopes: Vec<String>,
    /// The first characters, enough to recognise it.
    pub display: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub active: bool,
}

impl TokenView {
    pub fn new(record: &TokenRecord, now: DateTime<Utc>) -> Self {
        Self {
            id: record.id,
            kind: match record.kind {
                TokenKind::Personal => "personal",
                TokenKind::IngestKey => "ingest_key",
            },
            name: record.name.clone(),
            role: record.role.map(|r| r.to_string()),
            scopes: record
                .scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            display: record.display.clone(),
            created_by: record.created_by.clone(),
            created_at: record.created_at,
            expires_at: record.expires_at,
            revoked_at: record.revoked_at,
            last_used_at: record.last_used_at,
            active: record.is_active(now),
        }
    }

    /// `active`, `revoked` or `expired`.
    pub fn state(&self) -> &'static str {
        if self.active {
            "active"
        } else if self.revoked_at.is_some() {
            "revoked"
        } else {
            "expired"
        }
    }
}

/// Every token and key, newest first.
pub async fn list_tokens(ops: Ops<'_>, caller: &Caller) -> Result<Vec<TokenView>, ApiError> {
    caller.require(Permission::Administer)?;
    let now = ops.clock.now();
    Ok(ops
        .store
        .list_tokens()
        .await?
        .iter()
        .map(|t| TokenView::new(t, now))
        .collect())
}

/// A token to create, checked: a name, a role (personal token) or scopes (ingest key), and
/// an optional lifetime.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    name: TokenName,
    grant: Grant,
    lifetime: Option<Duration>,
}

impl TokenRequest {
    /// Errors name the field (`name`, `role`, `scopes`, `expires_in`) as the JSON API calls
    /// it; the command line's flags have the same names.
    pub fn parse(
        name: &str,
        role: Option<Role>,
        scopes: Option<Vec<Scope>>,
        lifetime: Option<Duration>,
    ) -> Result<Self, ApiError> {
        let invalid = |message: String| ApiError::bad_request("invalid_field", message);
        let grant = match (role, scopes) {
            (Some(role), None) => Grant::Role(role),
            (None, Some(scopes)) => Grant::Scopes(
                Scopes::new(scopes).map_err(|e| invalid(format!("field `scopes`: {e}")))?,
            ),
            _ => {
                return Err(invalid(
                    "give either `role` (a personal token) or `scopes` (an ingest key), not both"
                        .to_owned(),
                ));
            }
        };
        let name = TokenName::parse(name).map_err(|e| invalid(format!("field `name`: {e}")))?;
        if let Some(lifetime) = lifetime
            && chrono::Duration::from_std(lifetime).is_err()
        {
            return Err(invalid("field `expires_in`: too long".to_owned()));
        }
        Ok(Self {
            name,
            grant,
            lifetime,
        })
    }
}

/// A token just created: its secret, shown this once, and the token as listed.
#[derive(Debug)]
pub struct CreatedToken {
    pub secret: String,
    pub token: TokenView,
}

/// Creates a personal token or an ingest key.
pub async fn create_token(
    ops: Ops<'_>,
    act: Act<'_>,
    request: TokenRequest,
) -> Result<CreatedToken, ApiError> {
    act.caller.require(Permission::Administer)?;
    let now = act.now;
    let expires_at = request.lifetime.map(|lifetime| {
        // Checked by `TokenRequest::parse`.
        now + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX)
    });
    let new = NewToken {
        name: request.name,
        grant: request.grant,
        created_by: Some(act.caller.id().to_owned()),
        expires_at,
    };
    let secret = token::generate(new.kind());
    let record = ops
        .store
        .create_token(&new, &secret.hash, &secret.display, now)
        .await?;
    act.record(
        &Done::new("token.created", "token", record.id.to_string()),
        201,
    )
    .await?;
    Ok(CreatedToken {
        secret: secret.secret.expose().to_owned(),
        token: TokenView::new(&record, now),
    })
}

/// Revokes a token or key at once, with the dashboard sessions opened with it; 404 if no
/// active token has this id.
pub async fn revoke_token(ops: Ops<'_>, act: Act<'_>, id: Uuid) -> Result<(), ApiError> {
    act.caller.require(Permission::Administer)?;
    if !ops.store.revoke_token(id, act.now).await? {
        return Err(ApiError::not_found("no active token with this id"));
    }
    // This process stops accepting the token and its sessions now; other replicas within
    // their cache's lifetime (`auth::cache::TTL`).
    if let Some(credentials) = ops.credentials {
        credentials.forget_token(id);
    }
    let ended = ops.store.end_sessions_for_token(id, act.now).await?;
    if ended > 0 {
        tracing::info!(ended, "ended the sessions opened with a revoked token");
    }
    act.record(&Done::new("token.revoked", "token", id.to_string()), 204)
        .await
}
