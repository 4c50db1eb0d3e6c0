//! A poll: the queues (from the cached discovery, or a scan on a slow poll), then their
//! counts, paused flag, oldest waiting job and failures in the last hour, a hundred queues
//! per read-only script, every script in one pipeline: one round trip.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_core::ids::QueueName;
use opsdeck_core::queues::{Count, JobState, QueueStats, System};
use redis::Value;

use super::client::{POLL, reply};
use super::discovery::{SCAN_COUNT, meta_pattern, queues_of};
use super::{BullmqConnector, unsupported};
use crate::queues::{Poll, PollCost, QueueError};

/// Queues counted by one script: each costs about a dozen O(1) commands.
const QUEUES_PER_SCRIPT: usize = 100;

/// Finds the source's queues: `SCAN` with a bounded `COUNT` until the cursor comes back.
async fn scan(
    connector: &BullmqConnector,
    cost: &mut PollCost,
) -> Result<Vec<QueueName>, QueueError> {
    let pattern = meta_pattern(&connector.prefix);
    let mut cursor: u64 = 0;
    let mut found = BTreeSet::new();
    loop {
        let started = Instant::now();
        let (next, keys): (u64, Vec<String>) = connector
            .client
            .command(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT),
            )
            .await?;
        cost.commands += 1;
        cost.elapsed += started.elapsed();
        found.extend(queues_of(&connector.prefix, &keys));
        if next == 0 {
            return Ok(found.into_iter().collect());
        }
        cursor = next;
    }
}

pub(super) async fn poll(connector: &BullmqConnector, slow: bool) -> Result<Poll, QueueError> {
    let mut cost = PollCost::default();
    let cached = connector
        .discovery
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .queues(slow);
    let queues = match cached {
        Some(queues) => queues,
        None => {
            let found = scan(connector, &mut cost).await?;
            connector
                .discovery
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .found(found.clone());
            found
        }
    };
    let now = Utc::now();
    let since = now.timestamp_millis() - 3_600_000;
    let calls: Vec<(Vec<String>, Vec<String>)> = queues
        .chunks(QUEUES_PER_SCRIPT)
        .map(|chunk| {
            let mut args = vec![since.to_string()];
            args.extend(chunk.iter().map(|q| connector.base(q)));
            (Vec::new(), args)
        })
        .collect();
    let started = Instant::now();
    let replies = if calls.is_empty() {
        Vec::new()
    } else {
        connector.client.scripts(POLL, &calls).await?
    };
    cost.elapsed += started.elapsed();
    let polled_at = Utc::now();
    let mut stats = Vec::with_capacity(queues.len());
    let mut versions = BTreeSet::new();
    for (chunk, value) in queues.chunks(QUEUES_PER_SCRIPT).zip(&replies) {
        let rows = reply::array(value);
        let (commands, rows) = match rows.split_last() {
            Some((last, rows)) => (reply::int(last).unwrap_or(0), rows),
            None => (0, rows),
        };
        cost.commands += u64::try_from(commands).unwrap_or(0);
        for (queue, row) in chunk.iter().zip(rows) {
            match read_row(connector, queue, row, polled_at)? {
                Some((version, queue_stats)) => {
                    versions.insert(version);
                    stats.push(queue_stats);
                }
                None => continue,
            }
        }
    }
    Ok(Poll {
        version: (!versions.is_empty())
            .then(|| versions.into_iter().collect::<Vec<_>>().join(", ")),
        queues: stats,
        cost: PollCost {
            commands: cost.commands,
            elapsed: cost.elapsed.max(Duration::from_nanos(1)),
        },
    })
}

/// One queue's row of the script, or `None` for a queue gone since it was found.
fn read_row(
    connector: &BullmqConnector,
    queue: &QueueName,
    row: &Value,
    polled_at: DateTime<Utc>,
) -> Result<Option<(String, QueueStats)>, QueueError> {
    let fields = reply::array(row);
    let text = |i: usize| fields.get(i).and_then(reply::text);
    let number = |i: usize| {
        fields
            .get(i)
            .and_then(reply::int)
            .map_or(0, |n| u64::try_from(n).unwrap_or(0))
    };
    match text(1).as_deref() {
        Some("gone") => return Ok(None),
        Some("unsupported") => return Err(unsupported(queue, &text(0).unwrap_or_default())),
        _ => {}
    }
    let version = text(0).unwrap_or_default();
    let count = |value: u64| Count {
        value,
        at: polled_at,
    };
    let (wait, paused_list, active, prioritized) = (number(2), number(3), number(4), number(5));
    let (delayed, failed, completed) = (number(6), number(7), number(8));
    let mut counts = BTreeMap::new();
    counts.insert(JobState::Waiting, count(wait + paused_list + prioritized));
    counts.insert(JobState::Scheduled, count(delayed));
    counts.insert(JobState::Active, count(active));
    counts.insert(JobState::Failed, count(failed));
    counts.insert(JobState::Completed, count(completed));
    let oldest = fields
        .get(11)
        .and_then(reply::float)
        .map(|created_ms| ((polled_at.timestamp_millis() as f64 - created_ms) / 1000.0).max(0.0));
    Ok(Some((
        version,
        QueueStats {
            source: connector.context.source.clone(),
            queue: queue.clone(),
            system: System::Bullmq,
            counts,
            oldest_waiting_seconds: oldest,
            failures_last_hour: Some(number(10)),
            paused: Some(number(1) == 1),
            polled_at,
        },
    )))
}
