//! Health (SPEC §3): one check's detail (what it reports now, its history and figures) and
//! running a check now (operator, guarded). The service's overall document is served from
//! memory by the health monitor itself (`crate::health`), so a hung dependency cannot slow
//! it.

use opsdeck_core::auth::Permission;
use opsdeck_core::ids::CheckName;

use super::{Act, Caller, Done};
use crate::error::ApiError;
use crate::health::{CheckDetail, CheckView, check_detail};
use crate::state::AppState;

/// The configured check `name` names; 404 otherwise.
pub fn known_check(state: &AppState, name: &str) -> Result<CheckName, ApiError> {
    CheckName::parse(name)
        .ok()
        .filter(|name| state.health().spec(name).is_some())
        .ok_or_else(|| no_such_check(name))
}

fn no_such_check(name: &str) -> ApiError {
    // The name came from a URL: echo it only if it is a plausible check name.
    match CheckName::parse(name) {
        Ok(name) => ApiError::not_found(format!("no health check named \"{name}\"")),
        Err(_) => ApiError::not_found("no health check with that name"),
    }
}

/// One check: what it reports now, its status changes over 7 days, its samples over 24
/// hours, and uptime and latency percentiles over 24 hours and 7 days.
pub async fn get_check(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<CheckDetail, ApiError> {
    caller.require(Permission::ReadOps)?;
    let name = known_check(state, name)?;
    check_detail(state.health(), &name)
        .await?
        .ok_or_else(|| no_such_check(name.as_str()))
}

/// Runs one check now (waiting for a run already in flight) and answers its new state. The
/// entry is committed before the probe runs: a probe that hangs until its timeout still
/// leaves its trace.
pub async fn run_check(state: &AppState, act: Act<'_>, name: &str) -> Result<CheckView, ApiError> {
    act.caller.require(Permission::OperateOps)?;
    let name = known_check(state, name)?;
    act.record(
        &Done::new("health.check.run", "check", name.to_string()),
        200,
    )
    .await?;
    state
        .health()
        .run_now(&name)
        .await
        .ok_or_else(|| no_such_check(name.as_str()))
}
