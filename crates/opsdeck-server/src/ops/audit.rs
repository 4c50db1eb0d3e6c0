//! The audit log (admin, SPEC §2): filtered, paginated reading, and verification of the hash
//! chain.

use opsdeck_core::audit::{
    AuditEntry, AuditFilter, SignedCheckpoint, VerifyReport, verify_chain, verify_chain_to,
};
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

/// Walks the whole hash chain, reports the first entry that does not fit, and proves the
/// chain still reaches this replica's latest signed checkpoint; answers the report and the
/// replica's recent checkpoints, newest first.
pub async fn verify(
    state: &AppState,
    caller: &Caller,
) -> Result<(VerifyReport, Vec<SignedCheckpoint>), ApiError> {
    caller.require(Permission::Administer)?;
    let recent = state.checkpoints().recent();
    let store = state.store().as_ref();
    let report = match recent.first() {
        Some(latest) => verify_chain_to(store, 1000, &latest.checkpoint).await?,
        None => verify_chain(store, 1000).await?,
    };
    Ok((report, recent))
}
