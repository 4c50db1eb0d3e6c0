//! The queue loops: each source polled by the leader at its own interval, the view read
//! from the store on every replica, and history and spent selections pruned by the leader.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::Queues;
use super::poller::{PollJob, PollState};
use crate::background::{Background, Job, LoopSpec, Scope};

/// How often every replica reads the view from the store.
pub const VIEW_REFRESH: Duration = Duration::from_secs(3);

pub fn spawn_queue_loops(queues: &Queues, background: &Background) {
    for (index, source) in queues.sources().iter().enumerate() {
        if source.connection_is_push() {
            continue;
        }
        // Loop names live as long as the process; there are as many as configured sources.
        let name: &'static str = Box::leak(format!("queue_poll:{}", source.name).into_boxed_str());
        background.spawn(
            LoopSpec {
                name,
                interval: source.poll_interval,
                jitter: Duration::from_millis(500),
                // A poll is many bounded reads; one that hangs past this is abandoned and the
                // source shown stale by the next.
                timeout: source.poll_interval.max(Duration::from_secs(30)),
                scope: Scope::Leader,
            },
            Arc::new(PollJob {
                queues: queues.clone(),
                index,
                state: Mutex::new(PollState::default()),
            }),
        );
    }
    if queues.sources().is_empty() {
        return;
    }
    background.spawn(
        LoopSpec {
            name: "queue_view",
            interval: VIEW_REFRESH,
            jitter: Duration::from_millis(300),
            timeout: Duration::from_secs(10),
            scope: Scope::EveryReplica,
        },
        Arc::new(ViewJob(queues.clone())),
    );
    background.spawn(
        LoopSpec {
            name: "queue_retention",
            interval: Duration::from_secs(3600),
            jitter: Duration::from_secs(60),
            timeout: Duration::from_secs(300),
            scope: Scope::Leader,
        },
        Arc::new(RetentionJob(queues.clone())),
    );
}

struct ViewJob(Queues);

#[async_trait]
impl Job for ViewJob {
    async fn tick(&self) -> anyhow::Result<()> {
        self.0.refresh().await
    }
}

struct RetentionJob(Queues);

#[async_trait]
impl Job for RetentionJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let queues = &self.0;
        let now = queues.clock().now();
        let history = chrono::Duration::from_std(queues.inner.history_retention)
            .unwrap_or(chrono::Duration::MAX);
        let points = queues.store().prune_queue_samples(now - history).await?;
        // Selections are kept a day past their expiry, for whoever asks why a token failed.
        let selections = queues
            .store()
            .prune_selections(now - chrono::Duration::days(1))
            .await?;
        if points + selections > 0 {
            tracing::info!(points, selections, "pruned queue history");
        }
        Ok(())
    }
}
