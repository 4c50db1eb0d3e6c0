//! What every state-changing action shares: a validated `reason`, and an audit entry naming
//! the actor, the target and the reason, committed before the action answers.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use opsdeck_core::audit::Target;

use crate::audit::{actor_of, record};
use crate::error::ApiError;
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
            1..=500 => Ok(Reason(trimmed.to_owned())),
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
