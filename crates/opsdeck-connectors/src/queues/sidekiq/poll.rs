//! A poll: the layout checked (`TYPE` of each key Sidekiq owns), then the sets' sizes, the
//! running [`processes`](super::processes) (version, busy jobs), the queue names (`SSCAN` of `queues`), then each queue's
//! length and the `enqueued_at` of its oldest job (the list's tail, which workers pop next),
//! pipelined; on a slow poll the [`census`](super::census) moves on.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{Duration as Span, Utc};
use opsdeck_core::ids::QueueName;
use opsdeck_core::queues::{Count, JobState, QueueStats, System};
use redis::Value;

use super::census::{self, SETS};
use super::entry::{Entry, TimeFormat};
use super::processes;
use super::{SUPPORTED, SidekiqConnector};
use crate::queues::redis_client::reply;
use crate::queues::{Poll, PollCost, QueueError};

/// Queue names read per `SSCAN`.
const SSCAN_COUNT: u64 = 1_000;
/// Queues counted per pipeline.
const QUEUES_PER_PIPELINE: usize = 500;
/// A census pass older than this gives no failures-in-the-last-hour figure.
const FAILURES_FRESH_FOR: Span = Span::minutes(15);

fn unsupported_type(key: &str, found: &str, wanted: &str) -> QueueError {
    QueueError::Unsupported(format!(
        "the Redis key {key} is a {found}, where {SUPPORTED} keeps a {wanted}; opsdeck leaves this source alone (is the namespace right?)"
    ))
}

/// Every name of the `queues` set.
async fn queue_names(
    connector: &SidekiqConnector,
    cost: &mut PollCost,
) -> Result<BTreeSet<String>, QueueError> {
    let key = connector.key("queues");
    let mut cursor = 0u64;
    let mut names = BTreeSet::new();
    loop {
        let started = Instant::now();
        let (next, found): (u64, Vec<String>) = connector
            .client
            .command(
                redis::cmd("SSCAN")
                    .arg(&key)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(SSCAN_COUNT),
            )
            .await?;
        cost.commands += 1;
        cost.elapsed += started.elapsed();
        names.extend(found);
        if next == 0 {
            return Ok(names);
        }
        cursor = next;
    }
}

pub(super) async fn poll(connector: &SidekiqConnector, slow: bool) -> Result<Poll, QueueError> {
    let mut cost = PollCost::default();
    let mut pipe = redis::pipe();
    let layout = [
        ("queues", "set"),
        ("schedule", "zset"),
        ("retry", "zset"),
        ("dead", "zset"),
        ("processes", "set"),
    ];
    for (name, _) in layout {
        pipe.cmd("TYPE").arg(connector.key(name));
    }
    let started = Instant::now();
    let types: Vec<String> = connector.client.query(&pipe).await?;
    cost.commands += types.len() as u64;
    cost.elapsed += started.elapsed();
    for ((name, wanted), found) in layout.iter().zip(&types) {
        if found != "none" && found != wanted {
            return Err(unsupported_type(&connector.key(name), found, wanted));
        }
    }
    // Only once every key is of its type: a command on a key of another type fails.
    let mut pipe = redis::pipe();
    for (name, _) in SETS {
        pipe.cmd("ZCARD").arg(connector.key(name));
    }
    let started = Instant::now();
    let values: Vec<Value> = connector.client.query(&pipe).await?;
    cost.commands += values.len() as u64;
    cost.elapsed += started.elapsed();
    let size = |i: usize| {
        values
            .get(i)
            .and_then(reply::int)
            .map_or(0, |n| u64::try_from(n).unwrap_or(0))
    };
    let sizes = [size(0), size(1), size(2)];
    let processes = processes::read(connector, &mut cost).await?;
    if slow {
        census::advance(connector, sizes, &mut cost).await?;
    }
    let census = connector
        .census
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();

    let mut names = queue_names(connector, &mut cost).await?;
    // A queue named in the configuration is shown even before Sidekiq has seen it.
    names.extend(connector.named.iter().flatten().map(ToString::to_string));
    for index in 0..SETS.len() {
        names.extend(census.done(index).by_queue.keys().cloned());
    }
    let queues: Vec<QueueName> = names
        .iter()
        .filter_map(|n| QueueName::parse(n).ok())
        .filter(|q| connector.shows(q))
        .collect();

    let mut lengths = Vec::with_capacity(queues.len());
    for chunk in queues.chunks(QUEUES_PER_PIPELINE) {
        let mut pipe = redis::pipe();
        for queue in chunk {
            let key = connector.queue_key(queue.as_str());
            pipe.cmd("LLEN").arg(&key);
            pipe.cmd("LINDEX").arg(&key).arg(-1);
        }
        let started = Instant::now();
        let values: Vec<(u64, Option<String>)> = connector.client.query(&pipe).await?;
        cost.commands += 2 * chunk.len() as u64;
        cost.elapsed += started.elapsed();
        lengths.extend(values);
    }

    let polled_at = Utc::now();
    let mut stats = Vec::with_capacity(queues.len());
    // Whether the waiting jobs read write milliseconds: the version when no process says.
    let mut formats = BTreeSet::new();
    for (queue, (length, oldest)) in queues.iter().zip(lengths) {
        let oldest = match oldest {
            Some(raw) => {
                let entry = Entry::parse(raw, None, &connector.queue_key(queue.as_str()))?;
                formats.insert(entry.time_format() == TimeFormat::Millis);
                entry
                    .time("enqueued_at")
                    .or_else(|| entry.time("created_at"))
                    .map(|at| ((polled_at - at).num_milliseconds() as f64 / 1000.0).max(0.0))
            }
            None => None,
        };
        let mut counts = BTreeMap::new();
        counts.insert(
            JobState::Waiting,
            Count {
                value: length,
                at: polled_at,
            },
        );
        if let Some(busy) = &processes.busy {
            counts.insert(
                JobState::Active,
                Count {
                    value: busy.get(queue.as_str()).copied().unwrap_or(0),
                    at: polled_at,
                },
            );
        }
        let mut last_hour = Some(0u64);
        for (index, (_, state)) in SETS.iter().enumerate() {
            let pass = census.done(index);
            let Some(at) = pass.at else {
                if *state != JobState::Scheduled {
                    last_hour = None;
                }
                continue;
            };
            let tally = pass
                .by_queue
                .get(queue.as_str())
                .copied()
                .unwrap_or_default();
            counts.insert(
                *state,
                Count {
                    value: tally.count,
                    at,
                },
            );
            if *state != JobState::Scheduled {
                last_hour = last_hour
                    .filter(|_| polled_at - at <= FAILURES_FRESH_FOR)
                    .map(|n| n + tally.last_hour);
            }
        }
        stats.push(QueueStats {
            source: connector.context.source.clone(),
            queue: queue.clone(),
            system: System::Sidekiq,
            counts,
            oldest_waiting_seconds: oldest,
            failures_last_hour: last_hour,
            paused: None,
            polled_at,
        });
    }
    Ok(Poll {
        version: Some(processes.version.unwrap_or_else(|| {
            match (formats.contains(&true), formats.contains(&false)) {
                (true, false) => "sidekiq 8.x (no process running; jobs in milliseconds)",
                (false, true) => "sidekiq 6.x or 7.x (no process running; jobs in seconds)",
                _ => "sidekiq (no process running)",
            }
            .to_owned()
        })),
        queues: stats,
        cost: PollCost {
            commands: cost.commands,
            elapsed: cost.elapsed.max(Duration::from_nanos(1)),
        },
    })
}
