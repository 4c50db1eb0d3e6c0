//! Cron housekeeping: the liveness heartbeat behind the self-outage guard (every replica),
//! history retention (leader), and syncing `[[cron.monitors]]` and `[[cron.jobs]]` into
//! the store at start.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::cron::{MonitorSource, Upserted};
use opsdeck_core::{Clock, Store};

use crate::background::Job;
use crate::config::CronConfig;

/// A gap between two heartbeats (from any replica) longer than this means opsdeck was down
/// in between: pings sent then may have been lost. Several beats long, so a slow tick or a
/// short GC pause is not an outage.
pub const OUTAGE_GAP: Duration = Duration::from_secs(30);
/// How often each replica records that opsdeck is alive.
pub const LIVENESS_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct LivenessJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl Job for LivenessJob {
    async fn tick(&self) -> anyhow::Result<()> {
        record_liveness(self.store.as_ref(), self.clock.now()).await
    }
}

/// Records that opsdeck is alive at `now`; a gap since the last record longer than
/// [`OUTAGE_GAP`] is stored as an outage (and logged once).
pub async fn record_liveness(store: &dyn Store, now: DateTime<Utc>) -> anyhow::Result<()> {
    if let Some(outage) = store.record_alive(now, OUTAGE_GAP).await? {
        tracing::warn!(
            from = %outage.from,
            until = %outage.until,
            "opsdeck was down: cron slots that fell in this time are recorded as unknown and do not alert"
        );
    }
    Ok(())
}

#[derive(Debug)]
pub struct CronRetentionJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub run_retention: Duration,
}

#[async_trait]
impl Job for CronRetentionJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let now = self.clock.now();
        let cutoff = |keep: Duration| now - chrono::Duration::from_std(keep).unwrap_or_default();
        let runs = self.store.prune_runs(cutoff(self.run_retention)).await?;
        // Slot claims only need to outlive the slot's firing; outages the longest window
        // the evaluator looks back over.
        let slots = self
            .store
            .prune_slots(cutoff(Duration::from_secs(7 * 86400)))
            .await?;
        let outages = self
            .store
            .prune_outages(cutoff(Duration::from_secs(400 * 86400)))
            .await?;
        if runs + slots + outages > 0 {
            tracing::info!(runs, slots, outages, "pruned cron history");
        }
        Ok(())
    }
}

/// Creates or updates every monitor and job of the configuration (as source `config`).
/// Monitors that left the configuration are kept, with their history: deleting is an
/// admin's decision (`DELETE /ops/cron/{slug}`).
pub async fn sync_config(
    store: &dyn Store,
    clock: &dyn Clock,
    config: &CronConfig,
) -> anyhow::Result<()> {
    let definitions = config
        .monitors
        .iter()
        .chain(config.jobs.iter().map(|job| &job.monitor));
    let (mut created, mut updated) = (0, 0);
    for definition in definitions {
        let spec = definition.to_spec().map_err(|problems| {
            anyhow::anyhow!(
                "cron monitor {}: {}",
                definition.slug,
                problems
                    .iter()
                    .map(|(key, message)| format!("{key}: {message}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
        match store
            .upsert_monitor(&spec, MonitorSource::Config, clock.now())
            .await?
        {
            Upserted::Created => created += 1,
            Upserted::Updated => updated += 1,
            Upserted::Unchanged => {}
        }
    }
    if created + updated > 0 {
        tracing::info!(created, updated, "cron monitors from the configuration");
    }
    Ok(())
}
