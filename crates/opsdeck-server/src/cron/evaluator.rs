//! The evaluator (leader only): monitors whose next deadline has come are judged with
//! [`opsdeck_core::cron::evaluate`] — late, missed, timed out, thresholds, maintenance,
//! the self-outage guard — and each step is committed with the monitor's version, so a
//! ping committed meanwhile wins and the step is simply redone on the next tick. Alerts go
//! out only after their step is committed. Each tick first records opsdeck's own liveness,
//! so an outage of opsdeck is known before the slots that fell in it are judged.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use opsdeck_core::cron::{MonitorRecord, StateWrite, evaluate};
use opsdeck_core::{Clock, Store, StoreError};

use crate::alerts::Dispatcher;
use crate::background::Job;

/// Monitors judged per round; a tick keeps going while rounds come back full.
const BATCH: u32 = 256;
/// Rounds per tick at most, so one tick stays short even with a huge backlog.
const ROUNDS: usize = 8;
/// How far back outages are read: longer than any grace plus max_runtime a monitor may
/// have, so a run that spans an old outage is still judged unknown.
const OUTAGE_LOOKBACK_DAYS: i64 = 400;

#[derive(Debug)]
pub struct EvaluateJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub alerts: Dispatcher,
}

#[async_trait]
impl Job for EvaluateJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let now = self.clock.now();
        // Whatever woke first after opsdeck was away — a restart, a paused VM — the gap
        // must be on record before any slot in it is judged, or those slots would count
        // as missed and alert. The evaluator is therefore a heartbeat itself.
        super::upkeep::record_liveness(self.store.as_ref(), now).await?;
        let outages = self
            .store
            .outages_since(now - Duration::days(OUTAGE_LOOKBACK_DAYS))
            .await?;
        for _ in 0..ROUNDS {
            let due = self.store.due_monitors(now, BATCH).await?;
            let full = due.len() == BATCH as usize;
            if due.is_empty() {
                break;
            }
            let (writes, records): (Vec<StateWrite>, Vec<MonitorRecord>) = due
                .into_iter()
                .map(|record| {
                    let mut state = record.state.clone();
                    let outcome = evaluate(&record.spec, &mut state, now, &outages);
                    let write = StateWrite {
                        slug: record.spec.slug().clone(),
                        version: record.version,
                        next_check_at: state.next_check_at(&record.spec, now),
                        state,
                        outcome,
                        now,
                    };
                    (write, record)
                })
                .unzip();
            let results = self.store.apply_outcomes(&writes).await?;
            let mut progressed = false;
            for ((write, record), result) in writes.iter().zip(&records).zip(results) {
                match result {
                    Ok(_) => {
                        progressed |= write.next_check_at.is_none_or(|at| at > now);
                        if let Some(alert) = &write.outcome.alert {
                            self.alerts.notify(alert.event(&record.spec));
                        }
                    }
                    // A ping or an operator changed the monitor since it was read: the
                    // next tick judges it afresh.
                    Err(StoreError::Conflict(_) | StoreError::NotFound) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            if !full || !progressed {
                break;
            }
        }
        // The counts by status the lists show: their change log stays a few ticks long.
        self.store.fold_monitor_counts().await?;
        Ok(())
    }
}
