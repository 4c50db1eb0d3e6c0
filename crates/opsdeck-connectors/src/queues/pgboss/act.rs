//! Retry and discard with pg-boss's own moves (see the module doc of `pgboss`), chunk by
//! chunk, each chunk one transaction; only the last chunk's commit waits for the disk, and
//! with it for every chunk before it (see `queues::pg_tx`).
//!
//! - A failed or retrying job takes one move whatever else it holds, so the move is made
//!   directly: one guarded statement whose `WHERE` repeats the state the job was seen in and
//!   the dry run's time (a job that failed later is left alone), each row written once, as
//!   pg-boss's own `retry()` writes it. pg-boss's workers never hold a failed or retrying row
//!   (they fetch created and due jobs, and a due retry is shown as waiting); a row another
//!   transaction holds is waited for at most the lock timeout, then checked again by
//!   PostgreSQL before it is moved. The jobs not moved are then read once to say why.
//! - A dead job is either cancelled or dead-lettered, and each comes back its own way: the
//!   jobs no one else holds are locked first (`FOR UPDATE SKIP LOCKED`; a job locked by a
//!   worker's fetch or by another action is skipped as locked, never waited on), re-checked
//!   against the guard, and moved with the state they were seen in repeated in the `WHERE`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::JobState;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::sql::{condition, now, state};
use super::{ACT_TIMEOUT, Layout, PgBossConnector, job_uuid};
use crate::queues::pg_tx::{TxMode, Unflushed};
use crate::queues::{ActGuard, ActionReport, LeftAlone, QueueError, Skip};

/// Jobs per transaction: small enough that no statement holds rows long.
pub const CHUNK: usize = 2_000;

/// What is done to each job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Retry,
    Discard,
}

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
    conn: &PgBossConnector,
    queue: &QueueName,
    ids: &[JobId],
    guard: ActGuard,
    action: Action,
) -> Result<ActionReport, QueueError> {
    let mut report = ActionReport::default();
    let mut parsed = Vec::with_capacity(ids.len());
    for id in ids {
        match job_uuid(id) {
            Some(uuid) => parsed.push((uuid, id)),
            None => report.skipped.push((id.clone(), Skip::Gone)),
        }
    }
    if !matches!(
        guard.state,
        JobState::Failed | JobState::Retrying | JobState::Dead
    ) {
        // Only failed, retrying and dead jobs are retried or discarded.
        report
            .skipped
            .extend(parsed.into_iter().map(|(_, id)| (id.clone(), Skip::Moved)));
        return Ok(report);
    }
    let count = parsed.len().div_ceil(CHUNK);
    let mut unflushed = Unflushed::default();
    for (index, chunk) in parsed.chunks(CHUNK).enumerate() {
        let mode = TxMode::chunk(index, count);
        let (mut tx, layout) = conn.begin(mode, ACT_TIMEOUT).await?;
        let before = report.done.len();
        let step = Chunk {
            conn,
            layout,
            queue,
            guard,
            action,
        };
        let outcome = match conn.check_queue(&mut tx, queue).await {
            Ok(()) => step.run(&mut tx, chunk, &mut report).await,
            Err(err) => Err(err),
        };
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

/// A locked row: id, opsdeck's state, pg-boss's state, when it finished (failed).
type Seen = (Uuid, String, String, Option<DateTime<Utc>>);

struct Chunk<'a> {
    conn: &'a PgBossConnector,
    layout: Layout,
    queue: &'a QueueName,
    guard: ActGuard,
    action: Action,
}

impl Chunk<'_> {
    async fn run(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        chunk: &[(Uuid, &JobId)],
        report: &mut ActionReport,
    ) -> Result<(), QueueError> {
        if let Some(step) = self.direct_move() {
            return self.run_direct(tx, chunk, step, report).await;
        }
        let conn = self.conn;
        let s = conn.sql.s();
        let uuids: Vec<Uuid> = chunk.iter().map(|(u, _)| *u).collect();
        let lock = format!(
            "SELECT j.id, {}, j.state::text, j.completed_on FROM {s}.job j \
             WHERE j.name = $1 AND j.id = ANY($2) FOR UPDATE OF j SKIP LOCKED",
            state(self.layout)
        );
        let seen: Vec<Seen> = timed(
            &mut report.longest_step,
            sqlx::query_as(sqlx::AssertSqlSafe(lock))
                .bind(self.queue.as_str())
                .bind(&uuids)
                .fetch_all(&mut **tx),
        )
        .await
        .map_err(|e| conn.fail(e))?;
        let seen: HashMap<Uuid, Seen> = seen.into_iter().map(|row| (row.0, row)).collect();
        let missing: Vec<Uuid> = uuids
            .iter()
            .copied()
            .filter(|u| !seen.contains_key(u))
            .collect();
        // A job not locked here either is gone or is held by someone else right now.
        let held: HashSet<Uuid> = if missing.is_empty() {
            HashSet::new()
        } else {
            let sql = format!("SELECT j.id FROM {s}.job j WHERE j.name = $1 AND j.id = ANY($2)");
            let rows: Vec<(Uuid,)> = timed(
                &mut report.longest_step,
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(self.queue.as_str())
                    .bind(&missing)
                    .fetch_all(&mut **tx),
            )
            .await
            .map_err(|e| conn.fail(e))?;
            rows.into_iter().map(|(id,)| id).collect()
        };
        // The jobs that pass, by the move they take (a dead job is either cancelled or
        // dead-lettered here, and each comes back its own way).
        let mut passing: HashMap<Move, Vec<Uuid>> = HashMap::new();
        for (uuid, id) in chunk {
            let skip = match seen.get(uuid) {
                None if held.contains(uuid) => Some(Skip::Locked),
                None => Some(Skip::Gone),
                Some((_, shown, _, _)) if shown.as_str() != self.guard.state.as_str() => {
                    Some(Skip::Moved)
                }
                Some((_, _, _, finished)) => self
                    .guard
                    .failed_not_after
                    .zip(*finished)
                    .filter(|(pinned, failed)| failed > pinned)
                    .map(|_| Skip::Newer),
            };
            match skip {
                Some(skip) => report.skipped.push(((*id).clone(), skip)),
                None => {
                    let raw = seen.get(uuid).map_or("", |row| row.2.as_str());
                    passing.entry(self.move_of(raw)).or_default().push(*uuid);
                }
            }
        }
        let mut done = HashSet::new();
        for (step, ids) in &passing {
            let sql = self.sql_of(*step, "true");
            let moved: Vec<(Uuid,)> = timed(
                &mut report.longest_step,
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(self.queue.as_str())
                    .bind(ids)
                    .fetch_all(&mut **tx),
            )
            .await
            .map_err(|e| conn.fail(e))?;
            done.extend(moved.into_iter().map(|(id,)| id));
        }
        let passing: HashSet<Uuid> = passing.into_values().flatten().collect();
        for (uuid, id) in chunk {
            if !passing.contains(uuid) {
                continue;
            }
            if done.contains(uuid) {
                report.done.push((*id).clone());
            } else {
                // Locked here and still in its state, so only a move that could not be
                // made explains it: a redrive whose original queue is gone or already holds
                // a job this one conflicts with (its singleton key).
                report.skipped.push(((*id).clone(), Skip::Moved));
            }
        }
        Ok(())
    }

    /// The move every job of the chunk takes when it does not depend on anything but the
    /// state the jobs were seen in.
    fn direct_move(&self) -> Option<Move> {
        match (self.action, self.guard.state) {
            (Action::Retry, JobState::Failed) => Some(Move::Retry),
            (Action::Retry, JobState::Retrying) => Some(Move::DueNow),
            (Action::Discard, JobState::Retrying) => Some(Move::Cancel),
            (Action::Discard, JobState::Failed) => Some(Move::Delete),
            _ => None,
        }
    }

    /// `step` on the chunk in one statement guarded by the state seen and the dry run's time;
    /// then the jobs it did not move are read once, to say why.
    async fn run_direct(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        chunk: &[(Uuid, &JobId)],
        step: Move,
        report: &mut ActionReport,
    ) -> Result<(), QueueError> {
        let conn = self.conn;
        let uuids: Vec<Uuid> = chunk.iter().map(|(u, _)| *u).collect();
        let guard = format!(
            "{} AND ($3::timestamptz IS NULL OR j.completed_on IS NULL OR j.completed_on <= $3)",
            condition(self.layout, self.guard.state)
        );
        let sql = self.sql_of(step, &guard);
        let moved: Vec<(Uuid,)> = timed(
            &mut report.longest_step,
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(self.queue.as_str())
                .bind(&uuids)
                .bind(self.guard.failed_not_after)
                .fetch_all(&mut **tx),
        )
        .await
        .map_err(|e| conn.fail(e))?;
        let done: HashSet<Uuid> = moved.into_iter().map(|(id,)| id).collect();
        let rest: Vec<Uuid> = uuids
            .iter()
            .copied()
            .filter(|u| !done.contains(u))
            .collect();
        let seen: HashMap<Uuid, Seen> = if rest.is_empty() {
            HashMap::new()
        } else {
            let sql = format!(
                "SELECT j.id, {}, j.state::text, j.completed_on FROM {}.job j \
                 WHERE j.name = $1 AND j.id = ANY($2)",
                state(self.layout),
                conn.sql.s()
            );
            let rows: Vec<Seen> = timed(
                &mut report.longest_step,
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(self.queue.as_str())
                    .bind(&rest)
                    .fetch_all(&mut **tx),
            )
            .await
            .map_err(|e| conn.fail(e))?;
            rows.into_iter().map(|row| (row.0, row)).collect()
        };
        for (uuid, id) in chunk {
            if done.contains(uuid) {
                report.done.push((*id).clone());
                continue;
            }
            let now = seen.get(uuid).map(|(_, shown, _, finished)| LeftAlone {
                locked: false,
                state: shown,
                failed_at: *finished,
            });
            let skip = self.guard.why_left(now);
            report.skipped.push(((*id).clone(), skip));
        }
        Ok(())
    }

    /// The move a passing job in pg-boss's state `raw` takes.
    fn move_of(&self, raw: &str) -> Move {
        match (self.action, self.guard.state) {
            (Action::Retry, JobState::Failed) => Move::Retry,
            (Action::Retry, JobState::Retrying) => Move::DueNow,
            (Action::Retry, _) if raw == "cancelled" => Move::Resume,
            (Action::Retry, _) => Move::Redrive,
            (Action::Discard, JobState::Retrying) => Move::Cancel,
            (Action::Discard, _) => Move::Delete,
        }
    }

    /// The statement of a move: `$1` the queue, `$2` the ids, `guard` a further condition on
    /// the job `j` (not for a redrive); returns the ids moved.
    fn sql_of(&self, step: Move, guard: &str) -> String {
        let s = self.conn.sql.s();
        let now = now(self.layout, s);
        let v12 = self.layout == Layout::V12;
        let which = format!("j.name = $1 AND j.id = ANY($2) AND ({guard})");
        match step {
            Move::Retry => format!(
                "UPDATE {s}.job j SET state = 'retry', retry_limit = j.retry_limit + 1, \
                 completed_on = NULL{} WHERE {which} AND j.state = 'failed' RETURNING j.id",
                if v12 {
                    format!(", start_after = GREATEST(j.start_after, {now})")
                } else {
                    String::new()
                }
            ),
            Move::DueNow => format!(
                "UPDATE {s}.job j SET start_after = {now} WHERE {which} AND {} RETURNING j.id",
                condition(self.layout, JobState::Retrying)
            ),
            Move::Resume => format!(
                "UPDATE {s}.job j SET state = 'created', completed_on = NULL, \
                 start_after = GREATEST(j.start_after, {now}){} \
                 WHERE {which} AND j.state = 'cancelled' RETURNING j.id",
                if v12 { ", upsert_by_key = NULL" } else { "" }
            ),
            Move::Cancel => format!(
                "UPDATE {s}.job j SET state = 'cancelled', completed_on = {now} \
                 WHERE {which} AND {} RETURNING j.id",
                condition(self.layout, JobState::Retrying)
            ),
            Move::Delete => format!(
                "DELETE FROM {s}.job j WHERE {which} AND {} RETURNING j.id",
                condition(self.layout, self.guard.state)
            ),
            Move::Redrive => redrive_sql(s, &now),
        }
    }
}

/// What is done to one passing job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Move {
    /// A failed job gets one more attempt (pg-boss's `retry()`).
    Retry,
    /// A retrying job is due now.
    DueNow,
    /// A cancelled job runs again (pg-boss's `resume()`).
    Resume,
    /// A dead-lettered job goes back to its original queue (pg-boss 12's `redrive()`).
    Redrive,
    /// A retrying job gets no more attempts (pg-boss's `cancel()`).
    Cancel,
    /// A failed or dead job is removed (pg-boss's `deleteJob()`).
    Delete,
}

/// pg-boss 12's redrive of the dead-lettered jobs `$2` of the dead-letter queue `$1`: each is
/// re-created, with a new id, in the queue it came from (`source_name`) with that queue's
/// settings as they are now and its own data, priority, keys and group, keeping the chain's
/// first job in `source_root_id`; those re-created are deleted here. One whose queue is gone
/// or which collides with a job there (`ON CONFLICT`) stays where it is. Returns the ids
/// moved out of the dead-letter queue.
fn redrive_sql(s: &str, now: &str) -> String {
    format!(
        "WITH moving AS MATERIALIZED ( \
           SELECT m.id, gen_random_uuid() AS new_id FROM {s}.job m \
           JOIN {s}.queue q ON q.name = m.source_name \
           WHERE m.name = $1 AND m.id = ANY($2) AND m.state < 'active' \
             AND m.source_name IS NOT NULL), \
         created AS ( \
           INSERT INTO {s}.job (id, name, data, priority, retry_limit, retry_backoff, \
             retry_delay, retry_delay_max, expire_seconds, start_after, created_on, keep_until, \
             deletion_seconds, policy, singleton_key, group_id, group_tier, heartbeat_seconds, \
             dead_letter, source_root_id, trace_context) \
           SELECT mv.new_id, q.name, m.data, m.priority, q.retry_limit, q.retry_backoff, \
             q.retry_delay, q.retry_delay_max, q.expire_seconds, {now}, {now}, \
             {now} + q.retention_seconds * interval '1s', q.deletion_seconds, q.policy, \
             m.singleton_key, m.group_id, m.group_tier, q.heartbeat_seconds, q.dead_letter, \
             COALESCE(m.source_root_id, m.source_id), m.trace_context \
           FROM moving mv JOIN {s}.job m ON m.name = $1 AND m.id = mv.id \
           JOIN {s}.queue q ON q.name = m.source_name \
           ORDER BY m.created_on \
           ON CONFLICT DO NOTHING RETURNING id) \
         DELETE FROM {s}.job j USING moving mv, created c \
         WHERE j.name = $1 AND j.id = mv.id AND c.id = mv.new_id RETURNING j.id"
    )
}
