//! The per-queue counts of Sidekiq's `schedule`, `retry` and `dead` sets. The sets are
//! global and have no index by queue, so counting one queue's retries means reading every
//! entry. The census does that a bounded slice at a time: on each slow poll it walks each set
//! with `ZSCAN … COUNT` for at most [`ENTRIES_PER_POLL`] entries in all, keeps its tallies
//! between polls, and when a set's cursor comes back to 0 publishes the pass's counts with
//! the time the pass ended. A set small enough is read whole by one `ZRANGE` instead (exact,
//! and fresh on every slow poll).
//!
//! `ZSCAN` returns every entry present for the whole pass at least once; an entry added or
//! removed during the pass may or may not be counted, and one may come twice while Redis
//! resizes the set, so a queue's count is capped at the set's size.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration as Span, Utc};
use opsdeck_core::queues::JobState;

use super::SidekiqConnector;
use super::entry::Entry;
use crate::queues::{PollCost, QueueError};

/// Entries read per slow poll, a third per set: `ZSCAN`s of about a millisecond of Redis
/// each, some 25 ms of waiting in all, which the poller's spacing of slow polls (200 times
/// their cost, at least the poll interval) keeps near 0.5 % of Redis's time.
pub(super) const ENTRIES_PER_POLL: u64 = 30_000;
/// `ZSCAN`'s `COUNT`.
const SCAN_COUNT: u64 = 1_000;
/// A set this small is read whole each slow poll.
const WHOLE_MAX: u64 = 2_000;

/// The sets counted by queue, and the state each is.
pub(super) const SETS: [(&str, JobState); 3] = [
    ("schedule", JobState::Scheduled),
    ("retry", JobState::Retrying),
    ("dead", JobState::Dead),
];

/// One queue's entries in a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    pub count: u64,
    /// Entries whose last failure was within the hour before they were read.
    pub last_hour: u64,
}

/// A finished pass over one set.
#[derive(Debug, Clone, Default)]
pub(super) struct Pass {
    pub at: Option<DateTime<Utc>>,
    pub by_queue: HashMap<String, Tally>,
}

#[derive(Debug, Clone, Default)]
struct SetCensus {
    /// The `ZSCAN` cursor of the pass under way; 0 with `running` false: none.
    cursor: u64,
    running: bool,
    tally: HashMap<String, Tally>,
    done: Pass,
}

/// The census of the three sets.
#[derive(Debug, Clone, Default)]
pub(super) struct Census {
    sets: [SetCensus; 3],
}

impl Census {
    /// The last finished pass of set `index` of [`SETS`].
    pub fn done(&self, index: usize) -> &Pass {
        &self.sets[index].done
    }
}

fn count(tally: &mut HashMap<String, Tally>, entry: &Entry, seen: DateTime<Utc>, failures: bool) {
    let slot = tally.entry(entry.queue().to_owned()).or_default();
    slot.count += 1;
    if failures
        && entry
            .last_failure()
            .is_some_and(|at| seen - at <= Span::hours(1))
    {
        slot.last_hour += 1;
    }
}

fn entries(pairs: Vec<String>, key: &str) -> Result<Vec<Entry>, QueueError> {
    let mut out = Vec::with_capacity(pairs.len() / 2);
    let mut pairs = pairs.into_iter();
    while let (Some(member), Some(score)) = (pairs.next(), pairs.next()) {
        out.push(Entry::parse(member, Some(score), key)?);
    }
    Ok(out)
}

/// Moves the census on by one slow poll's share; `sizes` are the sets' `ZCARD`s.
pub(super) async fn advance(
    connector: &SidekiqConnector,
    sizes: [u64; 3],
    cost: &mut PollCost,
) -> Result<(), QueueError> {
    let mut census = connector
        .census
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let result = walk(connector, &mut census, sizes, cost).await;
    // Whatever was tallied before an error is kept; the pass goes on at the next slow poll.
    *connector.census.lock().unwrap_or_else(|p| p.into_inner()) = census;
    result
}

async fn walk(
    connector: &SidekiqConnector,
    census: &mut Census,
    sizes: [u64; 3],
    cost: &mut PollCost,
) -> Result<(), QueueError> {
    for (index, (name, state)) in SETS.iter().enumerate() {
        // Each set its share, so a huge retry set does not starve the dead set's count.
        let mut budget = ENTRIES_PER_POLL / SETS.len() as u64;
        let set = &mut census.sets[index];
        let key = connector.key(name);
        let failures = *state != JobState::Scheduled;
        if sizes[index] <= WHOLE_MAX && !set.running {
            let started = Instant::now();
            let pairs: Vec<String> = connector
                .client
                .command(
                    redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES"),
                )
                .await?;
            cost.commands += 1;
            cost.elapsed += started.elapsed();
            let seen = Utc::now();
            let mut tally = HashMap::new();
            for entry in entries(pairs, &key)? {
                count(&mut tally, &entry, seen, failures);
            }
            set.done = Pass {
                at: Some(seen),
                by_queue: tally,
            };
            continue;
        }
        while budget > 0 {
            let started = Instant::now();
            let (next, pairs): (u64, Vec<String>) = connector
                .client
                .command(
                    redis::cmd("ZSCAN")
                        .arg(&key)
                        .arg(set.cursor)
                        .arg("COUNT")
                        .arg(SCAN_COUNT),
                )
                .await?;
            cost.commands += 1;
            cost.elapsed += started.elapsed();
            set.running = true;
            let seen = Utc::now();
            let read = entries(pairs, &key)?;
            budget = budget.saturating_sub((read.len() as u64).max(1));
            for entry in &read {
                count(&mut set.tally, entry, seen, failures);
            }
            set.cursor = next;
            if next == 0 {
                let mut by_queue = std::mem::take(&mut set.tally);
                for tally in by_queue.values_mut() {
                    tally.count = tally.count.min(sizes[index]);
                    tally.last_hour = tally.last_hour.min(tally.count);
                }
                set.done = Pass {
                    at: Some(seen),
                    by_queue,
                };
                set.running = false;
                break;
            }
        }
    }
    Ok(())
}
