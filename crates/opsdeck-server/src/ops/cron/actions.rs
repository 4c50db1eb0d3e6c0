//! The guarded changes of cron monitors: create, update and delete (admin, "manage monitors'
//! config"); pause, resume and trigger (operator). Each checks its permission, makes the
//! change and commits its audit entry (with the reason) before the caller is answered.

use opsdeck_core::StoreError;
use opsdeck_core::auth::Permission;
use opsdeck_core::cron::{MonitorRecord, MonitorSource, MonitorSpec};
use opsdeck_core::ids::Slug;
use uuid::Uuid;

use super::{MonitorView, no_monitor};
use crate::cron::TriggerError;
use crate::error::ApiError;
use crate::ops::{Act, Done};
use crate::state::AppState;

fn changed(action: &'static str, record: &MonitorRecord) -> Done {
    Done::new(action, "monitor", record.spec.slug().to_string())
        .for_tenant(record.spec.settings().tenant_id.clone())
}

/// Creates a monitor; 409 if the slug is taken.
pub async fn create_monitor(
    state: &AppState,
    act: Act<'_>,
    spec: &MonitorSpec,
) -> Result<MonitorView, ApiError> {
    act.caller.require(Permission::Administer)?;
    let record = match state
        .store()
        .create_monitor(spec, MonitorSource::Api, act.now)
        .await
    {
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict(format!(
                "a cron monitor \"{}\" exists already",
                spec.slug()
            )));
        }
        other => other?,
    };
    act.record(&changed("cron.monitor.created", &record), 201)
        .await?;
    Ok(MonitorView::new(&record, act.now))
}

/// Replaces a monitor's definition, keeping its runs and state; 404 if there is none.
pub async fn update_monitor(
    state: &AppState,
    act: Act<'_>,
    spec: &MonitorSpec,
) -> Result<MonitorView, ApiError> {
    act.caller.require(Permission::Administer)?;
    let record = match state.store().update_monitor(spec, act.now).await {
        Err(StoreError::NotFound) => return Err(no_monitor(spec.slug())),
        other => other?,
    };
    act.record(&changed("cron.monitor.updated", &record), 200)
        .await?;
    Ok(MonitorView::new(&record, act.now))
}

/// Deletes a monitor with its runs; 404 if there is none.
pub async fn delete_monitor(state: &AppState, act: Act<'_>, slug: &Slug) -> Result<(), ApiError> {
    act.caller.require(Permission::Administer)?;
    if !state.store().delete_monitor(slug).await? {
        return Err(no_monitor(slug));
    }
    let done = Done::new("cron.monitor.deleted", "monitor", slug.to_string());
    act.record(&done, 204).await
}

/// Pauses (runs are still recorded; nothing is expected or alerted) or resumes a monitor
/// (the slots of the pause are not expected after the fact); 404 if there is none.
pub async fn set_paused(
    state: &AppState,
    act: Act<'_>,
    slug: &Slug,
    paused: bool,
) -> Result<MonitorView, ApiError> {
    act.caller.require(Permission::OperateOps)?;
    let record = match state
        .store()
        .set_monitor_paused(slug, paused, act.now)
        .await
    {
        Err(StoreError::NotFound) => return Err(no_monitor(slug)),
        other => other?,
    };
    let action = if paused {
        "cron.monitor.paused"
    } else {
        "cron.monitor.resumed"
    };
    act.record(&changed(action, &record), 200).await?;
    Ok(MonitorView::new(&record, act.now))
}

/// Fires the HTTP job `slug` (a `[[cron.jobs]]` entry) now, outside its schedule: answers
/// the new run's id once its start is recorded, while the call goes on. 404 for no monitor,
/// 409 for a monitor that is not an HTTP job, 503 while shutting down.
pub async fn trigger_job(state: &AppState, act: Act<'_>, slug: &Slug) -> Result<Uuid, ApiError> {
    act.caller.require(Permission::OperateOps)?;
    let run_id = crate::cron::trigger(state, slug)
        .await
        .map_err(|err| match err {
            TriggerError::NotFound => no_monitor(slug),
            TriggerError::NotAJob => ApiError::conflict(format!(
                "\"{slug}\" is not an HTTP job opsdeck fires: only [[cron.jobs]] monitors can be triggered"
            )),
            TriggerError::Unavailable => ApiError::unavailable(err.to_string()),
        })?;
    let done = Done::new("cron.monitor.triggered", "monitor", slug.to_string());
    act.record(&done, 202).await?;
    Ok(run_id)
}
