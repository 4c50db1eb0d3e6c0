//! The PostgreSQL SQL that commits steps of cron monitors ([`StateWrite`]s): many in one
//! transaction, so a single writer per replica can group-commit pings.
//!
//! The monitors the steps name are locked first, in slug order, so two batches (two
//! replicas) that share monitors cannot deadlock. The states are then written, many
//! monitors in one conditional `UPDATE … FROM (VALUES …) WHERE version = …`: a step whose
//! monitor it does not update (a concurrent writer moved the version) answers conflict
//! (or not found), none of its runs or logs is written, and the other steps carry on. The
//! runs of the written steps then go in with a few multi-row statements, and their logs
//! last.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use opsdeck_core::cron::{Run, StateWrite, append_log, state_json};
use opsdeck_core::{StoreError, StoreResult};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::PgStore;
use crate::shapes::{
    StepResults, answers, check_runs_belong, rounds, shaped_chunks, written_outcomes,
    written_version,
};

impl PgStore {
    pub(super) async fn apply_steps(
        &self,
        writes: &[StateWrite],
    ) -> StoreResult<Vec<StoreResult<u64>>> {
        check_runs_belong(writes)?;
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        self.lock_monitors(&mut tx, writes).await?;
        let mut results: StepResults = writes.iter().map(|_| None).collect();
        for round in rounds(writes) {
            for chunk in shaped_chunks(&round) {
                let written = self.write_states(&mut tx, writes, chunk).await?;
                for &index in chunk {
                    let write = &writes[index];
                    results[index] = Some(match written_version(&written, write) {
                        Some(answer) => answer,
                        None => Err(self.why_unwritten(&mut tx, write).await?),
                    });
                }
            }
        }
        let (runs, logs) = written_outcomes(writes, &results);
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
        Ok(answers(results))
    }

    /// Locks the rows of the monitors `writes` name, in slug order: two batches (two
    /// replicas) that share monitors lock them in the same order and cannot deadlock, and
    /// the updates that follow, in whatever order the plan visits the rows, wait on nobody.
    async fn lock_monitors(
        &self,
        conn: &mut PgConnection,
        writes: &[StateWrite],
    ) -> StoreResult<()> {
        let mut slugs: Vec<&str> = writes.iter().map(|write| write.slug.as_str()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        sqlx::query("SELECT 1 FROM cron_monitors WHERE slug = ANY($1) ORDER BY slug FOR UPDATE")
            .bind(slugs)
            .execute(&mut *conn)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Writes the states of `chunk` (indexes into `writes`, no monitor twice) in one
    /// statement, each only if its monitor is still at the step's version; the monitors
    /// written, with their new versions.
    async fn write_states(
        &self,
        conn: &mut PgConnection,
        writes: &[StateWrite],
        chunk: &[usize],
    ) -> StoreResult<HashMap<String, i64>> {
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.trunc_subsecs(3));
        let mut update = QueryBuilder::<Postgres>::new(
            "UPDATE cron_monitors AS m SET
                 version = m.version + 1, state = v.state::jsonb, status = v.status,
                 failure_streak = v.failure_streak, next_check_at = v.next_check_at,
                 status_since = coalesce(v.status_since, m.status_since),
                 last_run_id = CASE WHEN v.has_last THEN v.run_id ELSE m.last_run_id END,
                 last_run_status = CASE WHEN v.has_last THEN v.run_status
                                        ELSE m.last_run_status END,
                 last_run_finished_at = CASE WHEN v.has_last THEN v.finished_at
                                             ELSE m.last_run_finished_at END,
                 last_run_duration_ms = CASE WHEN v.has_last THEN v.duration_ms
                                             ELSE m.last_run_duration_ms END,
                 last_run_error = CASE WHEN v.has_last THEN v.error ELSE m.last_run_error END,
                 last_success_at = greatest(m.last_success_at, v.success_at)
             FROM (",
        );
        update.push_values(chunk, |mut row, &index| {
            let write = &writes[index];
            let last = write.last_run();
            row.push_bind(write.slug.as_str())
                .push_bind(i64::try_from(write.version).unwrap_or(i64::MAX))
                .push_bind(state_json(&write.state))
                .push_bind(write.state.status.as_str())
                .push_bind(i64::from(write.state.failure_streak))
                .push_bind(ms(write.next_check_at))
                .push_bind(ms(write.outcome.transition.map(|t| t.at)))
                .push_bind(last.is_some())
                .push_bind(last.as_ref().map(|l| l.run_id))
                .push_bind(last.as_ref().map(|l| l.status.as_str()))
                .push_bind(ms(last.as_ref().and_then(|l| l.finished_at)))
                .push_bind(last.as_ref().and_then(|l| l.duration_ms).map(millis))
                .push_bind(last.as_ref().and_then(|l| l.error.clone()))
                .push_bind(ms(write.last_success_at()));
        });
        update.push(
            ") AS v (slug, version, state, status, failure_streak, next_check_at, status_since,
                     has_last, run_id, run_status, finished_at, duration_ms, error, success_at)
             WHERE m.slug = v.slug AND m.version = v.version
             RETURNING m.slug, m.version",
        );
        let written: Vec<(String, i64)> = update
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(written.into_iter().collect())
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
