//! Cron monitors ([`CronStore`]): one row each, with their spec and state documents (JSON)
//! beside the columns the ops list and the evaluator read. Steps are written in
//! `cron_apply.rs`. Times are kept to the millisecond on every backend.
//!
//! Spec writes move the version and make the monitor due at once (see [`CronStore`]); a
//! write of the state is the domain's, never the store's.
//!
//! Lists are pages by slug: a subquery walks an index for the page's slugs, and only their
//! rows are read. Counts by status without conditions come from counts the database keeps
//! (triggers, in the transaction that changes a monitor), so they cost the same at any
//! number of monitors; counts with conditions count the monitors that meet them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::cron::{
    LastRun, MONITOR_PAGE_MAX, MonitorCounts, MonitorFilter, MonitorPage, MonitorRecord,
    MonitorSource, MonitorSpec, MonitorState, MonitorStatus, StateWrite, Upserted, spec_from_json,
    spec_json, state_from_json, state_json,
};
use opsdeck_core::ids::{Slug, TenantId};
use opsdeck_core::store::CronStore;
use opsdeck_core::{StoreError, StoreResult};
use sqlx::QueryBuilder;

use super::cron_apply::StepQueries;
use crate::dialect::{BindExt, Dialect, PushExt, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::Time;

/// The statements of this module, per backend. "The record" is the columns `slug, spec,
/// paused, source, created_at, updated_at, version, state, next_check_at, status_since,
/// last_run_id, last_run_status, last_run_finished_at, last_run_duration_ms, last_run_error,
/// last_success_at`, the documents as text.
pub(crate) struct MonitorQueries {
    /// Inserts a monitor at version 1, due at once. Binds slug, spec, paused, tenant_id,
    /// source, now, state, status, name; returns the record.
    pub create: &'static str,
    /// [`create`](Self::create), or on a stored slug whose spec or source differs, replaces
    /// them (not the paused flag) and moves the version on. Same binds; returns the
    /// `version` of a monitor written, no row for one left alone.
    pub upsert: &'static str,
    /// Binds the slug; returns the record.
    pub get: &'static str,
    /// The records whose slug is in a subquery, up to the subquery's `WHERE` clause that
    /// holds, to which the listing adds `AND` conditions on the columns, then the keyset,
    /// order and limit, and closes the subquery. The subquery selects only slugs, so it
    /// walks an index and reads no document of a monitor it skips.
    pub list: &'static str,
    /// Counts by listed status (`status`, `n`) of the monitors, up to a `WHERE` clause that
    /// holds, to which the count adds the filter's conditions and then `GROUP BY 1`.
    pub count: &'static str,
    /// The kept counts by listed status (`status`, `n`), for a filter without conditions.
    pub counts: &'static str,
    /// Folds changes of the kept counts into them, where a backend logs changes apart.
    pub fold_counts: Option<&'static str>,
    /// The conditions "paused" and "not paused".
    pub paused: (&'static str, &'static str),
    /// The condition "the spec carries this tag", around the bound tag.
    pub has_tag: (&'static str, &'static str),
    /// The distinct tenant ids of monitors, up to a `WHERE` clause that holds, to which the
    /// listing adds `AND` conditions on `tenant_id`, then order and limit.
    pub tenants: &'static str,
    /// The case-insensitive `LIKE` operator, used with `ESCAPE '\'` on `slug` and `name`.
    pub like: &'static str,
    /// The records whose `next_check_at` is after now, soonest first, then by slug. Binds
    /// now, limit.
    pub upcoming: &'static str,
    /// Replaces a monitor's spec, moving the version on, due at once. Binds slug, spec,
    /// paused, tenant_id, now, name; returns the record.
    pub update: &'static str,
    /// Binds slug, paused, now, as [`update`](Self::update).
    pub set_paused: &'static str,
    /// Binds the slug; runs and logs go with it (ON DELETE CASCADE).
    pub delete: &'static str,
    /// The records due at now, most overdue first, then by slug. Binds now, limit.
    pub due: &'static str,
}

/// What a backend gives the cron monitor store.
pub(crate) trait CronSql: Dialect {
    const MONITORS: MonitorQueries;
    const STEPS: StepQueries;

    /// Whether one statement may upsert the same row twice: SQLite upserts row by row, so a
    /// run written twice in a batch ends as its later write; PostgreSQL refuses, so a
    /// batch's runs are cut where one repeats.
    const UPSERTS_A_ROW_TWICE: bool;

    /// Before a batch's states are written, in its transaction: whatever keeps two batches
    /// that share monitors from deadlocking.
    fn lock_monitors(
        store: &SqlStore<Self>,
        conn: &mut Self::Connection,
        writes: &[StateWrite],
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

#[async_trait]
impl<DB: CronSql> CronStore for SqlStore<DB> {
    async fn create_monitor(
        &self,
        spec: &MonitorSpec,
        source: MonitorSource,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord> {
        let state = MonitorState::default();
        let row = self
            .query(DB::MONITORS.create)
            .arg(spec.slug().as_str())
            .arg(spec_json(spec))
            .arg(spec.is_paused())
            .arg(tenant(spec))
            .arg(source.as_str())
            .arg(Time::millis(now))
            .arg(state_json(&state))
            .arg(state.status.as_str())
            .arg(spec.name().as_str())
            .fetch_one(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        monitor::<DB>(&row)
    }

    async fn upsert_monitor(
        &self,
        spec: &MonitorSpec,
        source: MonitorSource,
        now: DateTime<Utc>,
    ) -> StoreResult<Upserted> {
        let state = MonitorState::default();
        let row = self
            .query(DB::MONITORS.upsert)
            .arg(spec.slug().as_str())
            .arg(spec_json(spec))
            .arg(spec.is_paused())
            .arg(tenant(spec))
            .arg(source.as_str())
            .arg(Time::millis(now))
            .arg(state_json(&state))
            .arg(state.status.as_str())
            .arg(spec.name().as_str())
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(
            match row.map(|row| row.col::<i64>("version")).transpose()? {
                None => Upserted::Unchanged,
                Some(1) => Upserted::Created,
                Some(_) => Upserted::Updated,
            },
        )
    }

    async fn get_monitor(&self, slug: &Slug) -> StoreResult<Option<MonitorRecord>> {
        let row = self
            .query(DB::MONITORS.get)
            .arg(slug.as_str())
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(monitor::<DB>).transpose()
    }

    async fn list_monitors(
        &self,
        filter: &MonitorFilter,
        after: Option<&Slug>,
        limit: u32,
    ) -> StoreResult<MonitorPage> {
        let limit = limit.clamp(1, MONITOR_PAGE_MAX);
        let mut query = QueryBuilder::<DB>::new(DB::MONITORS.list);
        push_conditions(&mut query, filter);
        let (paused, not_paused) = DB::MONITORS.paused;
        match filter.status {
            Some(MonitorStatus::Paused) => {
                query.push(" AND ").push(paused);
            }
            Some(status) => {
                query
                    .push(" AND ")
                    .push(not_paused)
                    .push(" AND status = ")
                    .push_arg(status.as_str());
            }
            None => {}
        }
        if let Some(after) = after {
            query.push(" AND slug > ").push_arg(after.as_str());
        }
        // One more than asked for tells whether a next page exists.
        query
            .push(" ORDER BY slug LIMIT ")
            .push_arg(i64::from(limit) + 1)
            .push(") ORDER BY slug");
        let rows = query
            .build()
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        let mut monitors = rows
            .iter()
            .map(monitor::<DB>)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = if monitors.len() > limit as usize {
            monitors.truncate(limit as usize);
            monitors.last().map(|m| m.spec.slug().clone())
        } else {
            None
        };
        Ok(MonitorPage { monitors, next })
    }

    async fn count_monitors(&self, filter: &MonitorFilter) -> StoreResult<MonitorCounts> {
        let narrowed = filter.any_status() != MonitorFilter::default();
        let rows = if narrowed {
            let mut query = QueryBuilder::<DB>::new(DB::MONITORS.count);
            push_conditions(&mut query, filter);
            query.push(" GROUP BY 1");
            query.build().fetch_all(self.db()?).await
        } else {
            self.query(DB::MONITORS.counts).fetch_all(self.db()?).await
        }
        .map_err(|e| self.fail(e))?;
        let mut counts = MonitorCounts::default();
        for row in &rows {
            let status: MonitorStatus = row
                .col::<String>("status")?
                .parse()
                .map_err(|_| corrupt("cron monitor status"))?;
            let n = u64::try_from(row.col::<i64>("n")?).map_err(|_| corrupt("monitor count"))?;
            counts.add(status, n);
        }
        Ok(counts)
    }

    async fn monitor_tenants(
        &self,
        text: Option<&str>,
        after: Option<&TenantId>,
        limit: u32,
    ) -> StoreResult<Vec<TenantId>> {
        let mut query = QueryBuilder::<DB>::new(DB::MONITORS.tenants);
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            query
                .push(format!(" AND tenant_id {} ", DB::MONITORS.like))
                .push_arg(contains_pattern(text).as_str())
                .push(" ESCAPE '\\'");
        }
        if let Some(after) = after {
            query.push(" AND tenant_id > ").push_arg(after.as_str());
        }
        query
            .push(" ORDER BY tenant_id LIMIT ")
            .push_arg(i64::from(limit.max(1)));
        let rows = query
            .build()
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                TenantId::parse(&row.col::<String>("tenant_id")?)
                    .map_err(|_| corrupt("cron monitor tenant id"))
            })
            .collect()
    }

    async fn fold_monitor_counts(&self) -> StoreResult<()> {
        if let Some(fold) = DB::MONITORS.fold_counts {
            self.query(fold)
                .execute(self.db()?)
                .await
                .map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    async fn upcoming_monitors(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MonitorRecord>> {
        let rows = self
            .query(DB::MONITORS.upcoming)
            .arg(Time::millis(now))
            .arg(i64::from(limit))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(monitor::<DB>).collect()
    }

    async fn update_monitor(
        &self,
        spec: &MonitorSpec,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord> {
        let row = self
            .query(DB::MONITORS.update)
            .arg(spec.slug().as_str())
            .arg(spec_json(spec))
            .arg(spec.is_paused())
            .arg(tenant(spec))
            .arg(Time::millis(now))
            .arg(spec.name().as_str())
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref()
            .map(monitor::<DB>)
            .ok_or(StoreError::NotFound)?
    }

    async fn set_monitor_paused(
        &self,
        slug: &Slug,
        paused: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<MonitorRecord> {
        let row = self
            .query(DB::MONITORS.set_paused)
            .arg(slug.as_str())
            .arg(paused)
            .arg(Time::millis(now))
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref()
            .map(monitor::<DB>)
            .ok_or(StoreError::NotFound)?
    }

    async fn delete_monitor(&self, slug: &Slug) -> StoreResult<bool> {
        let done = self
            .query(DB::MONITORS.delete)
            .arg(slug.as_str())
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn apply_outcome(&self, write: &StateWrite) -> StoreResult<u64> {
        let mut results = self.apply_steps(std::slice::from_ref(write)).await?;
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
        let rows = self
            .query(DB::MONITORS.due)
            .arg(Time::millis(now))
            .arg(i64::from(limit))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(monitor::<DB>).collect()
    }
}

/// The filter's conditions but its status, each as ` AND …`.
fn push_conditions<DB: CronSql>(query: &mut QueryBuilder<DB>, filter: &MonitorFilter) {
    if let Some(tag) = &filter.tag {
        let (before, after) = DB::MONITORS.has_tag;
        query
            .push(" AND ")
            .push(before)
            .push_arg(tag.as_str())
            .push(after);
    }
    if let Some(tenant_id) = &filter.tenant_id {
        query.push(" AND tenant_id = ").push_arg(tenant_id.as_str());
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = contains_pattern(text);
        let like = DB::MONITORS.like;
        query
            .push(format!(" AND (slug {like} "))
            .push_arg(pattern.as_str())
            .push(format!(" ESCAPE '\\' OR name {like} "))
            .push_arg(pattern.as_str())
            .push(" ESCAPE '\\')");
    }
}

/// A `LIKE` pattern matching text that contains `text`, its wildcards escaped by `\`.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn tenant(spec: &MonitorSpec) -> Option<&str> {
    spec.settings().tenant_id.as_ref().map(|t| t.as_str())
}

fn monitor<DB: Dialect>(row: &DB::Row) -> StoreResult<MonitorRecord> {
    let slug =
        Slug::parse(&row.col::<String>("slug")?).map_err(|_| corrupt("cron monitor slug"))?;
    let spec = spec_from_json(slug, row.col("paused")?, &row.col::<String>("spec")?)
        .map_err(|_| corrupt("cron monitor spec"))?;
    let status: Option<String> = row.col("last_run_status")?;
    let last_run = match (row.opt_id("last_run_id")?, status) {
        (Some(run_id), Some(status)) => Some(LastRun {
            run_id,
            status: status.parse().map_err(|_| corrupt("cron run status"))?,
            finished_at: row.opt_time("last_run_finished_at")?,
            duration_ms: (row.col::<Option<i64>>("last_run_duration_ms")?)
                .map(|ms| u64::try_from(ms).map_err(|_| corrupt("cron run duration")))
                .transpose()?,
            error: row.col("last_run_error")?,
        }),
        _ => None,
    };
    Ok(MonitorRecord {
        spec,
        source: row
            .col::<String>("source")?
            .parse()
            .map_err(|_| corrupt("cron monitor source"))?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        state: state_from_json(&row.col::<String>("state")?)
            .map_err(|_| corrupt("cron monitor state"))?,
        version: u64::try_from(row.col::<i64>("version")?)
            .map_err(|_| corrupt("cron monitor version"))?,
        next_check_at: row.opt_time("next_check_at")?,
        status_since: row.opt_time("status_since")?,
        last_run,
        last_success_at: row.opt_time("last_success_at")?,
    })
}
