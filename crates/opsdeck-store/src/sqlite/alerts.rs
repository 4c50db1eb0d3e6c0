//! The SQLite SQL behind [`AlertStore`]. Ids are hyphenated UUID text (whose text order is
//! the UUIDs' byte order, as PostgreSQL sorts them), times unix milliseconds (UTC).
//!
//! A claim is one conditional `UPDATE … RETURNING`: SQLite runs it under the database's
//! single write lock, so two claimers (tasks or processes) can never both move the same
//! row's lease.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::alert::{AlertEvent, Delivery, DeliveryFilter, DeliveryOutcome, DeliveryState};
use opsdeck_core::audit::truncate_to_millis;
use opsdeck_core::store::AlertStore;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::corrupt;

/// The columns of a [`Row`], deliveries as `d` joined with their events as `e`.
const COLUMNS: &str = "d.id, d.webhook, d.state, d.attempts, d.last_error, d.next_attempt_at, \
     d.created_at, d.delivered_at, e.id AS event_id, e.source, e.subject, e.from_status, \
     e.to_status, e.kind, e.summary, e.detail, e.link, e.at";

const FROM: &str = " FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    webhook: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: i64,
    created_at: i64,
    delivered_at: Option<i64>,
    event_id: String,
    source: String,
    subject: String,
    from_status: Option<String>,
    to_status: String,
    kind: String,
    summary: String,
    detail: Option<String>,
    link: String,
    at: i64,
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn record_alert(
        &self,
        event: &AlertEvent,
        webhooks: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Delivery>> {
        let deliveries: Vec<Delivery> = webhooks
            .iter()
            .map(|webhook| Delivery::pending(event, webhook, now))
            .collect();
        let now = truncate_to_millis(now);
        // IMMEDIATE: take the write lock up front (see the module docs of `sqlite`).
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.fail(e))?;
        sqlx::query(
            "INSERT INTO alert_events
                 (id, source, subject, from_status, to_status, kind, summary, detail, link, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(event.id.to_string())
        .bind(event.source.as_str())
        .bind(event.subject.as_str())
        .bind(event.from.as_deref())
        .bind(event.to.as_str())
        .bind(event.kind.as_str())
        .bind(event.summary.as_str())
        .bind(event.detail.as_deref())
        .bind(event.link.as_str())
        .bind(truncate_to_millis(event.at).timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        for delivery in &deliveries {
            sqlx::query(
                "INSERT INTO alert_deliveries
                     (id, event_id, webhook, state, attempts, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4)",
            )
            .bind(delivery.id.to_string())
            .bind(event.id.to_string())
            .bind(delivery.webhook.as_str())
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(deliveries)
    }

    async fn claim_alert_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let until = crate::lease_expiry(now, lease)?;
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE alert_deliveries SET next_attempt_at = ?1
             WHERE id IN (
                 SELECT id FROM alert_deliveries
                 WHERE state = 'pending' AND next_attempt_at <= ?2
                 ORDER BY next_attempt_at, id LIMIT ?3
             )
             RETURNING id",
        )
        .bind(until.timestamp_millis())
        .bind(now.timestamp_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query =
            QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS}{FROM} WHERE d.id IN ("));
        let mut list = query.separated(", ");
        for id in &ids {
            list.push_bind(id.as_str());
        }
        query.push(") ORDER BY d.created_at, d.id");
        let rows: Vec<Row> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        rows.into_iter().map(delivery).collect()
    }

    async fn finish_alert_delivery(
        &self,
        id: Uuid,
        attempts: u32,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let now = truncate_to_millis(now);
        let done = sqlx::query(
            "UPDATE alert_deliveries SET
                 state = ?1, attempts = attempts + 1, last_error = coalesce(?2, last_error),
                 next_attempt_at = ?3, delivered_at = ?4
             WHERE id = ?5 AND state = 'pending' AND attempts = ?6",
        )
        .bind(outcome.state().as_str())
        .bind(outcome.error())
        .bind(outcome.next_attempt_at(now).timestamp_millis())
        .bind(outcome.delivered_at(now).map(|at| at.timestamp_millis()))
        .bind(id.to_string())
        .bind(i64::from(attempts))
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_alert_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        let mut query = QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS}{FROM} WHERE 1 = 1"));
        if let Some(state) = filter.state {
            query.push(" AND d.state = ").push_bind(state.as_str());
        }
        if let Some(subject) = &filter.subject {
            query.push(" AND e.subject = ").push_bind(subject.as_str());
        }
        if let Some(after) = filter.after {
            let at = after.created_at.timestamp_millis();
            query
                .push(" AND (d.created_at < ")
                .push_bind(at)
                .push(" OR (d.created_at = ")
                .push_bind(at)
                .push(" AND d.id < ")
                .push_bind(after.id.to_string())
                .push("))");
        }
        query
            .push(" ORDER BY d.created_at DESC, d.id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let rows: Vec<Row> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        rows.into_iter().map(delivery).collect()
    }

    async fn prune_alerts(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let cutoff = cutoff.timestamp_millis();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.fail(e))?;
        let deleted = sqlx::query(
            "DELETE FROM alert_deliveries WHERE state <> 'pending' AND created_at < ?1",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        sqlx::query(
            "DELETE FROM alert_events WHERE at < ?1
             AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.event_id = alert_events.id)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(deleted.rows_affected())
    }
}

fn time(millis: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| corrupt("alert time"))
}

fn uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt("alert id"))
}

fn delivery(row: Row) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: uuid(&row.id)?,
        event: AlertEvent {
            id: uuid(&row.event_id)?,
            source: row.source.parse().map_err(|_| corrupt("alert source"))?,
            subject: row.subject,
            from: row.from_status,
            to: row.to_status,
            kind: row.kind.parse().map_err(|_| corrupt("alert kind"))?,
            summary: row.summary,
            detail: row.detail,
            link: row.link,
            at: time(row.at)?,
        },
        webhook: row.webhook,
        state: row
            .state
            .parse::<DeliveryState>()
            .map_err(|_| corrupt("delivery state"))?,
        attempts: u32::try_from(row.attempts).map_err(|_| corrupt("delivery attempts"))?,
        last_error: row.last_error,
        next_attempt_at: time(row.next_attempt_at)?,
        created_at: time(row.created_at)?,
        delivered_at: row.delivered_at.map(time).transpose()?,
    })
}
