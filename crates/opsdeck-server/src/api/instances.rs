//! `GET /ops/instances`: the replicas sharing this database and which one leads.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

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

#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceList {
    pub instances: Vec<InstanceView>,
}

/// Replicas seen recently, most recently seen first.
#[utoipa::path(get, path = "/ops/instances", tag = "ops",
    responses(
        (status = 200, body = InstanceList),
        (status = 401, description = "no principal", body = crate::error::ErrorBody),
        (status = 503, description = "database unavailable", body = crate::error::ErrorBody),
    ))]
pub async fn list_instances(State(state): State<AppState>) -> Result<Json<InstanceList>, ApiError> {
    let store = state.store();
    let lease = store.get_lease(crate::background::LEADER_LEASE).await?;
    let now = state.clock().now();
    let leader = lease.filter(|l| l.expires_at > now).map(|l| l.holder);
    let this = state.instance().id;
    let instances = store
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
        .collect();
    Ok(Json(InstanceList { instances }))
}
