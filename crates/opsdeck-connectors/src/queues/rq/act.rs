//! Retry and discard, each a script of this module's directory (`retry.lua`,
//! `discard.lua`) making RQ's own moves atomically.
//!
//! A bulk action runs [`CHUNK`] ids per script, one script after the other, so no script
//! holds Redis for more than a few milliseconds; the longest is reported as Redis's clock
//! timed it. Every id is re-checked inside the script (still in `failed`, ended no later
//! than the dry run), so an action is idempotent: a second run finds the jobs moved.

use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::JobState;

use super::record::format_time;
use super::{RqConnector, unsupported};
use crate::queues::redis_client::{Script, reply};
use crate::queues::{ActGuard, ActionReport, QueueError, Skip};

/// Ids per script.
pub(super) const CHUNK: usize = 150;

/// What a script's code for one job means.
fn outcome(code: i64) -> Result<(), Skip> {
    match code {
        1 => Ok(()),
        -3 => Err(Skip::Moved),
        -4 => Err(Skip::Newer),
        -5 => Err(Skip::Refused),
        _ => Err(Skip::Gone),
    }
}

pub(super) async fn act(
    connector: &RqConnector,
    queue: &QueueName,
    ids: &[JobId],
    guard: ActGuard,
    script: Script,
) -> Result<ActionReport, QueueError> {
    if guard.state != JobState::Failed {
        return Err(QueueError::NotPossible(format!(
            "only RQ's failed jobs are retried or discarded, not its {} jobs",
            guard.state
        )));
    }
    let not_after = guard.failed_not_after.map(format_time).unwrap_or_default();
    let mut report = ActionReport::default();
    for chunk in ids.chunks(CHUNK) {
        let mut args = Vec::with_capacity(chunk.len() + 4);
        args.push(connector.prefix.clone());
        args.push(queue.to_string());
        args.push(format_time(Utc::now()));
        args.push(not_after.clone());
        args.extend(chunk.iter().map(ToString::to_string));
        let started = Instant::now();
        let value = connector.client.script(script, Vec::new(), args).await?;
        let waited = started.elapsed();
        if let Some(id) = reply::refusal(&value) {
            return Err(unsupported(&format!(
                "the RQ job {id:?} has no status, created_at or data field"
            )));
        }
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
        if codes.len() != chunk.len() {
            return Err(QueueError::Other(format!(
                "redis answered {} results for {} jobs",
                codes.len(),
                chunk.len()
            )));
        }
        for (id, code) in chunk.iter().zip(codes) {
            match outcome(reply::int(code).unwrap_or(-1)) {
                Ok(()) => report.done.push(id.clone()),
                Err(skip) => report.skipped.push((id.clone(), skip)),
            }
        }
    }
    Ok(report)
}
