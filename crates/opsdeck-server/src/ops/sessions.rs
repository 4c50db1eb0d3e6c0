//! Dashboard sessions: signing in with a personal token opens a server-side session;
//! signing out ends it. Both, and every refused sign-in, are audited.

use std::net::IpAddr;

use opsdeck_core::audit::Target;
use opsdeck_core::auth::Principal;
use opsdeck_core::session::{self, NewSession, SessionSecret};
use uuid::Uuid;

use super::Caller;
use crate::audit::{actor_of, record};
use crate::error::ApiError;
use crate::state::AppState;

/// Where a sign-in came from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub client: Option<IpAddr>,
    /// The browser's `User-Agent`, kept short; shown in the session list.
    pub user_agent: Option<String>,
}

/// Opens a session for `principal` (already verified) and commits its `auth.login` entry;
/// returns the cookie's secret.
pub async fn open_session(
    state: &AppState,
    principal: &Principal,
    origin: Origin,
) -> Result<SessionSecret, ApiError> {
    let config = &state.config().session;
    let now = state.clock().now();
    let new = NewSession {
        principal_id: principal.id.clone(),
        principal_name: principal.name.clone(),
        role: principal.role,
        method: principal.method,
        token_id: principal.id.parse().ok(),
        client_addr: origin.client.map(|ip| ip.to_string()),
        user_agent: origin.user_agent,
        idle_timeout: config.idle_timeout,
        absolute_timeout: config.absolute_timeout,
    };
    let (secret, hash) = session::generate();
    let csrf = session::generate_csrf();
    let created = state
        .store()
        .create_session(&new, &hash, &csrf, now)
        .await?;
    let mut entry = record("auth.login", now);
    entry.actor = Some(actor_of(principal));
    entry.target = Some(session_target(created.id));
    entry.client_addr = origin.client.map(|ip| ip.to_string());
    entry.outcome = 303;
    state
        .audit()
        .record_committed(entry)
        .await
        .map_err(ApiError::internal)?;
    Ok(secret)
}

/// Records a refused sign-in (`message` says why, in words that reveal nothing about
/// tokens that exist).
pub async fn refuse_sign_in(state: &AppState, client: Option<IpAddr>, message: &str) {
    let mut entry = record("auth.login_failed", state.clock().now());
    entry.client_addr = client.map(|ip| ip.to_string());
    entry.outcome = 401;
    entry.reason = Some(message.to_owned());
    state.audit().record(entry).await;
}

/// Ends the caller's session `id` and commits its `auth.logout` entry.
pub async fn end_session(state: &AppState, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let now = state.clock().now();
    state.store().end_session(id, now).await?;
    let mut entry = caller.audit_record("auth.logout", now);
    entry.target = Some(session_target(id));
    entry.outcome = 303;
    state
        .audit()
        .record_committed(entry)
        .await
        .map_err(ApiError::internal)
}

fn session_target(id: Uuid) -> Target {
    Target {
        kind: "session".to_owned(),
        id: id.to_string(),
    }
}
