//! What every state-changing action shares. The route table already demands the permission,
//! and the authorization layer the same-origin check and CSRF token for sessions and the
//! tighter write rate limit; [`Guarded`] adds the rest: a JSON body with a mandatory
//! `reason` (1–500 characters, redacted before it is stored) and the caller's
//! [`WriteContext`], whose [`WriteContext::audit`] commits the action's audit entry before
//! the action answers. Bulk actions add [`BulkGuard`]: a dry run first, then the real run
//! only with the `expected_count` the dry run reported.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use opsdeck_core::audit::Target;
use opsdeck_core::redact::redact_text;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::audit::{actor_of, record};
use crate::error::ApiError;
use crate::extract::Json;
use crate::middleware::auth::{Authenticated, RequestContext};
use crate::middleware::request_id::RequestId;

/// A reason for a write: 1–500 characters after trimming.
#[derive(Debug, Clone)]
pub struct Reason(String);

impl Reason {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let trimmed = text.trim();
        match trimmed.chars().count() {
            0 => Err(ApiError::bad_request(
                "reason_required",
                "field `reason`: say why (1–500 characters); it goes to the audit log",
            )),
            // Operators paste log lines into reasons; what is kept is redacted like any
            // other free text.
            1..=500 => Ok(Reason(redact_text(trimmed).into_owned())),
            _ => Err(ApiError::bad_request(
                "invalid_field",
                "field `reason`: at most 500 characters",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The caller of a write, for its audit entry.
#[derive(Debug, Clone)]
pub struct WriteContext {
    principal: Authenticated,
    context: RequestContext,
    request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for WriteContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)?;
        let context = parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("request context missing")))?;
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        Ok(Self {
            principal,
            context,
            request_id,
        })
    }
}

impl WriteContext {
    pub fn actor_id(&self) -> String {
        self.principal.0.id.clone()
    }

    /// Appends the action's audit entry and waits until it is committed.
    pub async fn audit(
        &self,
        action: &str,
        target: Option<(&str, String)>,
        reason: &Reason,
        outcome: u16,
    ) -> Result<(), ApiError> {
        let mut entry = record(action, self.context.now);
        entry.actor = Some(actor_of(&self.principal.0));
        entry.target = target.map(|(kind, id)| Target {
            kind: kind.to_owned(),
            id,
        });
        entry.outcome = outcome;
        entry.client_addr = self.context.client.map(|ip| ip.to_string());
        entry.request_id = self.request_id.clone();
        entry.reason = Some(reason.as_str().to_owned());
        self.context
            .audit
            .record_committed(entry)
            .await
            .map_err(ApiError::internal)
    }
}

/// A guarded write's JSON body: its own fields and a `reason`.
pub trait WriteBody: DeserializeOwned + Send {
    fn reason(&self) -> &str;
}

/// The extractor every state-changing handler takes: the caller, the validated reason and
/// the parsed body.
#[derive(Debug)]
pub struct Guarded<T> {
    pub write: WriteContext,
    pub reason: Reason,
    pub body: T,
}

impl<T: WriteBody, S: Send + Sync> FromRequest<S> for Guarded<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let write = WriteContext::from_request_parts(&mut parts, state).await?;
        let Json(body) = Json::<T>::from_request(Request::from_parts(parts, body), state).await?;
        let reason = Reason::parse(body.reason())?;
        Ok(Self {
            write,
            reason,
            body,
        })
    }
}

/// The options every bulk action takes.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub struct BulkGuard {
    /// Count what would be affected and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// For the real run: the count the dry run reported. A different count now refuses the
    /// run, so a filter that matches more than expected never acts.
    pub expected_count: Option<u64>,
}

/// What a bulk action should do after [`BulkGuard::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkDecision {
    /// Report the count, change nothing.
    DryRun,
    /// Act on exactly the matched items.
    Proceed,
}

impl BulkGuard {
    pub fn check(&self, matched: u64) -> Result<BulkDecision, ApiError> {
        if self.dry_run {
            return Ok(BulkDecision::DryRun);
        }
        match self.expected_count {
            None => Err(ApiError::bad_request(
                "dry_run_required",
                "bulk actions run with `dry_run: true` first; then repeat with the `expected_count` it reported",
            )),
            Some(expected) if expected != matched => Err(ApiError::new(
                StatusCode::CONFLICT,
                "expected_count_mismatch",
                format!(
                    "expected_count is {expected} but {matched} items match now; run the dry run again"
                ),
            )),
            Some(_) => Ok(BulkDecision::Proceed),
        }
    }
}
