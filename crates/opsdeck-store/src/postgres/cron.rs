//! The PostgreSQL SQL of the cron monitor store and of the steps that write it. Documents
//! are JSONB, read back as text. A batch of steps first locks the monitors it names, in slug
//! order, so two batches (two replicas) that share monitors cannot deadlock; a step whose
//! monitor a concurrent writer moved on answers conflict.

use opsdeck_core::StoreResult;
use opsdeck_core::cron::StateWrite;
use sqlx::Postgres;
use sqlx::postgres::PgConnection;

use crate::shared::cron::{CronSql, MonitorQueries};
use crate::shared::cron_apply::StepQueries;
use crate::sql_store::SqlStore;

/// The columns of a monitor record.
macro_rules! columns {
    () => {
        "slug, spec::text AS spec, paused, source, created_at, updated_at, version, \
         state::text AS state, next_check_at, status_since, last_run_id, last_run_status, \
         last_run_finished_at, last_run_duration_ms, last_run_error, last_success_at"
    };
}

impl CronSql for Postgres {
    const MONITORS: MonitorQueries = MonitorQueries {
        create: concat!(
            "INSERT INTO cron_monitors
                 (slug, spec, paused, tenant_id, source, created_at, updated_at, version,
                  state, status, failure_streak, next_check_at, name)
             VALUES ($1, $2::jsonb, $3, $4, $5, $6, $6, 1, $7::jsonb, $8, 0, $6, $9)
             RETURNING ",
            columns!()
        ),
        upsert: "INSERT INTO cron_monitors
                 (slug, spec, paused, tenant_id, source, created_at, updated_at, version,
                  state, status, failure_streak, next_check_at, name)
             VALUES ($1, $2::jsonb, $3, $4, $5, $6, $6, 1, $7::jsonb, $8, 0, $6, $9)
             ON CONFLICT (slug) DO UPDATE SET
                 spec = excluded.spec, name = excluded.name, tenant_id = excluded.tenant_id,
                 source = excluded.source, updated_at = excluded.updated_at,
                 version = cron_monitors.version + 1, next_check_at = excluded.next_check_at
             WHERE cron_monitors.spec IS DISTINCT FROM excluded.spec
                OR cron_monitors.source <> excluded.source
             RETURNING version",
        get: concat!("SELECT ", columns!(), " FROM cron_monitors WHERE slug = $1"),
        list: concat!(
            "SELECT ",
            columns!(),
            " FROM cron_monitors WHERE slug IN (SELECT slug FROM cron_monitors WHERE true"
        ),
        count: "SELECT CASE WHEN paused THEN 'paused' ELSE status END AS status, count(*) AS n
             FROM cron_monitors WHERE true",
        counts: "SELECT status, sum(n)::bigint AS n FROM (
                 SELECT status, n FROM cron_monitor_counts
                 UNION ALL SELECT status, delta FROM cron_monitor_count_changes
             ) AS c GROUP BY status",
        // One statement: a concurrent fold waits on the changes this one takes, before it
        // touches a count.
        fold_counts: Some(
            "WITH moved AS (DELETE FROM cron_monitor_count_changes RETURNING status, delta),
                  sums AS (SELECT status, sum(delta) AS delta FROM moved GROUP BY status)
             UPDATE cron_monitor_counts AS c SET n = c.n + sums.delta
             FROM sums WHERE c.status = sums.status",
        ),
        paused: ("paused", "NOT paused"),
        has_tag: ("(spec -> 'tags') ? ", ""),
        tenants: "SELECT DISTINCT tenant_id FROM cron_monitors WHERE tenant_id IS NOT NULL",
        like: "ILIKE",
        upcoming: concat!(
            "SELECT ",
            columns!(),
            " FROM cron_monitors
             WHERE next_check_at > $1 ORDER BY next_check_at, slug LIMIT $2"
        ),
        update: concat!(
            "UPDATE cron_monitors SET
                 spec = $2::jsonb, paused = $3, tenant_id = $4, updated_at = $5, name = $6,
                 version = version + 1, next_check_at = $5
             WHERE slug = $1
             RETURNING ",
            columns!()
        ),
        set_paused: concat!(
            "UPDATE cron_monitors SET
                 paused = $2, updated_at = $3, version = version + 1, next_check_at = $3
             WHERE slug = $1
             RETURNING ",
            columns!()
        ),
        // Runs and their logs go by ON DELETE CASCADE.
        delete: "DELETE FROM cron_monitors WHERE slug = $1",
        due: concat!(
            "SELECT ",
            columns!(),
            " FROM cron_monitors
             WHERE next_check_at <= $1 ORDER BY next_check_at, slug LIMIT $2"
        ),
    };

    const STEPS: StepQueries = StepQueries {
        write_states: "UPDATE cron_monitors AS m SET
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
        write_states_end: ") AS v (slug, version, state, status, failure_streak, next_check_at,
                     status_since, has_last, run_id, run_status, finished_at, duration_ms,
                     error, success_at)
             WHERE m.slug = v.slug AND m.version = v.version
             RETURNING m.slug, m.version",
        monitor_exists: "SELECT 1 FROM cron_monitors WHERE slug = $1",
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
             WHERE r.slug = $1 AND r.run_id = $2",
        put_run_log: "INSERT INTO cron_run_logs (slug, run_id, excerpt) VALUES ($1, $2, $3)
             ON CONFLICT (slug, run_id) DO UPDATE SET excerpt = excluded.excerpt",
    };

    /// PostgreSQL refuses to upsert one row twice in a statement.
    const UPSERTS_A_ROW_TWICE: bool = false;

    /// Locks the rows of the monitors `writes` name, in slug order: two batches that share
    /// monitors lock them in the same order and cannot deadlock, and the updates that
    /// follow, in whatever order the plan visits the rows, wait on nobody.
    async fn lock_monitors(
        store: &SqlStore<Self>,
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
            .map_err(|e| store.fail(e))?;
        Ok(())
    }
}
