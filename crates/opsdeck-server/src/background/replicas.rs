//! Replica bookkeeping: every replica records a heartbeat; the leader prunes replicas that
//! stopped beating, so `/ops/instances` shows the processes that really run.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use opsdeck_core::instance::InstanceInfo;
use opsdeck_core::{Clock, Store};

use super::Job;

#[derive(Debug)]
pub struct HeartbeatJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub instance: InstanceInfo,
}

#[async_trait]
impl Job for HeartbeatJob {
    async fn tick(&self) -> anyhow::Result<()> {
        self.store
            .record_heartbeat(&self.instance, self.clock.now())
            .await?;
        Ok(())
    }
}

#[derive(Debug)]
pub struct PruneReplicasJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub retention: Duration,
}

#[async_trait]
impl Job for PruneReplicasJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let cutoff = self.clock.now() - chrono::Duration::from_std(self.retention)?;
        let removed = self.store.prune_instances(cutoff).await?;
        if removed > 0 {
            tracing::info!(removed, "pruned replicas that stopped sending heartbeats");
        }
        Ok(())
    }
}
