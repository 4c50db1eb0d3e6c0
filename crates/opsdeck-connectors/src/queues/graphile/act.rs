//! Retry and discard, chunk by chunk, each chunk one transaction; only the last chunk's
//! commit waits for the disk, and with it for every chunk before it (see `queues::pg_tx`).
//!
//! - *Retry* is one guarded statement per chunk: the `UPDATE` graphile-worker's own
//!   `reschedule_jobs` makes (the same columns set, the same "not locked by a worker"
//!   condition), with the guard added to its `WHERE` — still in this task, still in the
//!   state it was seen in, failed no later than the dry run. Each row is read and written
//!   once, and PostgreSQL re-checks the whole condition on a row another transaction changed
//!   meanwhile (a worker taking it, a second retry of it), so a job moves only while the
//!   guard holds. The jobs not moved are then read once to say why.
//! - *Discard* calls graphile-worker's `complete_jobs` or `permanently_fail_jobs` on the jobs
//!   that pass the guard once locked: the jobs no one else holds are locked first (`FOR
//!   UPDATE SKIP LOCKED`; a job locked by a worker or by another action is never waited on:
//!   it is skipped as locked) and re-checked.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::JobState;
use sqlx::{Postgres, Transaction};

use super::sql::condition;
use super::{ACT_TIMEOUT, GraphileConnector, job_number};
use crate::queues::pg_tx::{TxMode, Unflushed};
use crate::queues::{ActGuard, ActionReport, LeftAlone, QueueError, Skip};

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
    let count = numbered.len().div_ceil(CHUNK);
    let mut unflushed = Unflushed::default();
    for (index, chunk) in numbered.chunks(CHUNK).enumerate() {
        let mode = TxMode::chunk(index, count);
        let (mut tx, _) = conn.begin(mode, ACT_TIMEOUT).await?;
        let task = conn.task_id(&mut tx, queue).await?;
        let before = report.done.len();
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
        let moved = report.done.len() > before;
        unflushed
            .after_commit(mode, moved, &conn.pool)
            .await
            .map_err(|e| conn.fail(e))?;
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
    if action == Action::Retry {
        return retry_chunk(conn, tx, task, chunk, guard, report).await;
    }
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
    let call = if guard.state == JobState::Failed {
        format!("SELECT id FROM {s}.complete_jobs($1)")
    } else {
        format!("SELECT id FROM {s}.permanently_fail_jobs($1, $2)")
    };
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(call)).bind(&passing);
    if guard.state != JobState::Failed {
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

/// Retries a chunk with one guarded `UPDATE` (see the module doc): a failed job gets its
/// attempts back and is due now, as `reschedule_jobs(ids, run_at => now(), attempts => 0)`
/// leaves it; a retrying job is only brought forward (`run_at => now()`).
async fn retry_chunk(
    conn: &GraphileConnector,
    tx: &mut Transaction<'static, Postgres>,
    task: i32,
    chunk: &[(i64, &JobId)],
    guard: ActGuard,
    report: &mut ActionReport,
) -> Result<(), QueueError> {
    let s = conn.sql.s();
    let Some(in_state) = condition(guard.state) else {
        report
            .skipped
            .extend(chunk.iter().map(|(_, id)| ((*id).clone(), Skip::Moved)));
        return Ok(());
    };
    let attempts = if guard.state == JobState::Failed {
        "attempts = 0, "
    } else {
        ""
    };
    let failed_at = conn.sql.failed_at();
    // reschedule_jobs's own UPDATE (graphile-worker migrations 16-20), its condition kept
    // and the guard added; `in_state` holds only for unlocked jobs.
    let sql = format!(
        "UPDATE {s}._private_jobs AS j SET run_at = now(), {attempts}updated_at = now() \
         WHERE j.id = ANY($1) AND j.task_id = $2 \
         AND (j.locked_at IS NULL OR j.locked_at < now() - interval '4 hours') \
         AND {in_state} \
         AND ($3::timestamptz IS NULL OR ({failed_at}) IS NULL OR ({failed_at}) <= $3) \
         RETURNING j.id"
    );
    let numbers: Vec<i64> = chunk.iter().map(|(n, _)| *n).collect();
    let moved: Vec<(i64,)> = timed(
        &mut report.longest_step,
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&numbers)
            .bind(task)
            .bind(guard.failed_not_after)
            .fetch_all(&mut **tx),
    )
    .await
    .map_err(|e| conn.fail(e))?;
    let moved: HashSet<i64> = moved.into_iter().map(|(id,)| id).collect();
    let left: Vec<i64> = numbers
        .iter()
        .copied()
        .filter(|n| !moved.contains(n))
        .collect();
    // Why the others stayed: read once, as they are now.
    let seen: HashMap<i64, Seen> = if left.is_empty() {
        HashMap::new()
    } else {
        let sql = format!(
            "SELECT j.id, j.task_id, \
             (j.locked_at IS NOT NULL AND j.locked_at > now() - interval '4 hours'), \
             {}, {failed_at} FROM {s}._private_jobs j WHERE j.id = ANY($1)",
            conn.sql.state(),
        );
        let rows: Vec<Seen> = timed(
            &mut report.longest_step,
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&left)
                .fetch_all(&mut **tx),
        )
        .await
        .map_err(|e| conn.fail(e))?;
        rows.into_iter().map(|row| (row.0, row)).collect()
    };
    for (number, id) in chunk {
        if moved.contains(number) {
            report.done.push((*id).clone());
            continue;
        }
        let now = seen
            .get(number)
            .filter(|(_, job_task, _, _, _)| *job_task == task)
            .map(|(_, _, locked, state, failed_at)| LeftAlone {
                locked: *locked,
                state,
                failed_at: *failed_at,
            });
        let skip = guard.why_left(now);
        report.skipped.push(((*id).clone(), skip));
    }
    Ok(())
}
