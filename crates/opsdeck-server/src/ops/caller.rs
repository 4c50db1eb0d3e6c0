//! Who asks: the [`Caller`] every view and action takes. It carries the principal (its role
//! decides what it may do), where the request came from and its request id, so an action's
//! audit entry names all of them, whether the call came through the JSON API, a dashboard
//! form or the command line.

use std::net::IpAddr;

use opsdeck_core::audit::{Actor, AuditRecord, Target};
use opsdeck_core::auth::{AuthMethod, Permission, Principal, Role};
use opsdeck_core::ids::TenantId;

use super::Reason;
use crate::audit::{AuditSink, actor_of, record};
use crate::error::ApiError;

/// The principal behind a call and where the call came from.
#[derive(Debug, Clone)]
pub struct Caller {
    actor: Actor,
    role: Role,
    client: Option<IpAddr>,
    request_id: Option<String>,
}

impl Caller {
    /// A caller of the HTTP API or the dashboard.
    pub fn new(principal: &Principal, client: Option<IpAddr>, request_id: Option<String>) -> Self {
        Self {
            actor: actor_of(principal),
            role: principal.role,
            client,
            request_id,
        }
    }

    /// Someone at the server's command line (`opsdeck token …`): whoever can run it can read
    /// the database directly, so it acts as an admin; the audit log names the system user.
    pub fn command_line() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        Self {
            actor: Actor {
                id: format!("cli:{user}"),
                name: user,
                method: AuthMethod::Cli.as_str().to_owned(),
            },
            role: Role::Admin,
            client: None,
            request_id: None,
        }
    }

    /// The principal's id, as the audit log and `created_by` fields name it.
    pub fn id(&self) -> &str {
        &self.actor.id
    }

    /// The principal's name, as the audit log shows it.
    pub fn name(&self) -> &str {
        &self.actor.name
    }

    /// Refuses (403) a caller whose role lacks `permission`. The route table refuses such
    /// requests before a handler runs; this is the use-case's own check, which holds for
    /// every way in, the command line included.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "role `{}` may not {}",
                self.role,
                permission.describe()
            )))
        }
    }

    /// An audit record of `action` by this caller at `at`: actor, client and request id
    /// filled in; the rest is the action's.
    pub fn audit_record(&self, action: &str, at: chrono::DateTime<chrono::Utc>) -> AuditRecord {
        let mut entry = record(action, at);
        entry.actor = Some(self.actor.clone());
        entry.client_addr = self.client.map(|ip| ip.to_string());
        entry.request_id = self.request_id.clone();
        entry
    }

    fn entry(
        &self,
        done: &Done,
        reason: Option<&Reason>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> AuditRecord {
        let mut entry = self.audit_record(done.action, at);
        entry.target = Some(done.target.clone());
        entry.tenant_id = done.tenant.clone();
        entry.reason = reason.map(|r| r.as_str().to_owned());
        entry
    }
}

/// What an action did, and to what: the audit entry's action and target.
#[derive(Debug, Clone)]
pub struct Done {
    pub action: &'static str,
    pub target: Target,
    pub tenant: Option<TenantId>,
}

impl Done {
    pub fn new(action: &'static str, kind: &str, id: impl Into<String>) -> Self {
        Self {
            action,
            target: Target {
                kind: kind.to_owned(),
                id: id.into(),
            },
            tenant: None,
        }
    }

    pub fn for_tenant(mut self, tenant: Option<TenantId>) -> Self {
        self.tenant = tenant;
        self
    }
}

/// The outcome an action's audit entry records: the HTTP status the JSON API answers for
/// it, whichever way it was called, so entries of one action read the same.
pub type Outcome = u16;

/// Where a guarded action writes its audit entry: the caller, the reason, and the log.
#[derive(Debug, Clone, Copy)]
pub struct Act<'a> {
    pub caller: &'a Caller,
    pub reason: &'a Reason,
    pub audit: &'a AuditSink,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Act<'_> {
    /// Commits the entry of an action on opsdeck's own data, after the change and before
    /// the caller is answered: an action is never answered without its entry.
    pub async fn record(&self, done: &Done, outcome: Outcome) -> Result<(), ApiError> {
        let mut entry = self.caller.entry(done, Some(self.reason), self.now);
        entry.outcome = outcome;
        self.audit
            .record_committed(entry)
            .await
            .map_err(ApiError::internal)
    }

    /// For an action on someone else's system, which opsdeck cannot take back: commits the
    /// entry, with the reason and no outcome yet, *before* the action runs, so even a crash
    /// in the middle leaves a trace. [`Begun::finish`] records how it ended.
    pub async fn begin(&self, done: Done) -> Result<Begun, ApiError> {
        let entry = self.caller.entry(&done, Some(self.reason), self.now);
        self.audit
            .record_committed(entry)
            .await
            .map_err(ApiError::internal)?;
        Ok(Begun {
            caller: self.caller.clone(),
            audit: self.audit.clone(),
            done,
        })
    }
}

/// An action whose start is in the audit log; [`Begun::finish`] adds its outcome.
#[derive(Debug)]
#[must_use = "an action begun must record its outcome"]
pub struct Begun {
    caller: Caller,
    audit: AuditSink,
    done: Done,
}

impl Begun {
    /// Commits the outcome entry (same action and target, no reason: the reason is in the
    /// entry that began it).
    pub async fn finish(
        self,
        outcome: Outcome,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ApiError> {
        let mut entry = self.caller.entry(&self.done, None, at);
        entry.outcome = outcome;
        self.audit
            .record_committed(entry)
            .await
            .map_err(ApiError::internal)
    }
}
