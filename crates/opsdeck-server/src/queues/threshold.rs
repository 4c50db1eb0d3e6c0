//! Queue health (SPEC §5): a `[[queues.thresholds]]` entry is a health check of type
//! `queue`, judged from the queue view the poller keeps — it never reads the source itself,
//! so `/ops/health` costs the application's systems nothing more. It fails when more jobs
//! wait than allowed, the oldest waits too long, or too many failed in the last hour; a
//! source whose numbers are stale makes it warn, since it cannot tell.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use opsdeck_connectors::health::{ComponentType, Description, Observation, Probe, ProbeContext};
use opsdeck_core::ids::{QueueName, SourceName};

use super::Queues;
use crate::config::ThresholdConfig;
use crate::health::CheckSpec;

/// The limits of one queue.
pub struct QueueThreshold {
    queues: Queues,
    source: SourceName,
    queue: QueueName,
    max_waiting: Option<u64>,
    max_oldest_age: Option<Duration>,
    max_failures_per_hour: Option<u64>,
}

impl fmt::Debug for QueueThreshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueThreshold")
            .field("source", &self.source)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// The health checks of `thresholds` (validated when the configuration loaded).
pub fn threshold_checks(
    queues: &Queues,
    thresholds: &[ThresholdConfig],
) -> anyhow::Result<Vec<CheckSpec>> {
    thresholds
        .iter()
        .map(|t| {
            let name = t
                .check_name()
                .map_err(|e| anyhow::anyhow!("queue threshold: {e}"))?;
            let source = SourceName::parse(&t.source)?;
            let queue = QueueName::parse(&t.queue)?;
            let interval = queues
                .source(&source)
                .map_or(Duration::from_secs(10), |s| s.poll_interval);
            Ok(CheckSpec {
                name,
                interval,
                timeout: Duration::from_secs(1),
                critical: t.critical,
                warn_latency: None,
                probe: Arc::new(QueueThreshold {
                    queues: queues.clone(),
                    source,
                    queue,
                    max_waiting: t.max_waiting,
                    max_oldest_age: t.max_oldest_age,
                    max_failures_per_hour: t.max_failures_per_hour,
                }),
            })
        })
        .collect()
}

#[async_trait]
impl Probe for QueueThreshold {
    fn describe(&self) -> Description<'_> {
        Description {
            kind: "queue",
            component_type: ComponentType::Component,
            measurement: "waitingJobs",
            target: format!("{}/{}", self.source, self.queue),
            secrets: Vec::new(),
        }
    }

    async fn observe(&self, _: &ProbeContext) -> Observation {
        let view = self.queues.view();
        let Some(source) = self.queues.source(&self.source) else {
            return Observation::warn(format!("no queue source named {}", self.source));
        };
        let now = self.queues.clock().now();
        let status = view.status(&self.source);
        if status.is_none_or(|s| s.is_stale(now, source.stale_after())) {
            let why = status
                .and_then(|s| s.error.clone())
                .unwrap_or_else(|| "no recent poll".to_owned());
            return Observation::warn(format!(
                "the numbers of {}/{} are stale ({why}); the source cannot be judged",
                self.source, self.queue
            ));
        }
        let Some(stats) = view.queue(&self.source, &self.queue) else {
            return Observation::warn(format!(
                "queue {} is not among the queues {} reports",
                self.queue, self.source
            ));
        };
        let waiting = stats.backlog();
        let mut breaches = Vec::new();
        if let Some(max) = self.max_waiting
            && waiting > max
        {
            breaches.push(format!("{waiting} jobs waiting (at most {max})"));
        }
        if let (Some(max), Some(age)) = (self.max_oldest_age, stats.oldest_waiting_seconds)
            && age > max.as_secs_f64()
        {
            breaches.push(format!(
                "the oldest job has waited {} (at most {})",
                humantime::format_duration(Duration::from_secs(age as u64)),
                humantime::format_duration(max)
            ));
        }
        if let (Some(max), Some(failures)) = (self.max_failures_per_hour, stats.failures_last_hour)
            && failures > max
        {
            breaches.push(format!(
                "{failures} failures in the last hour (at most {max})"
            ));
        }
        let observation = if breaches.is_empty() {
            Observation::pass()
        } else {
            Observation::fail(breaches.join("; "))
        };
        observation.with_value(waiting as f64, "jobs")
    }
}
