//! Retry and discard: each id names one sorted-set entry by its score, jid and the digest of
//! its exact text. A chunk of ids is looked up (`ZRANGEBYSCORE score score` per id and set,
//! pipelined), checked here (still that exact text, in a set the guard allows, of this
//! queue, failed no later than the dry run), and moved by `move.lua`, which removes the exact
//! member and moves nothing whose removal did not happen. [`CHUNK`] entries per script keep
//! each under a few milliseconds of Redis.
//!
//! - Retry is Sidekiq's own `SortedEntry#retry`, made atomic: out of `retry` or `dead`,
//!   `retry_count` one less, `enqueued_at` now, the queue added to `queues`, pushed on the
//!   head of `queue:<name>`. Unlike Sidekiq's own retry, the application's client
//!   middleware does not run (opsdeck is not the application); whatever it had added to
//!   the job is still in it.
//! - Discard is what Sidekiq Web's buttons do: a retrying job is killed (moved to `dead`,
//!   where it can still be retried, as "Kill" does), a dead one is deleted ("Delete" in the
//!   morgue). opsdeck does not trim `dead` as Sidekiq's kill does, since it cannot know the
//!   application's `dead_max_jobs` and `dead_timeout_in_seconds`: Sidekiq trims at its next
//!   death.

use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::JobState;

use super::entry::{Entry, Ref, digest};
use super::{MOVE, SidekiqConnector};
use crate::queues::redis_client::reply;
use crate::queues::{ActGuard, ActionReport, QueueError, Skip};

/// Entries per script: about two milliseconds of Redis for entries of a kilobyte in a set
/// of a million (500 took five).
pub(super) const CHUNK: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Retry,
    Discard,
}

/// An entry as found, or why it is skipped.
type Found = Result<(&'static str, Entry), Skip>;

/// Looks up a chunk's entries in `sets`, one round trip.
async fn find(
    connector: &SidekiqConnector,
    queue: &QueueName,
    sets: &[&'static str],
    chunk: &[JobId],
    guard: ActGuard,
) -> Result<Vec<Found>, QueueError> {
    let refs: Vec<Ref> = chunk.iter().map(Ref::parse).collect();
    let mut pipe = redis::pipe();
    let mut commands = 0;
    for reference in &refs {
        if let Ref::Set { score, .. } = reference {
            for name in sets {
                commands += 1;
                pipe.cmd("ZRANGEBYSCORE")
                    .arg(connector.key(name))
                    .arg(score)
                    .arg(score)
                    .arg("WITHSCORES");
            }
        }
    }
    let mut replies: std::vec::IntoIter<Vec<String>> = if commands == 0 {
        Vec::new().into_iter()
    } else {
        connector
            .client
            .query::<Vec<Vec<String>>>(&pipe)
            .await?
            .into_iter()
    };
    let mut out = Vec::with_capacity(chunk.len());
    for reference in refs {
        let Ref::Set {
            jid,
            digest: wanted,
            ..
        } = reference
        else {
            // A waiting job is not failed: there is nothing to retry or discard.
            out.push(Err(Skip::Moved));
            continue;
        };
        let mut found: Found = Err(Skip::Gone);
        for &name in sets {
            let pairs = replies.next().unwrap_or_default();
            let mut pairs = pairs.into_iter();
            while let (Some(member), Some(score)) = (pairs.next(), pairs.next()) {
                if found.is_ok() {
                    continue;
                }
                let same_text = digest(&member) == wanted;
                let entry = Entry::parse(member, Some(score), &connector.key(name))?;
                if entry.jid() != jid {
                    continue;
                }
                found = if !same_text {
                    // The same job at the same time, but not as it was read.
                    Err(Skip::Moved)
                } else if entry.queue() != queue.as_str() {
                    Err(Skip::Gone)
                } else if guard
                    .failed_not_after
                    .is_some_and(|at| entry.last_failure().is_some_and(|f| f > at))
                {
                    Err(Skip::Newer)
                } else {
                    Ok((name, entry))
                };
            }
        }
        out.push(found);
    }
    Ok(out)
}

pub(super) async fn act(
    connector: &SidekiqConnector,
    queue: &QueueName,
    ids: &[JobId],
    guard: ActGuard,
    action: Action,
) -> Result<ActionReport, QueueError> {
    let sets: &[&'static str] = match guard.state {
        JobState::Retrying => &["retry"],
        JobState::Dead => &["dead"],
        JobState::Failed => &["retry", "dead"],
        other => {
            return Err(QueueError::NotPossible(format!(
                "Sidekiq retries and discards retrying and dead jobs, not {other} ones"
            )));
        }
    };
    let queues_key = connector.key("queues");
    let list_prefix = connector.key("queue:");
    let dead_key = connector.key("dead");
    let mut report = ActionReport::default();
    for chunk in ids.chunks(CHUNK) {
        let found = find(connector, queue, sets, chunk, guard).await?;
        let now = Utc::now();
        let mut args = vec![
            queues_key.clone(),
            list_prefix.clone(),
            dead_key.clone(),
            String::new(),
        ];
        let mut moving = Vec::new();
        let mut kill_score = None;
        for (id, found) in chunk.iter().zip(found) {
            let (name, entry) = match found {
                Ok(found) => found,
                Err(skip) => {
                    report.skipped.push((id.clone(), skip));
                    continue;
                }
            };
            let (op, payload) = match (action, name) {
                (Action::Retry, _) => match entry.requeued(now) {
                    Some(payload) => ("retry", payload),
                    None => {
                        return Err(QueueError::Unsupported(format!(
                            "job {id} could not be rebuilt for its queue; nothing of this chunk was moved"
                        )));
                    }
                },
                (Action::Discard, "retry") => {
                    // Scores are seconds in every Sidekiq version; should a set hold
                    // milliseconds, the new score follows it.
                    kill_score.get_or_insert_with(|| {
                        if entry.score().is_some_and(|s| s > 1e11) {
                            now.timestamp_millis().to_string()
                        } else {
                            format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros())
                        }
                    });
                    ("kill", String::new())
                }
                (Action::Discard, _) => ("delete", String::new()),
            };
            let queue_name = entry.queue().to_owned();
            args.extend([
                op.to_owned(),
                connector.key(name),
                entry.raw,
                queue_name,
                payload,
            ]);
            moving.push(id.clone());
        }
        if moving.is_empty() {
            continue;
        }
        args[3] = kill_score.unwrap_or_else(|| "0".to_owned());
        let sent = Instant::now();
        let value = connector.client.script(MOVE, Vec::new(), args).await?;
        let waited = sent.elapsed();
        let (took, codes) = match reply::array(&value).split_first() {
            Some((took, codes)) => (
                reply::int(took)
                    .and_then(|us| u64::try_from(us).ok())
                    .map_or(waited, Duration::from_micros),
                codes,
            ),
            None => (waited, &[][..]),
        };
        report.longest_step = report.longest_step.max(took);
        if codes.len() != moving.len() {
            return Err(QueueError::Other(format!(
                "redis answered {} results for {} jobs",
                codes.len(),
                moving.len()
            )));
        }
        for (id, code) in moving.into_iter().zip(codes) {
            if reply::int(code) == Some(1) {
                report.done.push(id);
            } else {
                report.skipped.push((id, Skip::Gone));
            }
        }
    }
    Ok(report)
}
