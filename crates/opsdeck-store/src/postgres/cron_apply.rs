//! The PostgreSQL SQL that commits steps of cron monitors ([`StateWrite`]s): many in one
//! transaction, so a single writer per replica can group-commit pings.
//!
//! Each step's state is written first, by a conditional `UPDATE … WHERE version = $2`.
//! A concurrent writer of the same monitor waits on the row lock that update takes, then
//! finds the version moved and updates nothing: that step answers conflict (or not
//! found), none of its runs or logs is written, and the other steps carry on. Steps are
//! applied in slug order, so two batches (two replicas) lock the monitors they share in
//! the same order and cannot deadlock. The runs of the written steps then go in with a
//! few multi-row statements, and their logs last.

use chrono::{DateTime, SubsecRound, Utc};
use opsdeck_core::cron::{Run, StateWrite, append_log, state_json};
use opsdeck_core::{StoreError, StoreResult};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::PgStore;
use crate::shapes::shaped_chunks;

/// The result of one step inside the batch: the outer error aborts the whole batch.
type Step = StoreResult<StoreResult<u64>>;

impl PgStore {
    pub(super) async fn apply_steps(
        &self,
        writes: &[StateWrite],
    ) -> StoreResult<Vec<StoreResult<u64>>> {
        for write in writes {
            check_runs_belong(write)?;
        }
        // Stable, so two steps of one monitor keep their order (the second chains on the
        // first's version).
        let mut order: Vec<usize> = (0..writes.len()).collect();
        order.sort_by(|&a, &b| writes[a].slug.cmp(&writes[b].slug));
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let mut results: Vec<Option<StoreResult<u64>>> = writes.iter().map(|_| None).collect();
        // The runs and logs of the steps whose state was written, in the order applied:
        // the runs go in with a few multi-row statements rather than one each (a busy
        // monitor's batch is hundreds of runs), then the logs, whose runs now all exist.
        let mut runs = Vec::new();
        let mut logs = Vec::new();
        for index in order {
            let write = &writes[index];
            let result = self.write_state(&mut tx, write).await?;
            if result.is_ok() {
                runs.extend(write.outcome.runs.iter().map(|run| (write, run)));
                logs.extend(write.outcome.logs.iter().map(|log| (write, log)));
            }
            results[index] = Some(result);
        }
        for segment in without_repeats(&runs) {
            for chunk in shaped_chunks(segment) {
                self.upsert_runs(&mut tx, chunk).await?;
            }
        }
        for (write, log) in logs {
            self.append_run_log(&mut tx, write.slug.as_str(), log.run_id, &log.text)
                .await?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| Err(StoreError::Other("a write went unanswered".into())))
            })
            .collect())
    }

    /// Writes the step's state if the monitor is still at the step's version.
    async fn write_state(&self, conn: &mut PgConnection, write: &StateWrite) -> Step {
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.trunc_subsecs(3));
        let slug = write.slug.as_str();
        let last = write.last_run();
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE cron_monitors SET
                 version = version + 1, state = $3::jsonb, status = $4, failure_streak = $5,
                 next_check_at = $6, status_since = coalesce($7, status_since),
                 last_run_id = CASE WHEN $8 THEN $9 ELSE last_run_id END,
                 last_run_status = CASE WHEN $8 THEN $10 ELSE last_run_status END,
                 last_run_finished_at = CASE WHEN $8 THEN $11 ELSE last_run_finished_at END,
                 last_run_duration_ms = CASE WHEN $8 THEN $12 ELSE last_run_duration_ms END,
                 last_run_error = CASE WHEN $8 THEN $13 ELSE last_run_error END,
                 last_success_at = greatest(last_success_at, $14)
             WHERE slug = $1 AND version = $2
             RETURNING version",
        )
        .bind(slug)
        .bind(i64::try_from(write.version).unwrap_or(i64::MAX))
        .bind(state_json(&write.state))
        .bind(write.state.status.as_str())
        .bind(i64::from(write.state.failure_streak))
        .bind(ms(write.next_check_at))
        .bind(ms(write.outcome.transition.map(|t| t.at)))
        .bind(last.is_some())
        .bind(last.as_ref().map(|l| l.run_id))
        .bind(last.as_ref().map(|l| l.status.as_str()))
        .bind(ms(last.as_ref().and_then(|l| l.finished_at)))
        .bind(last.as_ref().and_then(|l| l.duration_ms).map(millis))
        .bind(last.as_ref().and_then(|l| l.error.as_deref()))
        .bind(ms(write.last_success_at()))
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.fail(e))?;
        let Some(version) = version else {
            return Ok(Err(self.why_unwritten(conn, write).await?));
        };
        Ok(u64::try_from(version).map_err(|_| crate::error::corrupt("cron monitor version")))
    }

    /// Why the state update matched no row: the monitor moved on, or is gone.
    async fn why_unwritten(
        &self,
        conn: &mut PgConnection,
        write: &StateWrite,
    ) -> StoreResult<StoreError> {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM cron_monitors WHERE slug = $1")
            .bind(write.slug.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(match exists {
            Some(_) => StoreError::Conflict(format!(
                "cron monitor {} changed since version {}",
                write.slug, write.version
            )),
            None => StoreError::NotFound,
        })
    }

    /// Inserts each run, or replaces every field of the stored one but its place in the
    /// list, which its first write fixed. No run may appear twice: PostgreSQL refuses to
    /// upsert one row twice in a statement (see [`without_repeats`]).
    async fn upsert_runs(
        &self,
        conn: &mut PgConnection,
        runs: &[(&StateWrite, &Run)],
    ) -> StoreResult<()> {
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.trunc_subsecs(3));
        let mut insert = QueryBuilder::<Postgres>::new(
            "INSERT INTO cron_runs
                 (slug, run_id, status, source, listed_at, expected_at, started_at,
                  finished_at, duration_ms, exit_code, error, missed_slots, last_missed_at,
                  in_maintenance, too_fast) ",
        );
        insert.push_values(runs, |mut row, (write, run)| {
            row.push_bind(write.slug.as_str())
                .push_bind(run.run_id)
                .push_bind(run.status.as_str())
                .push_bind(run.source.as_str())
                .push_bind(write.list_position(run).trunc_subsecs(3))
                .push_bind(ms(run.expected_at))
                .push_bind(ms(run.started_at))
                .push_bind(ms(run.finished_at))
                .push_bind(run.duration_ms.map(millis))
                .push_bind(run.exit_code.map(i16::from))
                .push_bind(run.error.as_deref())
                .push_bind(i64::from(run.missed_slots))
                .push_bind(ms(run.last_missed_at))
                .push_bind(run.in_maintenance)
                .push_bind(run.too_fast);
        });
        insert.push(
            " ON CONFLICT (slug, run_id) DO UPDATE SET
                 status = excluded.status, source = excluded.source,
                 expected_at = excluded.expected_at, started_at = excluded.started_at,
                 finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
                 exit_code = excluded.exit_code, error = excluded.error,
                 missed_slots = excluded.missed_slots, last_missed_at = excluded.last_missed_at,
                 in_maintenance = excluded.in_maintenance, too_fast = excluded.too_fast",
        );
        insert
            .build()
            .execute(&mut *conn)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Appends to the run's log, keeping its tail; text for an unknown run is dropped.
    /// The monitor's row lock, taken by the state update, serialises appends to its runs.
    async fn append_run_log(
        &self,
        conn: &mut PgConnection,
        slug: &str,
        run_id: Uuid,
        text: &str,
    ) -> StoreResult<()> {
        // The outer Option: whether the run exists; the inner: whether it has a log yet.
        let stored: Option<Option<String>> = sqlx::query_scalar(
            "SELECT l.excerpt FROM cron_runs r
             LEFT JOIN cron_run_logs l ON l.slug = r.slug AND l.run_id = r.run_id
             WHERE r.slug = $1 AND r.run_id = $2",
        )
        .bind(slug)
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.fail(e))?;
        let Some(stored) = stored else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO cron_run_logs (slug, run_id, excerpt) VALUES ($1, $2, $3)
             ON CONFLICT (slug, run_id) DO UPDATE SET excerpt = excluded.excerpt",
        )
        .bind(slug)
        .bind(run_id)
        .bind(append_log(stored.as_deref().unwrap_or_default(), text))
        .execute(&mut *conn)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

/// Refuses a step that writes another monitor's run (a caller's bug) before anything is
/// written.
fn check_runs_belong(write: &StateWrite) -> StoreResult<()> {
    match write.stray_run() {
        Some(_) => Err(StoreError::Other(
            format!(
                "a step of cron monitor {} writes another monitor's run",
                write.slug
            )
            .into(),
        )),
        None => Ok(()),
    }
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// `runs` cut, in order, into consecutive segments in which no run (monitor and id)
/// appears twice, so each segment can be one upsert and a run written twice in a batch
/// still ends as its later write has it.
fn without_repeats<'a, 'w>(
    mut runs: &'a [(&'w StateWrite, &'w Run)],
) -> impl Iterator<Item = &'a [(&'w StateWrite, &'w Run)]> {
    std::iter::from_fn(move || {
        if runs.is_empty() {
            return None;
        }
        let mut seen = std::collections::HashSet::new();
        let end = runs
            .iter()
            .position(|(write, run)| !seen.insert((write.slug.as_str(), run.run_id)))
            .unwrap_or(runs.len());
        let (segment, rest) = runs.split_at(end);
        runs = rest;
        Some(segment)
    })
}
