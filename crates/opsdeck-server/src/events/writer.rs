//! The events writer's commit: the requests of a round, cut into transactions of at most
//! `events.ingest_batch` events (a request is never split, so its events are stored or
//! refused together), each committed with one [`EventStore::ingest_events`] call.

use std::sync::Arc;
use std::time::Instant;

use opsdeck_core::Store;
use opsdeck_core::events::Event;

use super::{EventMetrics, EventsUnavailable, Job};
use crate::background::group_commit::Committer;
use crate::error::chain;

#[derive(Debug)]
pub(super) struct EventCommitter {
    store: Arc<dyn Store>,
    /// Events per transaction at most (`events.ingest_batch`).
    batch: usize,
    metrics: EventMetrics,
}

impl EventCommitter {
    pub(super) fn new(store: Arc<dyn Store>, batch: usize, metrics: EventMetrics) -> Self {
        Self {
            store,
            batch,
            metrics,
        }
    }

    /// Commits `jobs` in one transaction and answers each.
    async fn commit_group(&self, mut jobs: Vec<Job>) {
        let mut sizes = Vec::with_capacity(jobs.len());
        let mut events: Vec<Event> = Vec::new();
        for job in &mut jobs {
            sizes.push(job.events.len());
            events.append(&mut job.events);
        }
        let received_at = jobs
            .iter()
            .map(|job| job.received_at)
            .max()
            .unwrap_or_default();
        let started = Instant::now();
        let result = self.store.ingest_events(&events, received_at).await;
        self.metrics.commit(events.len(), started.elapsed());
        match result {
            Ok(outcomes) if outcomes.len() == events.len() => {
                let mut outcomes = outcomes.into_iter();
                for (job, size) in jobs.into_iter().zip(sizes) {
                    let answer = outcomes.by_ref().take(size).collect();
                    let _ = job.reply.send(Ok(answer));
                }
            }
            Ok(outcomes) => {
                tracing::error!(
                    target: "opsdeck::events",
                    events = events.len(),
                    outcomes = outcomes.len(),
                    "the store answered a different number of outcomes than events"
                );
                answer_unavailable(jobs);
            }
            Err(err) => {
                tracing::error!(
                    target: "opsdeck::events",
                    events = events.len(),
                    error = %chain(&err),
                    "events not recorded: the commit failed"
                );
                answer_unavailable(jobs);
            }
        }
    }
}

fn answer_unavailable(jobs: Vec<Job>) {
    for job in jobs {
        let _ = job.reply.send(Err(EventsUnavailable));
    }
}

impl Committer for EventCommitter {
    type Job = Job;

    async fn commit(&mut self, jobs: Vec<Job>) {
        let mut group = Vec::new();
        let mut size = 0;
        for job in jobs {
            if !group.is_empty() && size + job.events.len() > self.batch {
                self.commit_group(std::mem::take(&mut group)).await;
                size = 0;
            }
            size += job.events.len();
            group.push(job);
        }
        if !group.is_empty() {
            self.commit_group(group).await;
        }
    }
}
