//! `GET /ops/instances`: the replicas sharing this database and which one leads.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::ops::Caller;
use crate::ops::instances::{self, InstanceView};
use crate::state::AppState;

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
pub async fn list_instances(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<InstanceList>, ApiError> {
    let instances = instances::list_instances(&state, &caller).await?;
    Ok(Json(InstanceList { instances }))
}
