//! Queues (SPEC §5), the server's part: the configured sources and their connections
//! ([`Source`]), the view every replica serves from memory ([`Queues::view`], refreshed from
//! the store), the leader's poller (`poller`), and the loops that keep them (`jobs`). What a
//! system is and how it is read and acted on belongs to `opsdeck_connectors::queues`; the
//! use-cases (views and guarded actions with their audit entries) to `crate::ops::queues`.

mod jobs;
mod poller;
pub use poller::{SLOW_COST_FACTOR, SLOW_MAX_GAP};
mod push;
mod snapshot;
mod source;
mod threshold;
mod view;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use opsdeck_core::ids::{QueueName, SourceName};
use opsdeck_core::queues::{QueueStats, SourceStatus};
use opsdeck_core::{Clock, Store};

pub use jobs::spawn_queue_loops;
pub use snapshot::{FAILURES_MAX, Failure, Snapshot, record_snapshot};
pub use source::{Connection, Source};
pub use threshold::threshold_checks;
pub use view::View;

use crate::config::QueuesConfig;

/// The sources and what is known of their queues.
#[derive(Clone, Debug)]
pub struct Queues {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sources: Vec<Source>,
    view: RwLock<Arc<View>>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    selection_ttl: Duration,
    bulk_max: u64,
    history_retention: Duration,
}

impl Queues {
    /// The configured sources (validated when the configuration loaded); nothing connects
    /// until first used.
    pub fn new(
        config: &QueuesConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let sources = config
            .sources
            .iter()
            .map(|source| Source::from_config(source, config, &store, &clock))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                sources,
                view: RwLock::new(Arc::new(View::default())),
                store,
                clock,
                selection_ttl: config.selection_ttl,
                bulk_max: config.bulk_max,
                history_retention: config.history_retention,
            }),
        })
    }

    pub fn sources(&self) -> &[Source] {
        &self.inner.sources
    }

    pub fn source(&self, name: &SourceName) -> Option<&Source> {
        self.inner.sources.iter().find(|s| &s.name == name)
    }

    /// What is known now: every source's status and every queue's latest stats.
    pub fn view(&self) -> Arc<View> {
        self.inner
            .view
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The latest stats of one queue, if any poll has seen it.
    pub fn stats(&self, source: &SourceName, queue: &QueueName) -> Option<QueueStats> {
        self.view()
            .queues
            .iter()
            .find(|q| &q.source == source && &q.queue == queue)
            .cloned()
    }

    /// Replaces the view with what the store holds (every replica, every few seconds), so
    /// followers serve what the leader polled.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let (statuses, stats) = self.inner.store.queue_view().await?;
        self.set_view(View::new(statuses, stats, self.inner.clock.now()));
        Ok(())
    }

    fn set_view(&self, view: View) {
        *self
            .inner
            .view
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(view);
    }

    /// Puts one source's fresh poll into the view at once (the leader, after polling).
    fn put(&self, status: SourceStatus, stats: Option<Vec<QueueStats>>) {
        let current = self.view();
        let mut view = (*current).clone();
        view.replace_source(status, stats);
        self.set_view(view);
    }

    /// Puts one queue of a push source in the view at once, with its source's status.
    fn put_queue(&self, status: SourceStatus, stats: QueueStats) {
        let current = self.view();
        let mut view = (*current).clone();
        view.replace_queue(status, stats);
        self.set_view(view);
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// How long a dry run's selection stays valid.
    pub fn selection_ttl(&self) -> Duration {
        self.inner.selection_ttl
    }

    /// The most jobs one bulk action may act on.
    pub fn bulk_max(&self) -> u64 {
        self.inner.bulk_max
    }
}
