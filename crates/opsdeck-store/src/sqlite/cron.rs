//! The SQLite SQL of the cron monitor store and of the steps that write it. Documents are
//! JSON text; a batch of steps needs no lock of its own, as `BEGIN IMMEDIATE` holds the
//! database's single write lock.

use opsdeck_core::StoreResult;
use opsdeck_core::cron::StateWrite;
use sqlx::Sqlite;
use sqlx::sqlite::SqliteConnection;

use crate::shared::cron::{CronSql, MonitorQueries};
use crate::shared::cron_apply::StepQueries;
use crate::sql_store::SqlStore;

/// The columns of a monitor record.
macro_rules! columns {
    () => {
        "slug, spec, paused, source, created_at, updated_at, version, state, next_check_at, \
         status_since, last_run_id, last_run_status, last_run_finished_at, \
         last_run_duration_ms, last_run_error, last_success_at"
    };
}

impl CronSql for Sqlite {
    const MONITORS: MonitorQueries = MonitorQueries {
        create: concat!(
            "INSERT INTO cron_monitors
                 (slug, spec, paused, tenant_id, source, created_at, updated_at, version,
                  state, status, failure_streak, next_check_at, name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7, ?8, 0, ?6, ?9)
             RETURNING ",
            columns!()
        ),
        upsert: "INSERT INTO cron_monitors
                 (slug, spec, paused, tenant_id, source, created_at, updated_at, version,
                  state, status, failure_streak, next_check_at, name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7, ?8, 0, ?6, ?9)
             ON CONFLICT (slug) DO UPDATE SET
                 spec = excluded.spec, name = excluded.name, tenant_id = excluded.tenant_id,
                 source = excluded.source, updated_at = excluded.updated_at,
                 version = cron_monitors.version + 1, next_check_at = excluded.next_check_at
             WHERE cron_monitors.spec <> excluded.spec OR cron_monitors.source <> excluded.source
             RETURNING version",
        get: concat!("SELECT ", columns!(), " FROM cron_monitors WHERE slug = ?1"),
        list: concat!(
            "SELECT ",
            columns!(),
            " FROM cron_monitors WHERE slug IN (SELECT slug FROM cron_monitors WHERE 1 = 1"
        ),
        count: "SELECT CASE WHEN paused = 1 THEN 'paused' ELSE status END AS status,
                    count(*) AS n
             FROM cron_monitors WHERE 1 = 1",
        counts: "SELECT status, n FROM cron_monitor_counts",
        // The triggers write the counts themselves: SQLite has one writer at a time.
        fold_counts: None,
        paused: ("paused = 1", "paused = 0"),
        has_tag: (
            "EXISTS (SELECT 1 FROM json_each(spec, '$.tags') WHERE value = ",
            ")",
        ),
        tenants: "SELECT DISTINCT tenant_id FROM cron_monitors WHERE tenant_id IS NOT NULL",
        // ASCII case is ignored by SQLite's LIKE.
        like: "LIKE",
        upcoming: concat!(
            "SELECT ",
            columns!(),
            " FROM cron_monitors
             WHERE next_check_at > ?1 ORDER BY next_check_at, slug LIMIT ?2"
        ),
        update: concat!(
            "UPDATE cron_monitors SET
                 spec = ?2, paused = ?3, tenant_id = ?4, updated_at = ?5, name = ?6,
                 version = version + 1, next_check_at = ?5
             WHERE slug = ?1
             RETURNING ",
            columns!()
        ),
        set_paused: concat!(
            "UPDATE cron_monitors SET
                 paused = ?2, updated_at = ?3, version = version + 1, next_check_at = ?3
             WHERE slug = ?1
             RETURNING ",
            columns!()
        ),
        // Foreign keys are on for every connection (see `connect_options`), so runs and
        // their logs go by ON DELETE CASCADE.
        delete: "DELETE FROM cron_monitors WHERE slug = ?1",
        due: concat!(
            "SELECT ",
            columns!(),
            " FROM cron_monitors
             WHERE next_check_at <= ?1 ORDER BY next_check_at, slug LIMIT ?2"
        ),
    };

    const STEPS: StepQueries = StepQueries {
        // A VALUES list names its columns column1, column2, …
        write_states: "UPDATE cron_monitors AS m SET
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
        write_states_end: ") AS v WHERE m.slug = v.column1 AND m.version = v.column2
             RETURNING slug, version",
        monitor_exists: "SELECT 1 FROM cron_monitors WHERE slug = ?1",
        upsert_runs: "INSERT INTO cron_runs
                 (slug, run_id, status, source, listed_at, expected_at, started_at,
                  finished_at, duration_ms, exit_code, error, missed_slots, last_missed_at,
                  in_maintenance, too_fast) ",
        upsert_runs_end: " ON CONFLICT (slug, run_id) DO UPDATE SET
                 status = excluded.status, source = excluded.source,
                 expected_at = excluded.expected_at, started_at = excluded.started_at,
                 finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
                 exit_code = excluded.exit_code, error = excluded.error,
                 missed_slots = excluded.missed_slots, last_missed_at = excluded.last_missed_at,
                 in_maintenance = excluded.in_maintenance, too_fast = excluded.too_fast",
        run_log: "SELECT l.excerpt FROM cron_runs r
             LEFT JOIN cron_run_logs l ON l.slug = r.slug AND l.run_id = r.run_id
             WHERE r.slug = ?1 AND r.run_id = ?2",
        put_run_log: "INSERT INTO cron_run_logs (slug, run_id, excerpt) VALUES (?1, ?2, ?3)
             ON CONFLICT (slug, run_id) DO UPDATE SET excerpt = excluded.excerpt",
    };

    const UPSERTS_A_ROW_TWICE: bool = true;

    /// Nothing to lock: the batch's `BEGIN IMMEDIATE` holds the database's write lock.
    async fn lock_monitors(
        _store: &SqlStore<Self>,
        _conn: &mut SqliteConnection,
        _writes: &[StateWrite],
    ) -> StoreResult<()> {
        Ok(())
    }
}
