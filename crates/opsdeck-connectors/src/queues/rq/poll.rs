//! A poll: the queues (`<prefix>:queues`, or those named), whether RQ is suspended, the
//! version its workers run; then each queue's counts by `LLEN` and `ZCARD`, its oldest
//! waiting job and, on slow polls, its failures of the last hour, a hundred queues per
//! read-only script, every script in one pipeline.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_core::ids::QueueName;
use opsdeck_core::queues::{Count, JobState, QueueStats, System};
use redis::Value;

use super::record::{format_time, parse_time};
use super::{POLL, RqConnector, unsupported};
use crate::queues::redis_client::reply;
use crate::queues::{Poll, PollCost, QueueError};

/// Queues counted by one script.
const QUEUES_PER_SCRIPT: usize = 100;
/// Workers whose version a poll reads.
const WORKERS_SAMPLED: usize = 5;

/// The queues of `<prefix>:queues` (members are queue keys, `<prefix>:queue:<name>`).
fn queue_names(prefix: &str, members: &[String]) -> Vec<QueueName> {
    let head = format!("{prefix}:queue:");
    let names: BTreeSet<QueueName> = members
        .iter()
        .filter_map(|key| key.strip_prefix(&head))
        .filter_map(|name| QueueName::parse(name).ok())
        .collect();
    names.into_iter().collect()
}

/// The RQ versions the sampled workers run, refusing a major past 3.
fn versions(found: &[Option<String>]) -> Result<Option<String>, QueueError> {
    let mut versions = BTreeSet::new();
    for version in found.iter().flatten() {
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if !matches!(major, Some(1..=3)) {
            return Err(unsupported(&format!(
                "an RQ worker runs version {version:?}"
            )));
        }
        versions.insert(format!("rq {version}"));
    }
    Ok((!versions.is_empty()).then(|| versions.into_iter().collect::<Vec<_>>().join(", ")))
}

pub(super) async fn poll(connector: &RqConnector, slow: bool) -> Result<Poll, QueueError> {
    let mut cost = PollCost::default();
    let prefix = &connector.prefix;
    let mut pipe = redis::pipe();
    pipe.cmd("SMEMBERS")
        .arg(format!("{prefix}:queues"))
        .cmd("EXISTS")
        .arg(format!("{prefix}:suspended"))
        .cmd("SRANDMEMBER")
        .arg(format!("{prefix}:workers"))
        .arg(WORKERS_SAMPLED);
    let started = Instant::now();
    let (members, suspended, workers): (Vec<String>, bool, Vec<String>) =
        connector.client.query(&pipe).await?;
    cost.commands += 3;
    let version = if workers.is_empty() {
        None
    } else {
        let mut pipe = redis::pipe();
        for worker in &workers {
            pipe.cmd("HGET").arg(worker).arg("version");
        }
        let found: Vec<Option<String>> = connector.client.query(&pipe).await?;
        cost.commands += workers.len() as u64;
        versions(&found)?
    };
    cost.elapsed += started.elapsed();
    let queues = match &connector.named {
        Some(named) => named.clone(),
        None => queue_names(prefix, &members),
    };
    let now = Utc::now();
    let since = if slow {
        format_time(now - chrono::Duration::hours(1))
    } else {
        String::new()
    };
    let calls: Vec<(Vec<String>, Vec<String>)> = queues
        .chunks(QUEUES_PER_SCRIPT)
        .map(|chunk| {
            let mut args = vec![prefix.clone(), since.clone()];
            args.extend(chunk.iter().map(ToString::to_string));
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
    for (chunk, value) in queues.chunks(QUEUES_PER_SCRIPT).zip(&replies) {
        if let Some(id) = reply::refusal(value) {
            return Err(unsupported(&format!(
                "the RQ job {id:?} has no status, created_at or data field"
            )));
        }
        let rows = reply::array(value);
        let (commands, rows) = match rows.split_last() {
            Some((last, rows)) => (reply::int(last).unwrap_or(0), rows),
            None => (0, rows),
        };
        cost.commands += u64::try_from(commands).unwrap_or(0);
        for (queue, row) in chunk.iter().zip(rows) {
            stats.push(read_row(connector, queue, row, suspended, polled_at));
        }
    }
    Ok(Poll {
        version,
        queues: stats,
        cost: PollCost {
            commands: cost.commands,
            elapsed: cost.elapsed.max(Duration::from_nanos(1)),
        },
    })
}

fn read_row(
    connector: &RqConnector,
    queue: &QueueName,
    row: &Value,
    suspended: bool,
    polled_at: DateTime<Utc>,
) -> QueueStats {
    let fields = reply::array(row);
    let number = |i: usize| {
        fields
            .get(i)
            .and_then(reply::int)
            .map_or(0, |n| u64::try_from(n).unwrap_or(0))
    };
    let count = |value: u64| Count {
        value,
        at: polled_at,
    };
    let (waiting, started, failed, finished) = (number(0), number(1), number(2), number(3));
    let (deferred, scheduled, canceled) = (number(4), number(5), number(6));
    let mut counts = BTreeMap::new();
    counts.insert(JobState::Waiting, count(waiting));
    counts.insert(JobState::Scheduled, count(scheduled + deferred));
    counts.insert(JobState::Active, count(started));
    counts.insert(JobState::Failed, count(failed));
    counts.insert(JobState::Dead, count(canceled));
    counts.insert(JobState::Completed, count(finished));
    let oldest = fields
        .get(7)
        .and_then(reply::text)
        .and_then(|at| parse_time(&at))
        .map(|at| ((polled_at - at).num_milliseconds() as f64 / 1000.0).max(0.0));
    let failures = fields
        .get(8)
        .and_then(reply::int)
        .and_then(|n| u64::try_from(n).ok());
    QueueStats {
        source: connector.context.source.clone(),
        queue: queue.clone(),
        system: System::Rq,
        counts,
        oldest_waiting_seconds: oldest,
        failures_last_hour: failures,
        paused: Some(suspended),
        polled_at,
    }
}
