//! The alert delivery log (SPEC §4): every status change sent to every webhook, with its
//! attempts and last error, newest first. Webhooks are named, never shown by URL.

use opsdeck_core::alert::{Delivery, DeliveryFilter};
use opsdeck_core::auth::Permission;

use super::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The deliveries `filter` selects, newest first.
pub async fn list_deliveries(
    state: &AppState,
    caller: &Caller,
    filter: &DeliveryFilter,
) -> Result<Vec<Delivery>, ApiError> {
    caller.require(Permission::ReadOps)?;
    Ok(state.store().list_alert_deliveries(filter).await?)
}
