//! The audit log (admin, SPEC §2): filtered, paginated reading, and verification of the hash
//! chain.

use opsdeck_core::audit::{AuditEntry, AuditFilter, VerifyReport, verify_chain};
use opsdeck_core::auth::Permission;

use super::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Entries `filter` selects, newest first.
pub async fn list_entries(
    state: &AppState,
    caller: &Caller,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, ApiError> {
    caller.require(Permission::Administer)?;
    Ok(state.store().list_audit(filter).await?)
}

/// Walks the whole hash chain and reports the first entry that does not fit.
pub async fn verify(state: &AppState, caller: &Caller) -> Result<VerifyReport, ApiError> {
    caller.require(Permission::Administer)?;
    Ok(verify_chain(state.store().as_ref(), 1000).await?)
}
