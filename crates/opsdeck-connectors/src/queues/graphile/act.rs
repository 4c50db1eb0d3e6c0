//! Retry and discard through graphile-worker's admin functions, chunk by chunk, each chunk
//! one transaction: lock the jobs that no one else holds (`FOR UPDATE SKIP LOCKED`),
//! re-check each against the guard, act on those that pass, commit. A job locked by a
//! worker or by another action is never waited on: it is skipped as locked.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::JobState;
use sqlx::{Postgres, Transaction};

use super::{ACT_TIMEOUT, GraphileConnector, job_number};
use crate::queues::{ActGuard, ActionReport, QueueError, Skip};

/// Jobs per transaction: small enough that no statement holds rows long.
pub const CHUNK: usize = 1_000;

/// What is done to each job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Retry,
    Discard,
}

/// The last error a discarded retrying job is left with.
const DISCARDED: &str = "Discarded in opsdeck: no more attempts";

/// One statement's result and how long it took.
async fn timed<T, F>(longest: &mut Duration, run: F) -> Result<T, sqlx::Error>
where
    F: Future<Output = Result<T, sqlx::Error>>,
{
    let started = Instant::now();
    let result = run.await;
    *longest = (*longest).max(started.elapsed());
    result
}

pub(super) async fn act(
    conn: &GraphileConnector,
    queue: &QueueName,
    ids: &[JobId],
    guard: ActGuard,
    action: Action,
) -> Result<ActionReport, QueueError> {
    let mut report = ActionReport::default();
    let mut numbered = Vec::with_capacity(ids.len());
    for id in ids {
        match job_number(id) {
            Some(number) => numbered.push((number, id)),
            None => report.skipped.push((id.clone(), Skip::Gone)),
        }
    }
    if !matches!(guard.state, JobState::Failed | JobState::Retrying) {
        // graphile-worker has no other state a job is retried or discarded from.
        report.skipped.extend(
            numbered
                .into_iter()
                .map(|(_, id)| (id.clone(), Skip::Moved)),
        );
        return Ok(report);
    }
    for chunk in numbered.chunks(CHUNK) {
        let (mut tx, _) = conn.begin(true, ACT_TIMEOUT).await?;
        let task = conn.task_id(&mut tx, queue).await?;
        let outcome = act_on_chunk(conn, &mut tx, task, chunk, guard, action, &mut report).await;
        match outcome {
            Ok(()) => {
                timed(&mut report.longest_step, tx.commit())
                    .await
                    .map_err(|e| conn.fail(e))?;
            }
            Err(err) => {
                let _ = tx.rollback().await;
                return Err(err);
            }
        }
    }
    Ok(report)
}

/// The state of a locked row, and its failure time.
type Seen = (i64, i32, bool, String, Option<DateTime<Utc>>);

async fn act_on_chunk(
    conn: &GraphileConnector,
    tx: &mut Transaction<'static, Postgres>,
    task: i32,
    chunk: &[(i64, &JobId)],
    guard: ActGuard,
    action: Action,
    report: &mut ActionReport,
) -> Result<(), QueueError> {
    let s = conn.sql.s();
    let numbers: Vec<i64> = chunk.iter().map(|(n, _)| *n).collect();
    let lock = format!(
        "SELECT j.id, j.task_id, \
         (j.locked_at IS NOT NULL AND j.locked_at > now() - interval '4 hours'), \
         {}, {} FROM {s}._private_jobs j WHERE j.id = ANY($1) FOR UPDATE OF j SKIP LOCKED",
        conn.sql.state(),
        conn.sql.failed_at()
    );
    let seen: Vec<Seen> = timed(
        &mut report.longest_step,
        sqlx::query_as(sqlx::AssertSqlSafe(lock))
            .bind(&numbers)
            .fetch_all(&mut **tx),
    )
    .await
    .map_err(|e| conn.fail(e))?;
    let seen: HashMap<i64, Seen> = seen.into_iter().map(|row| (row.0, row)).collect();
    let missing: Vec<i64> = numbers
        .iter()
        .copied()
        .filter(|n| !seen.contains_key(n))
        .collect();
    // A job not locked here either is gone or is held by someone else right now.
    let held: HashSet<i64> = if missing.is_empty() {
        HashSet::new()
    } else {
        let sql = format!("SELECT id FROM {s}._private_jobs WHERE id = ANY($1)");
        let rows: Vec<(i64,)> = timed(
            &mut report.longest_step,
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&missing)
                .fetch_all(&mut **tx),
        )
        .await
        .map_err(|e| conn.fail(e))?;
        rows.into_iter().map(|(id,)| id).collect()
    };
    let mut passing = Vec::new();
    for (number, id) in chunk {
        let skip = match seen.get(number) {
            None if held.contains(number) => Some(Skip::Locked),
            None => Some(Skip::Gone),
            Some((_, job_task, _, _, _)) if *job_task != task => Some(Skip::Gone),
            Some((_, _, true, _, _)) => Some(Skip::Locked),
            Some((_, _, _, state, _)) if state.as_str() != guard.state.as_str() => {
                Some(Skip::Moved)
            }
            Some((_, _, _, _, failed_at)) => guard
                .failed_not_after
                .zip(*failed_at)
                .filter(|(pinned, failed)| failed > pinned)
                .map(|_| Skip::Newer),
        };
        match skip {
            Some(skip) => report.skipped.push(((*id).clone(), skip)),
            None => passing.push(*number),
        }
    }
    if passing.is_empty() {
        return Ok(());
    }
    let call = match (action, guard.state) {
        (Action::Retry, JobState::Failed) => {
            format!("SELECT id FROM {s}.reschedule_jobs($1, run_at => now(), attempts => 0)")
        }
        (Action::Retry, _) => format!("SELECT id FROM {s}.reschedule_jobs($1, run_at => now())"),
        (Action::Discard, JobState::Failed) => format!("SELECT id FROM {s}.complete_jobs($1)"),
        (Action::Discard, _) => {
            format!("SELECT id FROM {s}.permanently_fail_jobs($1, $2)")
        }
    };
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(call)).bind(&passing);
    if action == Action::Discard && guard.state != JobState::Failed {
        query = query.bind(DISCARDED);
    }
    let done: Vec<(i64,)> = timed(&mut report.longest_step, query.fetch_all(&mut **tx))
        .await
        .map_err(|e| conn.fail(e))?;
    let done: HashSet<i64> = done.into_iter().map(|(id,)| id).collect();
    let passing: HashSet<i64> = passing.into_iter().collect();
    for (number, id) in chunk {
        if !passing.contains(number) {
            continue;
        }
        if done.contains(number) {
            report.done.push((*id).clone());
        } else {
            // The function skips jobs a worker holds; this one was locked here, so only a
            // lock graphile-worker itself still honours can explain it.
            report.skipped.push(((*id).clone(), Skip::Locked));
        }
    }
    Ok(())
}
