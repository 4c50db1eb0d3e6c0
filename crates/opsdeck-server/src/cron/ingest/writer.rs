//! The writer task: takes what has queued up (through the shared group-commit loop of
//! [`group_commit`]), applies it and commits it in one transaction, answers every waiter,
//! and tries again what conflicted (see the module docs of [`super`]).

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use opsdeck_core::cron::StateWrite;
use opsdeck_core::ids::Slug;
use opsdeck_core::{Store, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::batch::{self, Applied, Group, Item};
use super::cache::{Known, MonitorCache};
use super::provision::{self, Provisioned};
use super::{ATTEMPTS, Accepted, IngestError, IngestMetrics, Job};
use crate::alerts::Dispatcher;
use crate::background::group_commit::{self, Committer};
use crate::error::chain;

/// The task behind [`super::Ingest`]; run it with [`IngestWriter::spawn`].
#[derive(Debug)]
pub struct IngestWriter {
    receiver: mpsc::Receiver<Job>,
    /// Pings committed at most in one transaction (`cron.ingest_batch`).
    batch_max: usize,
    pings: PingCommitter,
}

/// What the writer keeps between batches.
#[derive(Debug)]
struct PingCommitter {
    store: Arc<dyn Store>,
    alerts: Dispatcher,
    metrics: IngestMetrics,
    cache: MonitorCache,
    /// The time given to the latest ping, so pings' times never go backwards.
    last_now: Option<DateTime<Utc>>,
}

/// A group applied to its monitor, waiting for the commit.
#[derive(Debug)]
struct Planned {
    known: Known,
    items: Vec<Applied>,
}

impl IngestWriter {
    pub(super) fn new(
        receiver: mpsc::Receiver<Job>,
        store: Arc<dyn Store>,
        alerts: Dispatcher,
        metrics: IngestMetrics,
        batch_max: usize,
    ) -> Self {
        Self {
            receiver,
            batch_max,
            pings: PingCommitter {
                store,
                alerts,
                metrics,
                cache: MonitorCache::default(),
                last_now: None,
            },
        }
    }

    /// Commits pings on a thread of its own (see [`group_commit`]) until cancelled, then
    /// refuses new ones and commits what is still queued, so every ping that was queued is
    /// answered. The task returned ends with it.
    pub fn spawn(self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        group_commit::spawn(
            "opsdeck-ingest",
            "pings",
            self.receiver,
            self.pings,
            self.batch_max,
            cancel,
        )
    }

    /// [`IngestWriter::spawn`] on the calling task.
    pub async fn run(self, cancel: CancellationToken) {
        group_commit::run(self.receiver, self.pings, self.batch_max, cancel).await;
        tracing::debug!(target: "opsdeck::cron", "ingest writer stopped");
    }
}

impl Committer for PingCommitter {
    type Job = Job;

    async fn commit(&mut self, jobs: Vec<Job>) {
        self.commit_batch(jobs).await;
    }
}

impl PingCommitter {
    async fn commit_batch(&mut self, jobs: Vec<Job>) {
        let mut pending: Vec<Item> = jobs
            .into_iter()
            .map(|job| Item {
                now: self.stamp(job.request.received_at),
                job,
                created: false,
            })
            .collect();
        for _ in 0..ATTEMPTS {
            if pending.is_empty() {
                return;
            }
            pending = self.attempt(pending).await;
        }
        if !pending.is_empty() {
            tracing::warn!(
                target: "opsdeck::cron",
                pings = pending.len(),
                "pings not recorded: their monitors kept changing under them"
            );
        }
        for item in pending {
            item.answer(Err(IngestError::Unavailable));
        }
    }

    /// One round: applies and commits `items`, answers what is settled and returns the
    /// pings whose monitors conflicted, to be applied again on fresh state.
    async fn attempt(&mut self, items: Vec<Item>) -> Vec<Item> {
        let mut planned = Vec::new();
        let mut writes = Vec::new();
        for group in batch::group(items) {
            if let Some((plan, write)) = self.plan(group).await {
                planned.push(plan);
                writes.push(write);
            }
        }
        if writes.is_empty() {
            return Vec::new();
        }
        let pings = planned.iter().map(|plan| plan.items.len()).sum();
        let started = Instant::now();
        let results = self.store.apply_outcomes(&writes).await;
        self.metrics.commit(pings, started.elapsed());
        let results = match results {
            Ok(results) => results,
            Err(err) => {
                tracing::error!(
                    target: "opsdeck::cron",
                    pings,
                    error = %chain(&err),
                    "pings not recorded: the commit failed"
                );
                for (plan, write) in planned.into_iter().zip(writes) {
                    self.cache.forget(&write.slug);
                    for applied in plan.items {
                        applied.item.answer(Err(IngestError::Unavailable));
                    }
                }
                return Vec::new();
            }
        };
        let mut again = Vec::new();
        for ((plan, write), result) in planned.into_iter().zip(writes).zip(results) {
            match result {
                Ok(version) => self.committed(plan, write, version),
                Err(StoreError::Conflict(_) | StoreError::NotFound) => {
                    self.metrics.conflict();
                    self.cache.forget(&write.slug);
                    again.extend(plan.items.into_iter().map(|applied| applied.item));
                }
                Err(err) => {
                    tracing::error!(
                        target: "opsdeck::cron",
                        slug = %write.slug,
                        error = %chain(&err),
                        "pings not recorded"
                    );
                    self.cache.forget(&write.slug);
                    for applied in plan.items {
                        applied.item.answer(Err(IngestError::Unavailable));
                    }
                }
            }
        }
        again
    }

    /// Answers the pings of a committed write, raises their alerts and remembers the
    /// monitor as written.
    fn committed(&mut self, plan: Planned, write: StateWrite, version: u64) {
        let Planned { known, items } = plan;
        for applied in items {
            if let Some(alert) = applied.alert {
                self.alerts.notify(alert.event(&known.spec));
            }
            let accepted = Accepted {
                created: applied.item.created,
                run_id: applied.run_id,
            };
            applied.item.answer(Ok(accepted));
        }
        let known = Known {
            state: write.state,
            version,
            ..known
        };
        self.cache.put(write.slug, known);
    }

    /// Finds (or provisions) the monitor of a group and applies its pings; answers the
    /// pings that cannot be applied. `None` when none is left to commit.
    async fn plan(&mut self, group: Group) -> Option<(Planned, StateWrite)> {
        let Group { slug, items } = group;
        let mut known = match provision::known(self.store.as_ref(), &self.cache, &slug).await {
            Ok(known) => known,
            Err(err) => {
                unavailable(&slug, &err, items);
                return None;
            }
        };
        let mut kept = Vec::with_capacity(items.len());
        for mut item in items {
            let provision = &item.job.request.provision;
            let store = self.store.as_ref();
            match provision::provision(store, &slug, known.as_ref(), provision, item.now).await {
                Ok(Provisioned::Same) => kept.push(item),
                Ok(Provisioned::Fresh(fresh, created)) => {
                    known = Some(fresh);
                    item.created |= created;
                    kept.push(item);
                }
                Ok(Provisioned::Missing) => item.answer(Err(IngestError::NotFound)),
                Err(err) => unavailable(&slug, &err, vec![item]),
            }
        }
        let known = known.filter(|_| !kept.is_empty())?;
        let (write, items) = batch::apply(slug, &known, kept);
        Some((Planned { known, items }, write))
    }

    /// The time for a ping that arrived `at`: never before the previous ping's, so runs
    /// of one monitor never end before they start when requests overtake each other.
    fn stamp(&mut self, at: DateTime<Utc>) -> DateTime<Utc> {
        let now = self.last_now.map_or(at, |last| last.max(at));
        self.last_now = Some(now);
        now
    }
}

fn unavailable(slug: &Slug, err: &StoreError, items: Vec<Item>) {
    tracing::error!(
        target: "opsdeck::cron",
        slug = %slug,
        error = %chain(err),
        "pings not recorded: the monitor could not be read"
    );
    for item in items {
        item.answer(Err(IngestError::Unavailable));
    }
}
