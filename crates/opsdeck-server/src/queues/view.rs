//! [`View`]: what every replica knows of the sources and their queues, held in memory and
//! replaced whole (readers take an `Arc` and never wait on a poll or the database).

use chrono::{DateTime, Utc};
use opsdeck_core::ids::{QueueName, SourceName};
use opsdeck_core::queues::{QueueStats, SourceStatus};

/// Every source's status and every queue's latest stats, ordered by source then queue.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub sources: Vec<SourceStatus>,
    pub queues: Vec<QueueStats>,
    /// When this view was read or last changed.
    pub at: Option<DateTime<Utc>>,
}

impl View {
    pub fn new(sources: Vec<SourceStatus>, mut queues: Vec<QueueStats>, at: DateTime<Utc>) -> Self {
        queues.sort_by(|a, b| (&a.source, &a.queue).cmp(&(&b.source, &b.queue)));
        Self {
            sources,
            queues,
            at: Some(at),
        }
    }

    pub fn status(&self, source: &SourceName) -> Option<&SourceStatus> {
        self.sources.iter().find(|s| &s.source == source)
    }

    pub fn queue(&self, source: &SourceName, queue: &QueueName) -> Option<&QueueStats> {
        self.queues
            .iter()
            .find(|q| &q.source == source && &q.queue == queue)
    }

    /// One source's queues.
    pub fn queues_of<'a>(&'a self, source: &'a SourceName) -> impl Iterator<Item = &'a QueueStats> {
        self.queues.iter().filter(move |q| &q.source == source)
    }

    /// Puts a source's fresh status in, and one of its queues (a push source reports one
    /// queue at a time).
    pub(super) fn replace_queue(&mut self, status: SourceStatus, stats: QueueStats) {
        let (source, queue) = (stats.source.clone(), stats.queue.clone());
        let mut queues: Vec<QueueStats> = self
            .queues
            .iter()
            .filter(|q| q.source == source && q.queue != queue)
            .cloned()
            .collect();
        queues.push(stats);
        self.replace_source(status, Some(queues));
    }

    /// Puts a source's fresh status in, and its queues when the poll succeeded (`Some`); a
    /// failed poll keeps the queues as they were, to be shown stale.
    pub(super) fn replace_source(&mut self, status: SourceStatus, stats: Option<Vec<QueueStats>>) {
        let source = status.source.clone();
        self.at = Some(status.last_attempt_at.unwrap_or_else(Utc::now));
        match self.sources.iter_mut().find(|s| s.source == source) {
            Some(slot) => *slot = status,
            None => {
                self.sources.push(status);
                self.sources.sort_by(|a, b| a.source.cmp(&b.source));
            }
        }
        if let Some(stats) = stats {
            self.queues.retain(|q| q.source != source);
            self.queues.extend(stats);
            self.queues
                .sort_by(|a, b| (&a.source, &a.queue).cmp(&(&b.source, &b.queue)));
        }
    }
}
