//! The replicas sharing opsdeck's database and which one leads the background loops.

use chrono::{DateTime, Utc};
use opsdeck_core::auth::Permission;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// One replica as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    pub id: Uuid,
    pub hostname: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// Whether this replica holds the leader lease and runs the leader-only loops.
    pub leader: bool,
    /// Whether this is the replica that answered the request.
    pub this: bool,
}

/// Replicas seen recently, most recently seen first.
pub async fn list_instances(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<InstanceView>, ApiError> {
    caller.require(Permission::ReadOps)?;
    let store = state.store();
    let lease = store.get_lease(crate::background::LEADER_LEASE).await?;
    let now = state.clock().now();
    let leader = lease.filter(|l| l.expires_at > now).map(|l| l.holder);
    let this = state.instance().id;
    Ok(store
        .list_instances()
        .await?
        .into_iter()
        .map(|r| InstanceView {
            leader: leader.as_deref() == Some(r.info.id.to_string().as_str()),
            this: r.info.id == this,
            id: r.info.id,
            hostname: r.info.hostname,
            version: r.info.version,
            started_at: r.info.started_at,
            last_seen_at: r.last_seen_at,
        })
        .collect())
}

/// Whether this replica can serve: its database answers within `timeout` and it is not
/// shutting down; `Err` says which in a few words. Public (`/readyz`), so it says nothing
/// more.
pub async fn readiness(state: &AppState, timeout: std::time::Duration) -> Result<(), &'static str> {
    if state.is_draining() {
        return Err("shutting down");
    }
    // During an outage the background probe watches the database; say so at once.
    if state.store().availability().is_down() {
        return Err("the database does not answer");
    }
    match tokio::time::timeout(timeout, state.store().ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => {
            tracing::warn!(error = %crate::error::chain(&err), "readiness: database ping failed");
            Err("the database does not answer")
        }
        Err(_) => {
            tracing::warn!("readiness: database ping timed out");
            Err("the database does not answer in time")
        }
    }
}
