//! The use-cases: every view and every guarded action opsdeck offers, each written once.
//! A view checks the caller's permission and reads; an action checks the permission, takes
//! the parsed [`Reason`], changes what it changes and writes its own audit entry through
//! [`Act`]. The JSON API (`api/`), the dashboard (`web/`) and the command line are thin
//! adapters over these functions: they parse input, call in here and render, so an action
//! has one permission check, one reason and one audit entry whichever way it is called.
//!
//! Use-cases the command line also runs (tokens) take [`Ops`], the part of the server they
//! need; the others take the server's [`crate::state::AppState`].

mod bulk;
mod caller;
mod last_good;
mod reason;

pub mod alerts;
pub mod audit;
pub mod cron;
pub mod health;
pub mod impersonation;
pub mod instances;
pub mod queues;
pub mod sessions;
pub mod tenants;
pub mod tokens;

use std::sync::Arc;

use opsdeck_core::{Clock, Store, SystemClock};
use tokio_util::sync::CancellationToken;

pub use bulk::{BulkDecision, BulkGuard};
pub use caller::{Act, Begun, Caller, Done, Outcome};
pub use last_good::LastGood;
pub use reason::Reason;

use crate::audit::AuditSink;
use crate::auth::cache::CredentialCache;
use crate::state::AppState;

/// What the use-cases that also run outside the server need: the store, the clock, the
/// audit log and, when serving, this process's credential cache.
#[derive(Debug, Clone, Copy)]
pub struct Ops<'a> {
    pub store: &'a Arc<dyn Store>,
    pub clock: &'a Arc<dyn Clock>,
    pub audit: &'a AuditSink,
    /// Forgets a revoked token at once on this replica; `None` at the command line.
    pub credentials: Option<&'a CredentialCache>,
}

impl<'a> Ops<'a> {
    /// The guarded action `caller` takes for `reason`, timed now.
    pub fn act(&self, caller: &'a Caller, reason: &'a Reason) -> Act<'a> {
        Act {
            caller,
            reason,
            audit: self.audit,
            now: self.clock.now(),
        }
    }
}

/// Runs `action` with an [`Ops`] of its own on `store`, outside a server (the command
/// line): its audit entries go through an audit writer that is drained before this returns.
pub async fn with_offline_ops<T>(
    store: &Arc<dyn Store>,
    action: impl AsyncFnOnce(Ops<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (audit, writer) = AuditSink::new(store.clone(), None);
    let cancel = CancellationToken::new();
    let writing = tokio::spawn(writer.run(cancel.clone()));
    let result = action(Ops {
        store,
        clock: &clock,
        audit: &audit,
        credentials: None,
    })
    .await;
    cancel.cancel();
    writing.await?;
    result
}

impl AppState {
    /// The server's [`Ops`].
    pub fn ops(&self) -> Ops<'_> {
        Ops {
            store: self.store(),
            clock: self.clock(),
            audit: self.audit(),
            credentials: Some(self.token_usage().credentials()),
        }
    }
}
