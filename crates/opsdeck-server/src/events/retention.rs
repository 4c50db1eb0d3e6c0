//! Retention of application events: the leader deletes, once an hour, raw events, rollups
//! and audit events past their `[events]` retention.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use opsdeck_core::events::EventCutoffs;
use opsdeck_core::{Clock, Store};

use crate::background::{Background, Job, LoopSpec, Scope};
use crate::config::EventsConfig;
use crate::state::AppState;

/// Starts the event loops: retention, on the leader.
pub fn spawn_event_loops(state: &AppState, background: &Background) {
    background.spawn(
        LoopSpec {
            name: "event_retention",
            interval: Duration::from_secs(3600),
            jitter: Duration::from_secs(60),
            timeout: Duration::from_secs(600),
            scope: Scope::Leader,
        },
        Arc::new(EventRetentionJob {
            store: state.store().clone(),
            clock: state.clock().clone(),
            config: state.config().events.clone(),
        }),
    );
}

#[derive(Debug)]
pub struct EventRetentionJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: EventsConfig,
}

#[async_trait]
impl Job for EventRetentionJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let now = self.clock.now();
        let cutoff = |keep: Duration| {
            chrono::Duration::from_std(keep)
                .ok()
                .and_then(|keep| now.checked_sub_signed(keep))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
        };
        let cutoffs = EventCutoffs {
            raw: cutoff(self.config.raw_retention),
            hourly: cutoff(self.config.hourly_retention),
            daily: cutoff(self.config.daily_retention),
            audit: cutoff(self.config.audit_retention),
        };
        let pruned = self.store.prune_events(&cutoffs).await?;
        if pruned.raw + pruned.rollups + pruned.audit > 0 {
            tracing::info!(
                raw = pruned.raw,
                rollups = pruned.rollups,
                audit = pruned.audit,
                "pruned application events"
            );
        }
        Ok(())
    }
}
