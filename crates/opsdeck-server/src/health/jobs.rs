//! The health loops: one per check on the leader (each at its own interval, so a slow probe
//! delays only itself), a refresh on every replica (followers load the leader's results;
//! everyone recomputes 24 h uptime), and history compaction on the leader.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::RngExt as _;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::monitor::HealthMonitor;
use crate::background::{Background, Job, LoopSpec, Scope};
use crate::config::HealthConfig;
use opsdeck_core::health::Retention;

/// How often replicas refresh what they show.
const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Starts every health loop on `background`.
pub fn spawn_health_loops(
    monitor: &HealthMonitor,
    config: &HealthConfig,
    background: &Background,
    leader: watch::Receiver<bool>,
) {
    for index in 0..monitor.len() {
        background.spawn_task(probe_loop(
            monitor.clone(),
            index,
            leader.clone(),
            background.cancellation(),
        ));
    }
    background.spawn(
        LoopSpec {
            name: "health_refresh",
            interval: REFRESH_INTERVAL,
            jitter: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
            scope: Scope::EveryReplica,
        },
        Arc::new(RefreshJob {
            monitor: monitor.clone(),
            leader: leader.clone(),
        }),
    );
    background.spawn(
        LoopSpec {
            name: "health_compaction",
            interval: Duration::from_secs(600),
            jitter: Duration::from_secs(30),
            timeout: Duration::from_secs(120),
            scope: Scope::Leader,
        },
        Arc::new(CompactionJob {
            monitor: monitor.clone(),
            retention: config.retention(),
        }),
    );
}

/// Runs one check at its interval while this replica leads. On gaining the lead it probes
/// at once, so a fresh start or a failover shows results within seconds.
async fn probe_loop(
    monitor: HealthMonitor,
    index: usize,
    mut leader: watch::Receiver<bool>,
    cancel: CancellationToken,
) {
    let interval = monitor.spec_at(index).interval;
    loop {
        if !*leader.borrow_and_update() {
            tokio::select! {
                () = cancel.cancelled() => return,
                changed = leader.changed() => if changed.is_err() { return },
            }
            continue;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = monitor.run(index) => {}
        }
        // A little jitter so checks with one interval do not probe in lockstep.
        let jitter = rand::rng().random_range(0..=interval.as_millis() as u64 / 20);
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval + Duration::from_millis(jitter)) => {}
        }
    }
}

struct RefreshJob {
    monitor: HealthMonitor,
    leader: watch::Receiver<bool>,
}

#[async_trait]
impl Job for RefreshJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let leading = *self.leader.borrow();
        // The leader's memory is the source; followers copy the leader's latest results.
        self.monitor.load_from_store(!leading).await?;
        self.monitor.refresh_uptime().await?;
        Ok(())
    }
}

struct CompactionJob {
    monitor: HealthMonitor,
    retention: Retention,
}

#[async_trait]
impl Job for CompactionJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let (raw_before, keep_after) = self.retention.cutoffs(self.monitor.clock().now());
        let removed = self
            .monitor
            .store()
            .compact_check_samples(raw_before, keep_after, self.retention.bucket)
            .await?;
        if removed > 0 {
            tracing::info!(rows = removed, "compacted health check history");
        }
        Ok(())
    }
}
