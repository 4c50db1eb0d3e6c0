//! Personal tokens and ingest keys (admin): list, create (the secret is shown once, in the
//! response), revoke. Every change is audited with its reason before it is answered.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::TokenName;
use opsdeck_core::token::{self, Grant, NewToken, Scopes, TokenKind, TokenRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::guard::{Guarded, WriteBody};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;

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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// Every token and key, newest first.
#[utoipa::path(get, path = "/ops/tokens", tag = "admin",
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(State(state): State<AppState>) -> Result<axum::Json<TokenList>, ApiError> {
    let now = state.clock().now();
    let tokens = state.store().list_tokens().await?;
    Ok(axum::Json(TokenList {
        tokens: tokens.iter().map(|t| TokenView::new(t, now)).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    /// For a personal token: viewer, operator, support or admin.
    pub role: Option<String>,
    /// For an ingest key: any of checkins, jobs, events.
    pub scopes: Option<Vec<String>>,
    /// Lifetime such as "30d" or "12h"; without it the token does not expire.
    pub expires_in: Option<String>,
    /// Why the token is created (1–500 characters); kept in the audit log.
    pub reason: String,
}

impl WriteBody for CreateToken {
    fn reason(&self) -> &str {
        &self.reason
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The secret, shown this once.
    pub token: String,
    #[serde(flatten)]
    pub details: TokenView,
}

/// Creates a personal token (with `role`) or an ingest key (with `scopes`).
#[utoipa::path(post, path = "/ops/tokens", tag = "admin", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    Guarded {
        write,
        reason,
        body,
    }: Guarded<CreateToken>,
) -> Result<Response, ApiError> {
    let grant =
        match (body.role.as_deref(), body.scopes.as_ref()) {
            (Some(role), None) => Grant::Role(role.parse::<Role>().map_err(|e| {
                ApiError::bad_request("invalid_field", format!("field `role`: {e}"))
            })?),
            (None, Some(scopes)) => {
                Grant::Scopes(Scopes::parse(&scopes.join(",")).map_err(|e| {
                    ApiError::bad_request("invalid_field", format!("field `scopes`: {e}"))
                })?)
            }
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    "give either `role` (a personal token) or `scopes` (an ingest key), not both",
                ));
            }
        };
    let now = state.clock().now();
    let expires_at = match body.expires_in.as_deref() {
        None => None,
        Some(text) => {
            let lifetime = humantime::parse_duration(text).map_err(|e| {
                ApiError::bad_request("invalid_field", format!("field `expires_in`: {e}"))
            })?;
            Some(
                now + chrono::Duration::from_std(lifetime).map_err(|_| {
                    ApiError::bad_request("invalid_field", "field `expires_in`: too long")
                })?,
            )
        }
    };
    let new = NewToken {
        name: TokenName::parse(&body.name)
            .map_err(|e| ApiError::bad_request("invalid_field", format!("field `name`: {e}")))?,
        grant,
        created_by: Some(write.actor_id()),
        expires_at,
    };
    let kind = new.kind();
    let secret = token::generate(kind);
    let record = state
        .store()
        .create_token(&new, &secret.hash, &secret.display, now)
        .await?;
    write
        .audit(
            "token.created",
            Some(("token", record.id.to_string())),
            &reason,
            201,
        )
        .await?;
    let body = CreatedToken {
        token: secret.secret.expose().to_owned(),
        details: TokenView::new(&record, now),
    };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeToken {
    /// Why the token is revoked (1–500 characters); kept in the audit log.
    pub reason: String,
}

impl WriteBody for RevokeToken {
    fn reason(&self) -> &str {
        &self.reason
    }
}

/// Revokes a token or key at once; it can never be used again.
#[utoipa::path(delete, path = "/ops/tokens/{id}", tag = "admin", request_body = RevokeToken,
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Guarded { write, reason, .. }: Guarded<RevokeToken>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock().now();
    if !state.store().revoke_token(id, now).await? {
        return Err(ApiError::not_found("no active token with this id"));
    }
    // This process stops accepting the token and its sessions now; other replicas within
    // their cache's lifetime (`auth::cache::TTL`).
    state.token_usage().credentials().forget_token(id);
    let ended = state.store().end_sessions_for_token(id, now).await?;
    if ended > 0 {
        tracing::info!(ended, "ended the sessions opened with a revoked token");
    }
    write
        .audit(
            "token.revoked",
            Some(("token", id.to_string())),
            &reason,
            204,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
