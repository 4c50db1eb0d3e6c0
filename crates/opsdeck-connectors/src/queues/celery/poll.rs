//! A poll: each queue's depth (`LLEN` of its list and priority siblings) and a sample of its
//! next message (to check the layout), the broker's unacknowledged messages, all in one
//! pipeline; then one bounded step of the result backend's sweep ([`super::results`]).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::Utc;
use opsdeck_core::queues::{Count, JobState, QueueStats, System};
use redis::Value;
use serde_json::Value as Json;

use super::message::{self, NotRead};
use super::{CeleryConnector, results, unsupported};
use crate::queues::redis_client::reply;
use crate::queues::{Poll, PollCost, QueueError};

/// Unacknowledged messages read to count each queue's: past this, only the broker-wide
/// total is known and no queue gets an active count.
pub(super) const UNACKED_READ_MAX: u64 = 200;

fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        _ => None,
    }
}

/// The routing key an `unacked` entry (`[message, exchange, routing_key]`) was sent with.
pub(super) fn routing_key_of(raw: &[u8]) -> Option<String> {
    let entry: Json = serde_json::from_slice(raw).ok()?;
    entry
        .get(2)
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| {
            entry
                .get(0)
                .and_then(|m| m.pointer("/properties/delivery_info/routing_key"))
                .and_then(Json::as_str)
                .map(str::to_owned)
        })
}

pub(super) async fn poll(connector: &CeleryConnector, _slow: bool) -> Result<Poll, QueueError> {
    let mut cost = PollCost::default();
    let mut pipe = redis::pipe();
    for queue in &connector.queues {
        for list in connector.lists(queue) {
            pipe.cmd("LLEN").arg(list);
        }
        pipe.cmd("LINDEX").arg(&connector.lists(queue)[0]).arg(-1);
    }
    pipe.cmd("HLEN").arg(connector.unacked_key());
    let started = Instant::now();
    let values: Vec<Value> = connector.broker.query(&pipe).await?;
    cost.commands += values.len() as u64;
    let unacked = values
        .last()
        .and_then(reply::int)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    let per_queue: Option<HashMap<String, u64>> = if unacked <= UNACKED_READ_MAX {
        let entries: Vec<Vec<u8>> = connector
            .broker
            .command(redis::cmd("HVALS").arg(connector.unacked_key()))
            .await?;
        cost.commands += 1;
        let mut counts = HashMap::new();
        for entry in entries {
            if let Some(key) = routing_key_of(&entry) {
                *counts.entry(key).or_default() += 1;
            }
        }
        Some(counts)
    } else {
        None
    };
    cost.elapsed += started.elapsed();
    let mut protocol2 = false;
    for (index, _) in connector.queues.iter().enumerate() {
        if let Some(raw) = values.get(index * 5 + 4).and_then(bytes) {
            match message::parse(raw) {
                Ok(_) => protocol2 = true,
                Err(why @ (NotRead::NotJson | NotRead::NotProtocol2)) => {
                    return Err(unsupported(why.describe()));
                }
            }
        }
    }
    results::step(connector, &mut cost).await?;
    let polled_at = Utc::now();
    let hour_ago = polled_at - chrono::Duration::hours(1);
    let sweep = connector.sweep.lock().unwrap_or_else(|p| p.into_inner());
    let mut stats = Vec::with_capacity(connector.queues.len());
    for (index, queue) in connector.queues.iter().enumerate() {
        let depth: u64 = (0..4)
            .filter_map(|i| values.get(index * 5 + i).and_then(reply::int))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .sum();
        let count = |value: u64| Count {
            value,
            at: polled_at,
        };
        let mut counts = BTreeMap::new();
        counts.insert(JobState::Waiting, count(depth));
        if let Some(per_queue) = &per_queue {
            counts.insert(
                JobState::Active,
                count(per_queue.get(queue.as_str()).copied().unwrap_or(0)),
            );
        } else if connector.queues.len() == 1 {
            // One queue named: the broker's whole unacknowledged count is taken as its.
            counts.insert(JobState::Active, count(unacked));
        }
        let mut failures_last_hour = None;
        if connector.backend.is_some() {
            let first = connector.first_queue() == Some(queue);
            let failures = sweep.failures_of(queue.as_str(), first);
            counts.insert(JobState::Failed, count(failures.len() as u64));
            failures_last_hour = Some(
                failures
                    .iter()
                    .filter(|f| f.date_done.is_some_and(|at| at >= hour_ago))
                    .count() as u64,
            );
        }
        stats.push(QueueStats {
            source: connector.context.source.clone(),
            queue: queue.clone(),
            system: System::Celery,
            counts,
            // Messages carry no time they were sent.
            oldest_waiting_seconds: None,
            failures_last_hour,
            paused: None,
            polled_at,
        });
    }
    Ok(Poll {
        version: protocol2.then(|| "celery message protocol 2".to_owned()),
        queues: stats,
        cost,
    })
}
