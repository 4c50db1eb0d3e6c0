//! The SQLite SQL that commits steps of cron monitors ([`StateWrite`]s): many in one
//! `BEGIN IMMEDIATE` transaction, so a single writer can group-commit pings at the cost
//! of one fsync.
//!
//! The steps' states are written first, many monitors in one conditional `UPDATE … FROM
//! (VALUES …) WHERE version = …` (one statement per batch rather than one per monitor:
//! every statement is a round trip to the connection's thread). A step whose monitor it
//! does not update answers conflict (or not found) and none of its runs or logs is
//! written, while the other steps carry on. The runs of the written steps then go in with
//! a few multi-row statements, and their logs last.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use opsdeck_core::cron::{Run, StateWrite, append_log, state_json};
use opsdeck_core::{StoreError, StoreResult};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::SqliteStore;
use crate::shapes::{
    StepResults, answers, check_runs_belong, rounds, shaped_chunks, written_outcomes,
    written_version,
};

impl SqliteStore {
    pub(super) async fn apply_steps(
        &self,
        writes: &[StateWrite],
    ) -> StoreResult<Vec<StoreResult<u64>>> {
        check_runs_belong(writes)?;
        // IMMEDIATE: take the write lock up front (see the module docs of `sqlite`).
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.fail(e))?;
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
        for chunk in shaped_chunks(&runs) {
            self.upsert_runs(&mut tx, chunk).await?;
        }
        for (write, log) in logs {
            self.append_run_log(
                &mut tx,
                write.slug.as_str(),
                &log.run_id.to_string(),
                &log.text,
            )
            .await?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(answers(results))
    }

    /// Writes the states of `chunk` (indexes into `writes`, no monitor twice) in one
    /// statement, each only if its monitor is still at the step's version; the monitors
    /// written, with their new versions.
    async fn write_states(
        &self,
        conn: &mut SqliteConnection,
        writes: &[StateWrite],
        chunk: &[usize],
    ) -> StoreResult<HashMap<String, i64>> {
        let mut update = QueryBuilder::<Sqlite>::new(
            "UPDATE cron_monitors AS m SET
                 version = m.version + 1, state = v.column3, status = v.column4,
                 failure_streak = v.column5, next_check_at = v.column6,
                 status_since = coalesce(v.column7, m.status_since),
                 last_run_id = CASE WHEN v.column8 THEN v.column9 ELSE m.last_run_id END,
                 last_run_status = CASE WHEN v.column8 THEN v.column10
                                        ELSE m.last_run_status END,
                 last_run_finished_at = CASE WHEN v.column8 THEN v.column11
                                             ELSE m.last_run_finished_at END,
                 last_run_duration_ms = CASE WHEN v.column8 THEN v.column12
                                             ELSE m.last_run_duration_ms END,
                 last_run_error = CASE WHEN v.column8 THEN v.column13 ELSE m.last_run_error END,
                 last_success_at = coalesce(max(m.last_success_at, v.column14),
                                            m.last_success_at, v.column14)
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
                .push_bind(write.next_check_at.map(|t| t.timestamp_millis()))
                .push_bind(write.outcome.transition.map(|t| t.at.timestamp_millis()))
                .push_bind(last.is_some())
                .push_bind(last.as_ref().map(|l| l.run_id.to_string()))
                .push_bind(last.as_ref().map(|l| l.status.as_str()))
                .push_bind(
                    last.as_ref()
                        .and_then(|l| l.finished_at)
                        .map(|t| t.timestamp_millis()),
                )
                .push_bind(last.as_ref().and_then(|l| l.duration_ms).map(millis))
                .push_bind(last.as_ref().and_then(|l| l.error.clone()))
                .push_bind(write.last_success_at().map(|t| t.timestamp_millis()));
        });
        update.push(
            ") AS v WHERE m.slug = v.column1 AND m.version = v.column2
             RETURNING slug, version",
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
        conn: &mut SqliteConnection,
        write: &StateWrite,
    ) -> StoreResult<StoreError> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM cron_monitors WHERE slug = ?1")
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
    /// list, which its first write fixed. Rows go in order, so a run written twice in one
    /// statement ends as the later write has it (SQLite upserts row by row).
    async fn upsert_runs(
        &self,
        conn: &mut SqliteConnection,
        runs: &[(&StateWrite, &Run)],
    ) -> StoreResult<()> {
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO cron_runs
                 (slug, run_id, status, source, listed_at, expected_at, started_at,
                  finished_at, duration_ms, exit_code, error, missed_slots, last_missed_at,
                  in_maintenance, too_fast) ",
        );
        insert.push_values(runs, |mut row, (write, run)| {
            row.push_bind(write.slug.as_str())
                .push_bind(run.run_id.to_string())
                .push_bind(run.status.as_str())
                .push_bind(run.source.as_str())
                .push_bind(write.list_position(run).timestamp_millis())
                .push_bind(ms(run.expected_at))
                .push_bind(ms(run.started_at))
                .push_bind(ms(run.finished_at))
                .push_bind(run.duration_ms.map(millis))
                .push_bind(run.exit_code.map(i64::from))
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
    async fn append_run_log(
        &self,
        conn: &mut SqliteConnection,
        slug: &str,
        run_id: &str,
        text: &str,
    ) -> StoreResult<()> {
        // The outer Option: whether the run exists; the inner: whether it has a log yet.
        let stored: Option<Option<String>> = sqlx::query_scalar(
            "SELECT l.excerpt FROM cron_runs r
             LEFT JOIN cron_run_logs l ON l.slug = r.slug AND l.run_id = r.run_id
             WHERE r.slug = ?1 AND r.run_id = ?2",
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
            "INSERT INTO cron_run_logs (slug, run_id, excerpt) VALUES (?1, ?2, ?3)
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

pub(super) fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
