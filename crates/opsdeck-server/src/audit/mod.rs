//! The audit trail of the server: every `/ops` and dashboard request, allowed or denied, and
//! every auth event goes through [`AuditSink`]. Records are appended by one writer task per
//! replica in batches (one short transaction per batch, chained in the database), so
//! requests never queue on the chain lock; actions that change state wait for their entry
//! to be committed before they answer. Signed checkpoints of the log's head ([`checkpoint`])
//! anchor it outside the database.

pub mod checkpoint;
mod sink;
mod spool;

pub use checkpoint::{CheckpointJob, Checkpointer};
pub use sink::{AuditSink, AuditWriter};
pub use spool::Spool;

use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::auth::Principal;

/// The audit actor for an authenticated principal.
pub fn actor_of(principal: &Principal) -> Actor {
    Actor {
        id: principal.id.clone(),
        name: principal.name.clone(),
        method: principal.method.as_str().to_owned(),
    }
}

/// A record with only the action and time set; callers fill in the rest.
pub fn record(action: impl Into<String>, at: chrono::DateTime<chrono::Utc>) -> AuditRecord {
    AuditRecord {
        at,
        actor: None,
        action: action.into(),
        target: None,
        tenant_id: None,
        outcome: 0,
        client_addr: None,
        request_id: None,
        reason: None,
    }
}
