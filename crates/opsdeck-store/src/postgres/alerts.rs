//! The PostgreSQL SQL behind [`AlertStore`]. Times are TIMESTAMPTZ truncated to the
//! millisecond (what SQLite keeps, so both backends answer alike).
//!
//! A claim locks the due rows with `FOR UPDATE SKIP LOCKED` and moves their
//! `next_attempt_at` to the end of the lease in the same statement: replicas claiming at
//! once each take different rows without waiting on one another, and a row another claim
//! has just committed is re-checked against `next_attempt_at <= now` and skipped.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::alert::{AlertEvent, Delivery, DeliveryFilter, DeliveryOutcome};
use opsdeck_core::store::AlertStore;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::PgStore;
use crate::error::corrupt;

/// The columns of a [`Row`], deliveries as `d` joined with their events as `e`.
const COLUMNS: &str = "d.id, d.webhook, d.state, d.attempts, d.last_error, d.next_attempt_at, \
     d.created_at, d.delivered_at, e.id AS event_id, e.source, e.subject, e.from_status, \
     e.to_status, e.kind, e.summary, e.detail, e.link, e.at";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    webhook: String,
    state: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    event_id: Uuid,
    source: String,
    subject: String,
    from_status: Option<String>,
    to_status: String,
    kind: String,
    summary: String,
    detail: Option<String>,
    link: String,
    at: DateTime<Utc>,
}

#[async_trait]
impl AlertStore for PgStore {
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
        let now = millis(now);
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        sqlx::query(
            "INSERT INTO alert_events
                 (id, source, subject, from_status, to_status, kind, summary, detail, link, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(event.id)
        .bind(event.source.as_str())
        .bind(event.subject.as_str())
        .bind(event.from.as_deref())
        .bind(event.to.as_str())
        .bind(event.kind.as_str())
        .bind(event.summary.as_str())
        .bind(event.detail.as_deref())
        .bind(event.link.as_str())
        .bind(millis(event.at))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        if !deliveries.is_empty() {
            let mut insert = QueryBuilder::<Postgres>::new(
                "INSERT INTO alert_deliveries
                     (id, event_id, webhook, state, attempts, next_attempt_at, created_at) ",
            );
            insert.push_values(&deliveries, |mut row, delivery| {
                row.push_bind(delivery.id)
                    .push_bind(event.id)
                    .push_bind(delivery.webhook.as_str())
                    .push_bind("pending")
                    .push_bind(0_i32)
                    .push_bind(now)
                    .push_bind(now);
            });
            insert
                .build()
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
        let until = millis(crate::lease_expiry(now, lease)?);
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "WITH due AS (
                 SELECT id FROM alert_deliveries
                 WHERE state = 'pending' AND next_attempt_at <= $1
                 ORDER BY next_attempt_at, id LIMIT $3
                 FOR UPDATE SKIP LOCKED
             ), claimed AS (
                 UPDATE alert_deliveries SET next_attempt_at = $2
                 FROM due WHERE alert_deliveries.id = due.id
                 RETURNING alert_deliveries.*
             )
             SELECT {COLUMNS} FROM claimed d JOIN alert_events e ON e.id = d.event_id
             ORDER BY d.created_at, d.id"
        )))
        .bind(now)
        .bind(until)
        .bind(i64::from(limit))
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
        let now = millis(now);
        let attempts = i32::try_from(attempts).map_err(|_| corrupt("delivery attempts"))?;
        let done = sqlx::query(
            "UPDATE alert_deliveries SET
                 state = $1, attempts = attempts + 1, last_error = coalesce($2, last_error),
                 next_attempt_at = $3, delivered_at = $4
             WHERE id = $5 AND state = 'pending' AND attempts = $6",
        )
        .bind(outcome.state().as_str())
        .bind(outcome.error())
        .bind(millis(outcome.next_attempt_at(now)))
        .bind(outcome.delivered_at(now))
        .bind(id)
        .bind(attempts)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_alert_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        let mut query = QueryBuilder::<Postgres>::new(format!(
            "SELECT {COLUMNS} FROM alert_deliveries d
             JOIN alert_events e ON e.id = d.event_id WHERE true"
        ));
        if let Some(state) = filter.state {
            query.push(" AND d.state = ").push_bind(state.as_str());
        }
        if let Some(subject) = &filter.subject {
            query.push(" AND e.subject = ").push_bind(subject.as_str());
        }
        if let Some(after) = filter.after {
            query
                .push(" AND (d.created_at, d.id) < (")
                .push_bind(after.created_at)
                .push(", ")
                .push_bind(after.id)
                .push(")");
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
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let deleted = sqlx::query(
            "DELETE FROM alert_deliveries WHERE state <> 'pending' AND created_at < $1",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        sqlx::query(
            "DELETE FROM alert_events e WHERE e.at < $1
             AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.event_id = e.id)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(deleted.rows_affected())
    }
}

fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

fn delivery(row: Row) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: row.id,
        event: AlertEvent {
            id: row.event_id,
            source: row.source.parse().map_err(|_| corrupt("alert source"))?,
            subject: row.subject,
            from: row.from_status,
            to: row.to_status,
            kind: row.kind.parse().map_err(|_| corrupt("alert kind"))?,
            summary: row.summary,
            detail: row.detail,
            link: row.link,
            at: row.at,
        },
        webhook: row.webhook,
        state: row.state.parse().map_err(|_| corrupt("delivery state"))?,
        attempts: u32::try_from(row.attempts).map_err(|_| corrupt("delivery attempts"))?,
        last_error: row.last_error,
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
    })
}
