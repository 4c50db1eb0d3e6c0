//! `/ops/tokens` (admin): the JSON face of [`crate::ops::tokens`]: list, create (the secret
//! is shown once, in the response), revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opsdeck_core::auth::Role;
use opsdeck_core::token::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::guard::{Guarded, WriteBody};
use crate::ops::Caller;
use crate::ops::tokens::{self, TokenRequest, TokenView};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// Every token and key, newest first.
#[utoipa::path(get, path = "/ops/tokens", tag = "admin",
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<TokenList>, ApiError> {
    let tokens = tokens::list_tokens(state.ops(), &caller).await?;
    Ok(axum::Json(TokenList { tokens }))
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
        caller,
        reason,
        body,
    }: Guarded<CreateToken>,
) -> Result<Response, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_field", message);
    let role = body
        .role
        .as_deref()
        .map(str::parse::<Role>)
        .transpose()
        .map_err(|e| invalid(format!("field `role`: {e}")))?;
    let scopes = body
        .scopes
        .as_ref()
        .map(|scopes| scopes.iter().map(|s| s.parse::<Scope>()).collect())
        .transpose()
        .map_err(|e| invalid(format!("field `scopes`: {e}")))?;
    let lifetime = body
        .expires_in
        .as_deref()
        .map(humantime::parse_duration)
        .transpose()
        .map_err(|e| invalid(format!("field `expires_in`: {e}")))?;
    let request = TokenRequest::parse(&body.name, role, scopes, lifetime)?;
    let ops = state.ops();
    let created = tokens::create_token(ops, ops.act(&caller, &reason), request).await?;
    let body = CreatedToken {
        token: created.secret,
        details: created.token,
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
    Guarded { caller, reason, .. }: Guarded<RevokeToken>,
) -> Result<StatusCode, ApiError> {
    let ops = state.ops();
    tokens::revoke_token(ops, ops.act(&caller, &reason), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
