//! The leader's poll of one source: ask the connector for its queues and counts, carry
//! over the counts it was not asked for this time, record the result (and a history point
//! at most once a minute), and put it in the view at once.
//!
//! Counts the system keeps no index or counter for are asked for only on a *slow* poll.
//! Its cadence adapts to what it costs: a slow poll that took `d` is followed by the next no
//! sooner than `200 × d` later (a half-percent share of the source's time, which leaves the
//! cheap every-interval polls room under 1 % for the whole cycle), and never sooner than the
//! poll interval nor later than [`SLOW_MAX_GAP`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::queues::{QueueStats, SourceStatus};

use super::Queues;
use crate::background::Job;
use crate::health::scrub;

/// A slow poll at least this often, however much it costs, so no count is older.
pub const SLOW_MAX_GAP: Duration = Duration::from_secs(15 * 60);
/// A slow poll's cost times this is the least time until the next: a 0.5 % share.
pub const SLOW_COST_FACTOR: u32 = 200;
/// History points at most this often per queue.
const SAMPLE_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// Polls source `index` of `queues` each tick.
#[derive(Debug)]
pub(super) struct PollJob {
    pub queues: Queues,
    pub index: usize,
    pub state: Mutex<PollState>,
}

#[derive(Debug, Default)]
pub(super) struct PollState {
    last_slow: Option<(Instant, Duration)>,
    last_sample: Option<DateTime<Utc>>,
}

impl PollState {
    fn slow_due(&self, interval: Duration) -> bool {
        match self.last_slow {
            None => true,
            Some((at, cost)) => {
                let gap = (cost * SLOW_COST_FACTOR).max(interval).min(SLOW_MAX_GAP);
                at.elapsed() >= gap
            }
        }
    }
}

#[async_trait]
impl Job for PollJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let source = &self.queues.sources()[self.index];
        let connector = source.connector().await;
        let slow = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .slow_due(source.poll_interval);
        let started = Instant::now();
        let polled = match connector {
            Ok(connector) => connector.poll(slow).await,
            Err(err) => Err(err),
        };
        let now = self.queues.clock().now();
        let store = self.queues.store();
        let mut status = SourceStatus {
            source: source.name.clone(),
            system: source.system,
            version: None,
            last_success_at: None,
            last_attempt_at: Some(now),
            error: None,
        };
        match polled {
            Ok(poll) => {
                let sample = {
                    let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                    if slow {
                        state.last_slow = Some((started, poll.cost.elapsed));
                    }
                    let due = state.last_sample.is_none_or(|at| now - at >= SAMPLE_EVERY);
                    if due {
                        state.last_sample = Some(now);
                    }
                    due
                };
                let view = self.queues.view();
                let stats: Vec<QueueStats> = poll
                    .queues
                    .into_iter()
                    .map(|fresh| {
                        let previous = view.queue(&source.name, &fresh.queue);
                        carry_over(fresh, previous)
                    })
                    .collect();
                status.version = poll.version;
                status.last_success_at = Some(now);
                // The view moves on even while opsdeck's own database is down (SPEC §8).
                let recorded = store.record_queue_poll(&status, &stats, sample).await;
                self.queues.put(status, Some(stats));
                recorded?;
                Ok(())
            }
            Err(err) => {
                let message = scrub(&err.to_string(), &source.secrets());
                status.error = Some(message.clone());
                let recorded = store.record_queue_poll(&status, &[], false).await;
                // The view keeps when the source last answered.
                status.last_success_at = self
                    .queues
                    .view()
                    .status(&source.name)
                    .and_then(|s| s.last_success_at);
                status.version = self
                    .queues
                    .view()
                    .status(&source.name)
                    .and_then(|s| s.version.clone());
                self.queues.put(status, None);
                recorded?;
                anyhow::bail!(
                    "queue source {} did not answer its poll: {message}",
                    source.name
                )
            }
        }
    }
}

/// `fresh` with the counts it lacks taken from `previous` (with the time they were taken),
/// for the states a fast poll does not count.
fn carry_over(mut fresh: QueueStats, previous: Option<&QueueStats>) -> QueueStats {
    if let Some(previous) = previous {
        for (state, count) in &previous.counts {
            fresh.counts.entry(*state).or_insert(*count);
        }
        if fresh.failures_last_hour.is_none() {
            fresh.failures_last_hour = previous.failures_last_hour;
        }
    }
    fresh
}
