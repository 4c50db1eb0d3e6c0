//! Cron monitoring (SPEC §4), the server's part: receiving pings and check-ins and
//! committing them (`ingest`), judging monitors as time passes (`evaluator`), firing HTTP
//! cron jobs (`scheduler`), and housekeeping (`upkeep`: liveness for the self-outage guard,
//! retention, the configuration sync). The decisions themselves live in
//! `opsdeck_core::cron`.

mod evaluator;
pub mod ingest;
mod scheduler;
mod upkeep;

use std::sync::Arc;
use std::time::Duration;

pub use evaluator::EvaluateJob;
pub use scheduler::{Firings, SchedulerJob, TriggerError, trigger};
pub use upkeep::{LIVENESS_INTERVAL, OUTAGE_GAP, sync_config};

use crate::background::{Background, LoopSpec, Scope};
use crate::state::AppState;
use upkeep::{CronRetentionJob, LivenessJob};

/// Starts the cron loops: the evaluator and retention on the leader, liveness and the
/// HTTP scheduler everywhere.
pub fn spawn_cron_loops(state: &AppState, background: &Background) {
    let config = &state.config().cron;
    match SchedulerJob::new(state) {
        Ok(Some(job)) => background.spawn(
            LoopSpec {
                name: "cron_scheduler",
                interval: scheduler::TICK,
                // Slots are claimed in the database: replicas may tick at the same time.
                jitter: Duration::ZERO,
                timeout: Duration::from_secs(10),
                scope: Scope::EveryReplica,
            },
            Arc::new(job),
        ),
        Ok(None) => {}
        Err(err) => tracing::error!(
            error = %crate::error::chain(err.as_ref()),
            "the cron scheduler cannot start: [[cron.jobs]] will not be fired"
        ),
    }
    background.spawn(
        LoopSpec {
            name: "cron_evaluate",
            interval: config.evaluate_interval,
            jitter: Duration::ZERO,
            timeout: Duration::from_secs(30),
            scope: Scope::Leader,
        },
        Arc::new(EvaluateJob {
            store: state.store().clone(),
            clock: state.clock().clone(),
            alerts: state.alerts().clone(),
        }),
    );
    background.spawn(
        LoopSpec {
            name: "cron_liveness",
            interval: LIVENESS_INTERVAL,
            jitter: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
            scope: Scope::EveryReplica,
        },
        Arc::new(LivenessJob {
            store: state.store().clone(),
            clock: state.clock().clone(),
        }),
    );
    background.spawn(
        LoopSpec {
            name: "cron_retention",
            interval: Duration::from_secs(3600),
            jitter: Duration::from_secs(60),
            timeout: Duration::from_secs(300),
            scope: Scope::Leader,
        },
        Arc::new(CronRetentionJob {
            store: state.store().clone(),
            clock: state.clock().clone(),
            run_retention: config.run_retention,
        }),
    );
}
