//! Finding a ping's monitor, or making it: `?create=1` creates the default monitor, a
//! check-in's `monitor_config` creates it or changes what the config carries of its spec
//! ([`SpecPatch`]), leaving the rest and the source as they are: a monitor defined in the
//! config file or by an admin stays theirs when an SDK reports on it. Creation and
//! changes go to the store at once, outside the batch's transaction: they are rare, and
//! the batch then applies its pings to the monitor as stored.

use chrono::{DateTime, Utc};
use opsdeck_core::cron::{MonitorSource, MonitorSpec, SpecPatch, Upserted};
use opsdeck_core::ids::Slug;
use opsdeck_core::{Store, StoreError, StoreResult};

use super::Provision;
use super::cache::{Known, MonitorCache};

/// What provisioning found for one ping.
pub(super) enum Provisioned {
    /// The monitor as known serves.
    Same,
    /// Created or changed just now: its stored form, and whether this ping created it.
    Fresh(Known, bool),
    /// It does not exist and this ping may not create it.
    Missing,
}

/// The monitor as last known here, else as stored; `None` if it does not exist.
pub(super) async fn known(
    store: &dyn Store,
    cache: &MonitorCache,
    slug: &Slug,
) -> StoreResult<Option<Known>> {
    if let Some(known) = cache.get(slug) {
        return Ok(Some(known.clone()));
    }
    Ok(store.get_monitor(slug).await?.map(Known::from))
}

/// What `provision` makes of the monitor (`known` as known before this ping) for a ping
/// at `now`.
pub(super) async fn provision(
    store: &dyn Store,
    slug: &Slug,
    known: Option<&Known>,
    provision: &Provision,
    now: DateTime<Utc>,
) -> StoreResult<Provisioned> {
    match (provision, known) {
        (Provision::Existing | Provision::AutoCreate, Some(_)) => Ok(Provisioned::Same),
        (Provision::Existing, None) => Ok(Provisioned::Missing),
        (Provision::AutoCreate, None) => {
            let spec = MonitorSpec::auto_created(slug.clone());
            match store.create_monitor(&spec, MonitorSource::Ping, now).await {
                Ok(record) => Ok(Provisioned::Fresh(record.into(), true)),
                // Created meanwhile by another replica or request: use that one.
                Err(StoreError::Conflict(_)) => reread(store, slug, false).await,
                Err(err) => Err(err),
            }
        }
        (Provision::Upsert(patch), known) => configure(store, slug, known, patch, now).await,
    }
}

/// A check-in's config: creates the monitor, or merges the config into it. When the
/// merge changes nothing (the same config on every check-in, as SDKs send it), nothing
/// is written.
async fn configure(
    store: &dyn Store,
    slug: &Slug,
    known: Option<&Known>,
    patch: &SpecPatch,
    now: DateTime<Utc>,
) -> StoreResult<Provisioned> {
    if let Some(known) = known {
        if patch
            .apply_to(&known.spec)
            .is_ok_and(|merged| merged == *known.spec)
        {
            return Ok(Provisioned::Same);
        }
        // The merge keeps what the config does not carry, so it must start from the
        // monitor as stored, not as cached here.
        return merge(store, slug, patch, now).await;
    }
    match store
        .create_monitor(patch.created(), MonitorSource::Checkin, now)
        .await
    {
        Ok(record) => Ok(Provisioned::Fresh(record.into(), true)),
        // Created meanwhile by another replica, request or admin: merge into that one.
        Err(StoreError::Conflict(_)) => merge(store, slug, patch, now).await,
        Err(err) => Err(err),
    }
}

/// Merges a check-in's config into the stored monitor, keeping its source.
async fn merge(
    store: &dyn Store,
    slug: &Slug,
    patch: &SpecPatch,
    now: DateTime<Utc>,
) -> StoreResult<Provisioned> {
    let Some(record) = store.get_monitor(slug).await? else {
        // Deleted meanwhile: the check-in creates it, as it would have a moment later.
        let upserted = store.upsert_monitor(patch.created(), MonitorSource::Checkin, now);
        let upserted = upserted.await?;
        return reread(store, slug, upserted == Upserted::Created).await;
    };
    let merged = match patch.apply_to(&record.spec) {
        Ok(merged) => merged,
        Err(refused) => {
            // The ping still counts; the handler could not see the stored spec, and a
            // ping is not refused after the fact.
            tracing::warn!(
                target: "opsdeck::cron",
                slug = %slug,
                field = refused.field,
                problem = %refused.problem,
                "check-in monitor_config ignored: it contradicts the stored monitor"
            );
            return Ok(Provisioned::Fresh(record.into(), false));
        }
    };
    if merged == record.spec {
        return Ok(Provisioned::Fresh(record.into(), false));
    }
    // An upsert rather than an update: it leaves the paused flag alone (an operator may
    // pause the monitor between the read above and this write).
    store.upsert_monitor(&merged, record.source, now).await?;
    reread(store, slug, false).await
}

/// The monitor as stored right after this replica created or changed it.
async fn reread(store: &dyn Store, slug: &Slug, created: bool) -> StoreResult<Provisioned> {
    Ok(match store.get_monitor(slug).await? {
        Some(record) => Provisioned::Fresh(record.into(), created),
        None => Provisioned::Missing,
    })
}
