//! Application events ([`EventStore`]): a batch goes in with one transaction — its raw rows
//! with one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` (what it returns is what
//! was stored; the rest were duplicates), then the rollups of the stored events, summed in
//! memory first so each rollup row is written once per batch. Rows are written in key
//! order, so two replicas' batches lock shared rows in the same order and never deadlock.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::events::{
    AuditCategory, AuditHighlight, ErrorGroup, Event, EventBody, EventCutoffs, EventsPruned,
    IngestOutcome, LoginBurst, STACK_HEAD_MAX_BYTES, SeenTenant, UsageTotal, UsageWindow, day_of,
    head, hour_of,
};
use opsdeck_core::ids::TenantId;
use opsdeck_core::store::EventStore;
use sqlx::QueryBuilder;

use crate::dialect::{BindExt, Dialect, PushExt, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::{Time, TimeBound};

/// The statements of this module, per backend. A `…_end` follows the rows of the
/// multi-row statement whose head it completes.
pub(crate) struct EventQueries {
    /// Head of the raw insert; rows `(tenant_id, event_id, kind, at, received_at,
    /// fingerprint, detail)`.
    pub insert_events: &'static str,
    /// Skips a stored `(tenant_id, event_id)`; `RETURNING tenant_id, event_id` of the rows
    /// inserted.
    pub insert_events_end: &'static str,
    /// Rows `(tenant_id, fingerprint, count, first_seen, last_seen, message, route,
    /// stack_head)`.
    pub upsert_error_groups: &'static str,
    /// Adds the count, widens first/last seen, keeps the later sample.
    pub upsert_error_groups_end: &'static str,
    /// Rows `(tenant_id, hour, name, value)`.
    pub upsert_usage_hourly: &'static str,
    /// Adds the value.
    pub upsert_usage_hourly_end: &'static str,
    /// Rows `(tenant_id, day, name, value)`.
    pub upsert_usage_daily: &'static str,
    /// Adds the value.
    pub upsert_usage_daily_end: &'static str,
    /// Rows `(tenant_id, event_id, at, category, action, actor, target)`.
    pub insert_audit: &'static str,
    pub insert_audit_end: &'static str,
    /// Rows `(tenant_id, category, hour, count)`.
    pub upsert_audit_hourly: &'static str,
    /// Adds the count.
    pub upsert_audit_hourly_end: &'static str,
    /// Rows `(tenant_id, first_seen, last_seen)`.
    pub upsert_tenants: &'static str,
    /// Widens first/last seen.
    pub upsert_tenants_end: &'static str,
    /// `name, value` per counter, by name. Binds tenant, hours_from, days_from, days_until,
    /// now (see [`UsageWindow`]).
    pub usage_totals: &'static str,
    /// `fingerprint, count, first_seen, last_seen, message, route, stack_head`, latest
    /// first. Binds tenant, limit.
    pub error_groups: &'static str,
    /// `event_id, at, category, action, actor, target` of highlights, newest first. Binds
    /// tenant, limit.
    pub audit_highlights: &'static str,
    /// `hour, count` of failed logins. Binds tenant, since, threshold, limit.
    pub login_bursts: &'static str,
    /// `tenant_id, first_seen, last_seen`. Binds the contains pattern, the prefix pattern
    /// (both lower-case `LIKE` patterns escaped with `\`), limit.
    pub search_tenants: &'static str,
    /// Each binds its cutoff.
    pub prune_raw: &'static str,
    pub prune_usage_hourly: &'static str,
    pub prune_audit_hourly: &'static str,
    pub prune_usage_daily: &'static str,
    pub prune_error_groups: &'static str,
    pub prune_tenants: &'static str,
    pub prune_audit: &'static str,
}

/// What a backend gives the event store.
pub(crate) trait EventSql: Dialect {
    const EVENTS: EventQueries;
}

/// Rows per multi-row statement: within both backends' bound-parameter limits.
const CHUNK: usize = 1000;

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An error group's share of a batch.
struct GroupAgg<'a> {
    count: u64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    sample: &'a opsdeck_core::events::ErrorEvent,
}

/// The rollups of a batch's stored events, in key order.
#[derive(Default)]
struct Rollups<'a> {
    groups: BTreeMap<(&'a str, &'a str), GroupAgg<'a>>,
    hourly: BTreeMap<(&'a str, DateTime<Utc>, &'a str), f64>,
    daily: BTreeMap<(&'a str, DateTime<Utc>, &'a str), f64>,
    audit: Vec<&'a Event>,
    audit_hourly: BTreeMap<(&'a str, &'static str, DateTime<Utc>), u64>,
    tenants: BTreeMap<&'a str, (DateTime<Utc>, DateTime<Utc>)>,
}

impl<'a> Rollups<'a> {
    fn add(&mut self, event: &'a Event) {
        let tenant = event.tenant_id.as_str();
        let seen = self.tenants.entry(tenant).or_insert((event.at, event.at));
        seen.0 = seen.0.min(event.at);
        seen.1 = seen.1.max(event.at);
        match &event.body {
            EventBody::Error(error) => {
                let group = self
                    .groups
                    .entry((tenant, error.fingerprint.as_str()))
                    .or_insert(GroupAgg {
                        count: 0,
                        first: event.at,
                        last: event.at,
                        sample: error,
                    });
                group.count += 1;
                group.first = group.first.min(event.at);
                if event.at >= group.last {
                    group.last = event.at;
                    group.sample = error;
                }
            }
            EventBody::Usage(usage) => {
                let name = usage.name.as_str();
                *self
                    .hourly
                    .entry((tenant, hour_of(event.at), name))
                    .or_default() += usage.value;
                *self
                    .daily
                    .entry((tenant, day_of(event.at), name))
                    .or_default() += usage.value;
            }
            EventBody::Audit(audit) => {
                self.audit.push(event);
                *self
                    .audit_hourly
                    .entry((tenant, audit.category.as_str(), hour_of(event.at)))
                    .or_default() += 1;
            }
        }
    }
}

impl<DB: EventSql> SqlStore<DB> {
    /// Runs `head`, the rows of `items` as `row` writes them, and `end`, a chunk at a time.
    async fn write_rows<T>(
        &self,
        conn: &mut DB::Connection,
        head: &'static str,
        end: &'static str,
        items: &[T],
        row: impl Fn(&mut sqlx::query_builder::Separated<'_, DB, &'static str>, &T),
    ) -> StoreResult<()> {
        for chunk in items.chunks(CHUNK) {
            let mut builder = QueryBuilder::<DB>::new(head);
            builder.push_values(chunk, |mut separated, item| row(&mut separated, item));
            builder.push(end);
            builder
                .build()
                .execute(DB::on_conn(conn))
                .await
                .map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    /// Inserts the raw rows of `events` (no key twice), answering which were inserted.
    async fn insert_raw(
        &self,
        conn: &mut DB::Connection,
        events: &[&Event],
        received_at: DateTime<Utc>,
    ) -> StoreResult<HashSet<(String, String)>> {
        let q = &DB::EVENTS;
        let mut inserted = HashSet::with_capacity(events.len());
        for chunk in events.chunks(CHUNK) {
            let mut builder = QueryBuilder::<DB>::new(q.insert_events);
            builder.push_values(chunk, |mut row, event| {
                let fingerprint = match &event.body {
                    EventBody::Error(error) => Some(error.fingerprint.as_str()),
                    _ => None,
                };
                row.push_arg(event.tenant_id.as_str())
                    .push_arg(event.id.as_str())
                    .push_arg(event.kind().as_str())
                    .push_arg(Time::millis(event.at))
                    .push_arg(Time::millis(received_at))
                    .push_arg(fingerprint)
                    .push_arg(event.detail_json());
            });
            builder.push(q.insert_events_end);
            let rows = builder
                .build()
                .fetch_all(DB::on_conn(conn))
                .await
                .map_err(|e| self.fail(e))?;
            for row in rows {
                inserted.insert((row.col("tenant_id")?, row.col("event_id")?));
            }
        }
        Ok(inserted)
    }

    async fn write_rollups(
        &self,
        conn: &mut DB::Connection,
        rollups: &Rollups<'_>,
    ) -> StoreResult<()> {
        let q = &DB::EVENTS;
        let groups: Vec<_> = rollups.groups.iter().collect();
        self.write_rows(
            conn,
            q.upsert_error_groups,
            q.upsert_error_groups_end,
            &groups,
            |row, ((tenant, fingerprint), agg)| {
                row.push_arg(*tenant)
                    .push_arg(*fingerprint)
                    .push_arg(count(agg.count))
                    .push_arg(Time::millis(agg.first))
                    .push_arg(Time::millis(agg.last))
                    .push_arg(agg.sample.message.as_str())
                    .push_arg(agg.sample.route.as_deref())
                    .push_arg(
                        agg.sample
                            .stack
                            .as_deref()
                            .map(|stack| head(stack, STACK_HEAD_MAX_BYTES)),
                    );
            },
        )
        .await?;
        for (rows, head_sql, end) in [
            (
                &rollups.hourly,
                q.upsert_usage_hourly,
                q.upsert_usage_hourly_end,
            ),
            (
                &rollups.daily,
                q.upsert_usage_daily,
                q.upsert_usage_daily_end,
            ),
        ] {
            let rows: Vec<_> = rows.iter().collect();
            self.write_rows(
                conn,
                head_sql,
                end,
                &rows,
                |row, ((tenant, at, name), value)| {
                    row.push_arg(*tenant)
                        .push_arg(Time::millis(*at))
                        .push_arg(*name)
                        .push_arg(**value);
                },
            )
            .await?;
        }
        self.write_rows(
            conn,
            q.insert_audit,
            q.insert_audit_end,
            &rollups.audit,
            |row, event| {
                if let EventBody::Audit(audit) = &event.body {
                    row.push_arg(event.tenant_id.as_str())
                        .push_arg(event.id.as_str())
                        .push_arg(Time::millis(event.at))
                        .push_arg(audit.category.as_str())
                        .push_arg(audit.action.as_str())
                        .push_arg(audit.actor.as_deref())
                        .push_arg(audit.target.as_deref());
                }
            },
        )
        .await?;
        let audit_hourly: Vec<_> = rollups.audit_hourly.iter().collect();
        self.write_rows(
            conn,
            q.upsert_audit_hourly,
            q.upsert_audit_hourly_end,
            &audit_hourly,
            |row, ((tenant, category, hour), n)| {
                row.push_arg(*tenant)
                    .push_arg(*category)
                    .push_arg(Time::millis(*hour))
                    .push_arg(count(**n));
            },
        )
        .await?;
        let tenants: Vec<_> = rollups.tenants.iter().collect();
        self.write_rows(
            conn,
            q.upsert_tenants,
            q.upsert_tenants_end,
            &tenants,
            |row, (tenant, (first, last))| {
                row.push_arg(**tenant)
                    .push_arg(Time::millis(*first))
                    .push_arg(Time::millis(*last));
            },
        )
        .await
    }

    async fn prune(&self, sql: &'static str, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let done = self
            .query(sql)
            .arg(TimeBound(cutoff))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done))
    }
}

/// `text` as a `LIKE` pattern matching itself literally, lower-cased.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn limit(n: u32) -> i64 {
    i64::from(n)
}

#[async_trait]
impl<DB: EventSql> EventStore for SqlStore<DB> {
    async fn ingest_events(
        &self,
        events: &[Event],
        received_at: DateTime<Utc>,
    ) -> StoreResult<Vec<IngestOutcome>> {
        // The first of each key is offered to the store; the others are duplicates already.
        let mut first_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(events.len());
        let mut offered: Vec<&Event> = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let key = (event.tenant_id.as_str(), event.id.as_str());
            if let std::collections::hash_map::Entry::Vacant(slot) = first_of.entry(key) {
                slot.insert(index);
                offered.push(event);
            }
        }
        offered.sort_by(|a, b| {
            (a.tenant_id.as_str(), a.id.as_str()).cmp(&(b.tenant_id.as_str(), b.id.as_str()))
        });
        let mut tx = self.begin_write().await?;
        let inserted = self.insert_raw(&mut tx, &offered, received_at).await?;
        let mut outcomes = vec![IngestOutcome::Duplicate; events.len()];
        let mut rollups = Rollups::default();
        for (index, event) in events.iter().enumerate() {
            let key = (event.tenant_id.as_str(), event.id.as_str());
            let first = first_of.get(&key) == Some(&index);
            if first && inserted.contains(&(key.0.to_owned(), key.1.to_owned())) {
                outcomes[index] = IngestOutcome::Stored;
                rollups.add(event);
            }
        }
        self.write_rollups(&mut tx, &rollups).await?;
        self.commit(tx).await?;
        Ok(outcomes)
    }

    async fn usage_totals(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageTotal>> {
        let window = UsageWindow::new(since, now);
        let rows = self
            .query(DB::EVENTS.usage_totals)
            .arg(tenant.as_str())
            .arg(TimeBound(window.hours_from))
            .arg(TimeBound(window.days_from))
            .arg(TimeBound(window.days_until))
            .arg(TimeBound(window.now))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(UsageTotal {
                    name: row.col("name")?,
                    value: row.col("value")?,
                })
            })
            .collect()
    }

    async fn recent_error_groups(
        &self,
        tenant: &TenantId,
        max: u32,
    ) -> StoreResult<Vec<ErrorGroup>> {
        let rows = self
            .query(DB::EVENTS.error_groups)
            .arg(tenant.as_str())
            .arg(limit(max))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(ErrorGroup {
                    fingerprint: row.col("fingerprint")?,
                    count: u64::try_from(row.col::<i64>("count")?)
                        .map_err(|_| corrupt("error group count"))?,
                    first_seen: row.time("first_seen")?,
                    last_seen: row.time("last_seen")?,
                    message: row.col("message")?,
                    route: row.col("route")?,
                    stack_head: row.col("stack_head")?,
                })
            })
            .collect()
    }

    async fn audit_highlights(
        &self,
        tenant: &TenantId,
        max: u32,
    ) -> StoreResult<Vec<AuditHighlight>> {
        let rows = self
            .query(DB::EVENTS.audit_highlights)
            .arg(tenant.as_str())
            .arg(limit(max))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(AuditHighlight {
                    id: row.col("event_id")?,
                    at: row.time("at")?,
                    category: AuditCategory::parse(&row.col::<String>("category")?)
                        .map_err(|_| corrupt("audit event category"))?,
                    action: row.col("action")?,
                    actor: row.col("actor")?,
                    target: row.col("target")?,
                })
            })
            .collect()
    }

    async fn failed_login_bursts(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
        threshold: u64,
        max: u32,
    ) -> StoreResult<Vec<LoginBurst>> {
        let rows = self
            .query(DB::EVENTS.login_bursts)
            .arg(tenant.as_str())
            .arg(TimeBound(hour_of(since)))
            .arg(count(threshold.max(1)))
            .arg(limit(max))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(LoginBurst {
                    hour: row.time("hour")?,
                    count: u64::try_from(row.col::<i64>("count")?)
                        .map_err(|_| corrupt("failed-login count"))?,
                })
            })
            .collect()
    }

    async fn search_event_tenants(&self, query: &str, max: u32) -> StoreResult<Vec<SeenTenant>> {
        let literal = like_literal(query.trim());
        let rows = self
            .query(DB::EVENTS.search_tenants)
            .arg(format!("%{literal}%"))
            .arg(format!("{literal}%"))
            .arg(limit(max))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(SeenTenant {
                    tenant_id: TenantId::parse(&row.col::<String>("tenant_id")?)
                        .map_err(|_| corrupt("tenant id"))?,
                    first_seen: row.time("first_seen")?,
                    last_seen: row.time("last_seen")?,
                })
            })
            .collect()
    }

    async fn prune_events(&self, cutoffs: &EventCutoffs) -> StoreResult<EventsPruned> {
        let q = &DB::EVENTS;
        let raw = self.prune(q.prune_raw, cutoffs.raw).await?;
        let mut rollups = 0;
        for (sql, cutoff) in [
            (q.prune_usage_hourly, cutoffs.hourly),
            (q.prune_audit_hourly, cutoffs.hourly),
            (q.prune_usage_daily, cutoffs.daily),
            (q.prune_error_groups, cutoffs.daily),
            (q.prune_tenants, cutoffs.daily),
        ] {
            rollups += self.prune(sql, cutoff).await?;
        }
        let audit = self.prune(q.prune_audit, cutoffs.audit).await?;
        Ok(EventsPruned {
            raw,
            rollups,
            audit,
        })
    }
}
