//! Committing steps of cron monitors ([`StateWrite`]s): many in one transaction, so a single
//! writer can group-commit pings at the cost of one commit.
//!
//! The steps' states are written first, many monitors in one conditional `UPDATE … FROM
//! (VALUES …) WHERE version = …` (one statement per round rather than one per monitor: every
//! statement is a round trip). A step whose monitor it does not update answers conflict (or
//! not found) and none of its runs or logs is written, while the other steps carry on. The
//! runs of the written steps then go in with a few multi-row statements, and their logs last.

use std::collections::{HashMap, HashSet};

use opsdeck_core::cron::{Run, StateWrite, append_log, state_json};
use opsdeck_core::{StoreError, StoreResult};
use sqlx::QueryBuilder;

use super::cron::CronSql;
use crate::dialect::{BindExt, PushExt, RowExt};
use crate::shapes::{
    StepResults, answers, check_runs_belong, rounds, shaped_chunks, written_outcomes,
    written_version,
};
use crate::sql_store::SqlStore;
use crate::values::{Id, Time};

/// The statements that write steps, per backend.
pub(crate) struct StepQueries {
    /// A multi-row update's head, up to `FROM (`; the rows, one per monitor, are `(slug,
    /// version, state, status, failure_streak, next_check_at, status_since, has_last_run,
    /// run_id, run_status, run_finished_at, run_duration_ms, run_error, success_at)`.
    pub write_states: &'static str,
    /// What follows the rows: the condition that each monitor is still at the row's
    /// version, and `RETURNING slug, version` of the monitors written.
    pub write_states_end: &'static str,
    /// Binds the slug; a row if the monitor exists.
    pub monitor_exists: &'static str,
    /// A multi-row insert's head, up to `VALUES`; the rows are `(slug, run_id, status,
    /// source, listed_at, expected_at, started_at, finished_at, duration_ms, exit_code,
    /// error, missed_slots, last_missed_at, in_maintenance, too_fast)`.
    pub upsert_runs: &'static str,
    /// What follows the rows: on a stored run, every field but `listed_at` replaced.
    pub upsert_runs_end: &'static str,
    /// Binds slug, run_id; for a stored run, a row with its log's `excerpt` (NULL when it
    /// has none yet).
    pub run_log: &'static str,
    /// Stores a run's log. Binds slug, run_id, excerpt.
    pub put_run_log: &'static str,
}

impl<DB: CronSql> SqlStore<DB> {
    pub(super) async fn apply_steps(
        &self,
        writes: &[StateWrite],
    ) -> StoreResult<Vec<StoreResult<u64>>> {
        check_runs_belong(writes)?;
        let mut tx = self.begin_write().await?;
        DB::lock_monitors(self, &mut tx, writes).await?;
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
        for segment in upsertable(&runs, DB::UPSERTS_A_ROW_TWICE) {
            for chunk in shaped_chunks(segment) {
                self.upsert_runs(&mut tx, chunk).await?;
            }
        }
        for (write, log) in logs {
            self.append_run_log(&mut tx, write.slug.as_str(), Id(log.run_id), &log.text)
                .await?;
        }
        self.commit(tx).await?;
        Ok(answers(results))
    }

    /// Writes the states of `chunk` (indexes into `writes`, no monitor twice) in one
    /// statement, each only if its monitor is still at the step's version; the monitors
    /// written, with their new versions.
    async fn write_states(
        &self,
        conn: &mut DB::Connection,
        writes: &[StateWrite],
        chunk: &[usize],
    ) -> StoreResult<HashMap<String, i64>> {
        let mut update = QueryBuilder::<DB>::new(DB::STEPS.write_states);
        update.push_values(chunk, |mut row, &index| {
            let write = &writes[index];
            let last = write.last_run();
            row.push_arg(write.slug.as_str())
                .push_arg(i64::try_from(write.version).unwrap_or(i64::MAX))
                .push_arg(state_json(&write.state))
                .push_arg(write.state.status.as_str())
                .push_arg(i64::from(write.state.failure_streak))
                .push_arg(write.next_check_at.map(Time::millis))
                .push_arg(write.outcome.transition.map(|t| Time::millis(t.at)))
                .push_arg(last.is_some())
                .push_arg(last.as_ref().map(|l| Id(l.run_id)))
                .push_arg(last.as_ref().map(|l| l.status.as_str()))
                .push_arg(last.as_ref().and_then(|l| l.finished_at).map(Time::millis))
                .push_arg(last.as_ref().and_then(|l| l.duration_ms).map(millis))
                .push_arg(last.as_ref().and_then(|l| l.error.clone()))
                .push_arg(write.last_success_at().map(Time::millis));
        });
        update.push(DB::STEPS.write_states_end);
        let rows = update
            .build()
            .fetch_all(DB::on_conn(conn))
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| Ok((row.col("slug")?, row.col("version")?)))
            .collect()
    }

    /// Why the state update matched no row: the monitor moved on, or is gone.
    async fn why_unwritten(
        &self,
        conn: &mut DB::Connection,
        write: &StateWrite,
    ) -> StoreResult<StoreError> {
        let exists = self
            .query(DB::STEPS.monitor_exists)
            .arg(write.slug.as_str())
            .fetch_optional(DB::on_conn(conn))
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
    /// list, which its first write fixed.
    async fn upsert_runs(
        &self,
        conn: &mut DB::Connection,
        runs: &[(&StateWrite, &Run)],
    ) -> StoreResult<()> {
        let mut insert = QueryBuilder::<DB>::new(DB::STEPS.upsert_runs);
        insert.push_values(runs, |mut row, (write, run)| {
            row.push_arg(write.slug.as_str())
                .push_arg(Id(run.run_id))
                .push_arg(run.status.as_str())
                .push_arg(run.source.as_str())
                .push_arg(Time::millis(write.list_position(run)))
                .push_arg(run.expected_at.map(Time::millis))
                .push_arg(run.started_at.map(Time::millis))
                .push_arg(run.finished_at.map(Time::millis))
                .push_arg(run.duration_ms.map(millis))
                .push_arg(run.exit_code.map(i16::from))
                .push_arg(run.error.as_deref())
                .push_arg(i64::from(run.missed_slots))
                .push_arg(run.last_missed_at.map(Time::millis))
                .push_arg(run.in_maintenance)
                .push_arg(run.too_fast);
        });
        insert.push(DB::STEPS.upsert_runs_end);
        insert
            .build()
            .execute(DB::on_conn(conn))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Appends to the run's log, keeping its tail; text for an unknown run is dropped. The
    /// transaction's hold on the monitor (SQLite's write lock, PostgreSQL's row lock)
    /// serialises appends to its runs.
    async fn append_run_log(
        &self,
        conn: &mut DB::Connection,
        slug: &str,
        run_id: Id,
        text: &str,
    ) -> StoreResult<()> {
        let stored = self
            .query(DB::STEPS.run_log)
            .arg(slug)
            .arg(run_id)
            .fetch_optional(DB::on_conn(conn))
            .await
            .map_err(|e| self.fail(e))?;
        let Some(stored) = stored else {
            return Ok(());
        };
        let stored: Option<String> = stored.col("excerpt")?;
        self.query(DB::STEPS.put_run_log)
            .arg(slug)
            .arg(run_id)
            .arg(append_log(stored.as_deref().unwrap_or_default(), text))
            .execute(DB::on_conn(conn))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// `runs` cut, in order, into segments that can each be one upsert: the whole when the
/// backend upserts a row twice in a statement, otherwise consecutive segments in which no run
/// (monitor and id) appears twice, so a run written twice in a batch still ends as its later
/// write has it.
fn upsertable<'a, 'w>(
    mut runs: &'a [(&'w StateWrite, &'w Run)],
    repeats_allowed: bool,
) -> impl Iterator<Item = &'a [(&'w StateWrite, &'w Run)]> {
    std::iter::from_fn(move || {
        if runs.is_empty() {
            return None;
        }
        let end = if repeats_allowed {
            runs.len()
        } else {
            let mut seen = HashSet::new();
            runs.iter()
                .position(|(write, run)| !seen.insert((write.slug.as_str(), run.run_id)))
                .unwrap_or(runs.len())
        };
        let (segment, rest) = runs.split_at(end);
        runs = rest;
        Some(segment)
    })
}
