//! Finding a ping's monitor, or making it: `?create=1` creates the default monitor, a
//! check-in's `monitor_config` creates it or replaces its spec. Creation and upsert go to
//! the store at once, outside the batch's transaction: they are rare, and the batch then
//! applies its pings to the monitor as stored.

use chrono::{DateTime, Utc};
use opsdeck_core::cron::{MonitorSource, MonitorSpec, Slug, Upserted};
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
        (Provision::Upsert(spec), known) => {
            if known.is_some_and(|known| same_config(known, spec)) {
                return Ok(Provisioned::Same);
            }
            let upserted = store.upsert_monitor(spec, MonitorSource::Checkin, now);
            let upserted = upserted.await?;
            reread(store, slug, upserted == Upserted::Created).await
        }
    }
}

/// The monitor as stored right after this replica created or changed it.
async fn reread(store: &dyn Store, slug: &Slug, created: bool) -> StoreResult<Provisioned> {
    Ok(match store.get_monitor(slug).await? {
        Some(record) => Provisioned::Fresh(record.into(), created),
        None => Provisioned::Missing,
    })
}

/// Whether a check-in's config is what is stored already (from a check-in): then the
/// upsert would change nothing and is skipped. The paused flag is an operator's, not the
/// config's.
fn same_config(known: &Known, wanted: &MonitorSpec) -> bool {
    if known.source != MonitorSource::Checkin {
        return false;
    }
    if known.spec.is_paused() == wanted.is_paused() {
        return *known.spec == *wanted;
    }
    let mut wanted = wanted.clone();
    wanted.set_paused(known.spec.is_paused());
    *known.spec == wanted
}
