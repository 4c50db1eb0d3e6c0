//! The queue families on `/metrics` (SPEC §5): jobs by state, the oldest waiting job's age
//! and failures in the last hour per queue, and whether each source answered its last poll.
//! Read at scrape time from the queue view every replica holds in memory (refreshed from the
//! store every few seconds), so every replica answers the same and a scrape never waits on
//! a source.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::gauge_family;
use crate::queues::Queues;

/// Encodes the queue families from the view at each scrape.
#[derive(Debug)]
pub struct QueueCollector(pub Queues);

impl Collector for QueueCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let queues = &self.0;
        let view = queues.view();
        let now = queues.clock().now();
        gauge_family(
            &mut encoder,
            "opsdeck_queue_jobs",
            "Jobs of each queue by state (waiting, scheduled, active, retrying, failed, dead, \
             completed), as the latest poll counted them; only the states the system keeps",
            view.queues.iter().flat_map(|q| {
                q.counts.iter().map(|(state, count)| {
                    let labels = [
                        ("source", q.source.as_str()),
                        ("queue", q.queue.as_str()),
                        ("state", state.as_str()),
                    ];
                    (labels, count.value as f64)
                })
            }),
        )?;
        gauge_family(
            &mut encoder,
            "opsdeck_queue_oldest_age_seconds",
            "Age of each queue's oldest waiting job (0 when none waits; absent where the \
             system does not say)",
            view.queues.iter().filter_map(|q| {
                let age = q
                    .oldest_waiting_seconds
                    .or((q.backlog() == 0).then_some(0.0))?;
                Some((
                    [("source", q.source.as_str()), ("queue", q.queue.as_str())],
                    age,
                ))
            }),
        )?;
        gauge_family(
            &mut encoder,
            "opsdeck_queue_failures_last_hour",
            "Jobs of each queue that failed in the last hour (absent where the system keeps no \
             failure times)",
            view.queues.iter().filter_map(|q| {
                let failures = q.failures_last_hour? as f64;
                Some((
                    [("source", q.source.as_str()), ("queue", q.queue.as_str())],
                    failures,
                ))
            }),
        )?;
        gauge_family(
            &mut encoder,
            "opsdeck_queue_source_up",
            "1 when a queue source answered its latest poll recently, 0 when it is stale \
             (unreachable, refused, or not polled within three intervals)",
            queues.sources().iter().map(|source| {
                let up = view
                    .status(&source.name)
                    .is_some_and(|s| !s.is_stale(now, source.stale_after()));
                ([("source", source.name.as_str())], f64::from(u8::from(up)))
            }),
        )?;
        Ok(())
    }
}
