//! Retry, discard, pause and resume, each a script of this module's directory (`retry.lua`,
//! `discard.lua`, `pause.lua`) making the moves BullMQ's own make.
//!
//! A bulk action runs [`CHUNK`] ids per script, one script after the other (the next one sent
//! while the last runs): each holds Redis for a few milliseconds at most, so the
//! application's workers are never stalled, and the longest one is reported as Redis's clock
//! timed it inside the script. Every id is
//! re-checked inside the script (still in `failed`, failed no later than the dry run), so
//! an action is idempotent: a second run finds the jobs moved and says so.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::JobState;

use super::client::{DISCARD, PAUSE, RETRY, Script, reply};
use super::{BullmqConnector, unsupported};
use crate::queues::{ActGuard, ActionReport, QueueError, Skip};

/// Ids per script: a few milliseconds of Redis for a retry or a removal of each.
pub(super) const CHUNK: usize = 250;

/// Scripts sent before the first of them has answered.
const IN_FLIGHT: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Retry,
    Discard,
}

impl Action {
    fn script(self) -> Script {
        match self {
            Action::Retry => RETRY,
            Action::Discard => DISCARD,
        }
    }
}

/// What a script's code for one job means.
fn outcome(code: i64) -> Result<(), Skip> {
    match code {
        1 => Ok(()),
        -2 => Err(Skip::Locked),
        -3 => Err(Skip::Moved),
        -4 => Err(Skip::Newer),
        _ => Err(Skip::Gone),
    }
}

pub(super) async fn act(
    connector: &BullmqConnector,
    queue: &QueueName,
    ids: &[JobId],
    guard: ActGuard,
    action: Action,
) -> Result<ActionReport, QueueError> {
    if guard.state != JobState::Failed {
        return Err(QueueError::NotPossible(format!(
            "BullMQ keeps no {} jobs: only failed jobs are retried or discarded",
            guard.state
        )));
    }
    let base = connector.base(queue);
    let not_after = guard
        .failed_not_after
        .map(|at| at.timestamp_millis().to_string())
        .unwrap_or_default();
    let mut report = ActionReport::default();
    // Each job once: a repeated id is moved by its first mention already.
    let mut seen = HashSet::with_capacity(ids.len());
    let mut distinct = Vec::with_capacity(ids.len());
    for id in ids {
        if seen.insert(id) {
            distinct.push(id);
        } else {
            report.skipped.push((id.clone(), Skip::Moved));
        }
    }
    // Two scripts in flight on the one connection: Redis runs them one after the other, in
    // order, serving its other clients between them, while the next is on its way.
    let client = &connector.client;
    let script = action.script();
    let mut calls = Vec::with_capacity(distinct.len().div_ceil(CHUNK));
    for chunk in distinct.chunks(CHUNK) {
        let mut args = Vec::with_capacity(chunk.len() + 2);
        args.push(base.clone());
        args.push(not_after.clone());
        args.extend(chunk.iter().map(ToString::to_string));
        calls.push(async move {
            let started = Instant::now();
            let value = client.script(script, Vec::new(), args).await;
            (chunk, value, started.elapsed())
        });
    }
    let mut replies = stream::iter(calls).buffered(IN_FLIGHT);
    while let Some((chunk, value, waited)) = replies.next().await {
        let value = value?;
        if let Some(version) = reply::refusal(&value) {
            return Err(unsupported(queue, &version));
        }
        // The script's own time as Redis's clock measured it, else the round trip.
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
                Ok(()) => report.done.push((*id).clone()),
                Err(skip) => report.skipped.push(((*id).clone(), skip)),
            }
        }
    }
    Ok(report)
}

/// Pauses or resumes `queue`; a long legacy `paused` list is moved back in parts.
pub(super) async fn set_paused(
    connector: &BullmqConnector,
    queue: &QueueName,
    paused: bool,
) -> Result<(), QueueError> {
    let base = connector.base(queue);
    let mut action = if paused { "pause" } else { "resume" };
    loop {
        let value = connector
            .client
            .script(PAUSE, Vec::new(), vec![base.clone(), action.to_owned()])
            .await?;
        if let Some(version) = reply::refusal(&value) {
            return Err(unsupported(queue, &version));
        }
        if reply::int(&value).unwrap_or(0) == 0 {
            return Ok(());
        }
        action = "drain";
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
