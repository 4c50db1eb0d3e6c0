//! The SQLite SQL of the cron run store.

use sqlx::Sqlite;

use crate::shared::cron_runs::{CronRunSql, RunQueries};

/// The columns of a run.
macro_rules! columns {
    () => {
        "slug, run_id, status, source, listed_at, expected_at, started_at, finished_at, \
         duration_ms, exit_code, error, missed_slots, last_missed_at, in_maintenance, too_fast"
    };
}

impl CronRunSql for Sqlite {
    const RUNS: RunQueries = RunQueries {
        list: concat!("SELECT ", columns!(), " FROM cron_runs WHERE slug = "),
        get: concat!(
            "SELECT ",
            columns!(),
            " FROM cron_runs WHERE slug = ?1 AND run_id = ?2"
        ),
        log: "SELECT excerpt FROM cron_run_logs WHERE slug = ?1 AND run_id = ?2",
        count: "SELECT slug, status, count(*) AS count FROM cron_runs GROUP BY slug, status
             ORDER BY slug, status",
        // Logs go by ON DELETE CASCADE.
        prune: "DELETE FROM cron_runs
             WHERE listed_at < ?1
               AND coalesce(finished_at, last_missed_at, listed_at) < ?1
               AND status <> 'running'
               AND run_id <> (
                   SELECT n.run_id FROM cron_runs n WHERE n.slug = cron_runs.slug
                   ORDER BY n.listed_at DESC, n.run_id DESC LIMIT 1)
               AND run_id IS NOT (
                   SELECT m.last_run_id FROM cron_monitors m WHERE m.slug = cron_runs.slug)",
    };
}
