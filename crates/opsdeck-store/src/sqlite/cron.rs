//! The SQLite SQL behind [`CronStore`]: monitors, one row each with their spec and state
//! documents (JSON text) beside the columns the ops list and the evaluator read. Steps
//! are written in `cron_apply.rs`.
//!
//! Spec writes move the version and make the monitor due at once (see [`CronStore`]); a
//! write of the state is the domain's, never the store's.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::cron::{
    LastRun, MonitorFilter, MonitorRecord, MonitorSource, MonitorSpec, MonitorState, StateWrite,
    Upserted, spec_from_json, spec_json, state_from_json, state_json,
};
use opsdeck_core::ids::Slug;
use opsdeck_core::store::CronStore;
use opsdeck_core::{StoreError, StoreResult};
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::corrupt;

/// The columns of a [`MonitorRow`].
pub(super) const MONITOR_COLUMNS: &str = "slug, spec, paused, source, created_at, updated_at, \
     version, state, next_check_at, status_since, last_run_id, last_run_status, \
     last_run_finished_at, last_run_duration_ms, last_run_error, last_success_at";

#[derive(sqlx::FromRow)]
pub(super) struct MonitorRow {
    slug: String,
    spec: String,
    paused: bool,
    source: String,
    created_at: i64,
    updated_at: i64,
    version: i64,
    state: String,
    next_check_at: Option<i64>,
    status_since: Option<i64>,
    last_run_id: Option<String>,
    last_run_status: Option<String>,
    last_run_finished_at: Option<i64>,
    last_run_duration_ms: Option<i64>,
    last_run_error: Option<String>,
    last_success_at: Option<i64>,
}

#[async_trait]
impl CronStore for SqliteStore {
    async fn create_monitor(
        &self,
        spec: &MonitorSpec,
        source: MonitorSource,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord> {
        let state = MonitorState::default();
        let row: MonitorRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO cron_monitors
                 (slug, spec, paused, tenant_id, source, created_at, updated_at, version,
                  state, status, failure_streak, next_check_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7, ?8, 0, ?6)
             RETURNING {MONITOR_COLUMNS}"
        )))
        .bind(spec.slug().as_str())
        .bind(spec_json(spec))
        .bind(spec.is_paused())
        .bind(tenant(spec))
        .bind(source.as_str())
        .bind(now.timestamp_millis())
        .bind(state_json(&state))
        .bind(state.status.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        monitor(row)
    }

    async fn upsert_monitor(
        &self,
        spec: &MonitorSpec,
        source: MonitorSource,
        now: DateTime<Utc>,
    ) -> StoreResult<Upserted> {
        let state = MonitorState::default();
        let version: Option<i64> = sqlx::query_scalar(
            "INSERT INTO cron_monitors
                 (slug, spec, paused, tenant_id, source, created_at, updated_at, version,
                  state, status, failure_streak, next_check_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7, ?8, 0, ?6)
             ON CONFLICT (slug) DO UPDATE SET
                 spec = excluded.spec, tenant_id = excluded.tenant_id,
                 source = excluded.source, updated_at = excluded.updated_at,
                 version = cron_monitors.version + 1, next_check_at = excluded.next_check_at
             WHERE cron_monitors.spec <> excluded.spec OR cron_monitors.source <> excluded.source
             RETURNING version",
        )
        .bind(spec.slug().as_str())
        .bind(spec_json(spec))
        .bind(spec.is_paused())
        .bind(tenant(spec))
        .bind(source.as_str())
        .bind(now.timestamp_millis())
        .bind(state_json(&state))
        .bind(state.status.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(match version {
            None => Upserted::Unchanged,
            Some(1) => Upserted::Created,
            Some(_) => Upserted::Updated,
        })
    }

    async fn get_monitor(&self, slug: &Slug) -> StoreResult<Option<MonitorRecord>> {
        let row: Option<MonitorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MONITOR_COLUMNS} FROM cron_monitors WHERE slug = ?1"
        )))
        .bind(slug.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(monitor).transpose()
    }

    async fn list_monitors(&self, filter: &MonitorFilter) -> StoreResult<Vec<MonitorRecord>> {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {MONITOR_COLUMNS} FROM cron_monitors WHERE 1 = 1"
        ));
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(tag) = &filter.tag {
            query
                .push(" AND EXISTS (SELECT 1 FROM json_each(spec, '$.tags') WHERE value = ")
                .push_bind(tag.as_str())
                .push(")");
        }
        if let Some(tenant_id) = &filter.tenant_id {
            query
                .push(" AND tenant_id = ")
                .push_bind(tenant_id.as_str());
        }
        query.push(" ORDER BY slug");
        let rows: Vec<MonitorRow> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        rows.into_iter().map(monitor).collect()
    }

    async fn update_monitor(
        &self,
        spec: &MonitorSpec,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord> {
        let row: Option<MonitorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE cron_monitors SET
                 spec = ?2, paused = ?3, tenant_id = ?4, updated_at = ?5,
                 version = version + 1, next_check_at = ?5
             WHERE slug = ?1
             RETURNING {MONITOR_COLUMNS}"
        )))
        .bind(spec.slug().as_str())
        .bind(spec_json(spec))
        .bind(spec.is_paused())
        .bind(tenant(spec))
        .bind(now.timestamp_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(monitor).ok_or(StoreError::NotFound)?
    }

    async fn set_monitor_paused(
        &self,
        slug: &Slug,
        paused: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord> {
        let row: Option<MonitorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE cron_monitors SET
                 paused = ?2, updated_at = ?3, version = version + 1, next_check_at = ?3
             WHERE slug = ?1
             RETURNING {MONITOR_COLUMNS}"
        )))
        .bind(slug.as_str())
        .bind(paused)
        .bind(now.timestamp_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(monitor).ok_or(StoreError::NotFound)?
    }

    async fn delete_monitor(&self, slug: &Slug) -> StoreResult<bool> {
        // Runs and their logs go by ON DELETE CASCADE (foreign keys are on for every
        // connection, see `connect_options`).
        let done = sqlx::query("DELETE FROM cron_monitors WHERE slug = ?1")
            .bind(slug.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn apply_outcome(&self, write: &StateWrite) -> StoreResult<u64> {
        let mut results = self.apply_outcomes(std::slice::from_ref(write)).await?;
        results
            .pop()
            .unwrap_or_else(|| Err(StoreError::Other("a write went unanswered".into())))
    }

    async fn apply_outcomes(&self, writes: &[StateWrite]) -> StoreResult<Vec<StoreResult<u64>>> {
        self.apply_steps(writes).await
    }

    async fn due_monitors(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MonitorRecord>> {
        let rows: Vec<MonitorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MONITOR_COLUMNS} FROM cron_monitors
             WHERE next_check_at <= ?1 ORDER BY next_check_at, slug LIMIT ?2"
        )))
        .bind(now.timestamp_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(monitor).collect()
    }
}

fn tenant(spec: &MonitorSpec) -> Option<&str> {
    spec.settings().tenant_id.as_ref().map(|t| t.as_str())
}

pub(super) fn time(millis: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| corrupt("cron time"))
}

pub(super) fn uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt("cron run id"))
}

fn monitor(row: MonitorRow) -> StoreResult<MonitorRecord> {
    let slug = Slug::parse(&row.slug).map_err(|_| corrupt("cron monitor slug"))?;
    let spec =
        spec_from_json(slug, row.paused, &row.spec).map_err(|_| corrupt("cron monitor spec"))?;
    let last_run = match (row.last_run_id, row.last_run_status) {
        (Some(id), Some(status)) => Some(LastRun {
            run_id: uuid(&id)?,
            status: status.parse().map_err(|_| corrupt("cron run status"))?,
            finished_at: row.last_run_finished_at.map(time).transpose()?,
            duration_ms: (row.last_run_duration_ms)
                .map(|ms| u64::try_from(ms).map_err(|_| corrupt("cron run duration")))
                .transpose()?,
            error: row.last_run_error,
        }),
        _ => None,
    };
    Ok(MonitorRecord {
        spec,
        source: row
            .source
            .parse()
            .map_err(|_| corrupt("cron monitor source"))?,
        created_at: time(row.created_at)?,
        updated_at: time(row.updated_at)?,
        state: state_from_json(&row.state).map_err(|_| corrupt("cron monitor state"))?,
        version: u64::try_from(row.version).map_err(|_| corrupt("cron monitor version"))?,
        next_check_at: row.next_check_at.map(time).transpose()?,
        status_since: row.status_since.map(time).transpose()?,
        last_run,
        last_success_at: row.last_success_at.map(time).transpose()?,
    })
}
