//! The PostgreSQL SQL of the alert store. A claim locks the due rows with
//! `FOR UPDATE SKIP LOCKED` and moves their `next_attempt_at` to the end of the lease in the
//! same statement: replicas claiming at once each take different rows without waiting on one
//! another, and a row another claim has just committed is re-checked against
//! `next_attempt_at <= now` and skipped.

use opsdeck_core::StoreResult;
use opsdeck_core::alert::Delivery;
use sqlx::Postgres;

use crate::shared::alerts::{AlertQueries, AlertSql, delivery};
use crate::sql_store::SqlStore;
use crate::values::Time;

/// The columns of a delivery, deliveries as `d` joined with their events as `e`.
macro_rules! columns {
    () => {
        "d.id, d.webhook, d.state, d.attempts, d.last_error, d.next_attempt_at, \
         d.created_at, d.delivered_at, e.id AS event_id, e.source, e.subject, e.from_status, \
         e.to_status, e.kind, e.summary, e.detail, e.link, e.at"
    };
}

impl AlertSql for Postgres {
    const ALERTS: AlertQueries = AlertQueries {
        insert_event: "INSERT INTO alert_events
                 (id, source, subject, from_status, to_status, kind, summary, detail, link, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        insert_deliveries: "INSERT INTO alert_deliveries
                 (id, event_id, webhook, state, attempts, next_attempt_at, created_at) ",
        finish: "UPDATE alert_deliveries SET
                 state = $1, attempts = attempts + 1, last_error = coalesce($2, last_error),
                 next_attempt_at = $3, delivered_at = $4
             WHERE id = $5 AND state = 'pending' AND attempts = $6",
        list: concat!(
            "SELECT ",
            columns!(),
            " FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id WHERE true"
        ),
        prune_deliveries: "DELETE FROM alert_deliveries
             WHERE state <> 'pending' AND created_at < $1",
        prune_events: "DELETE FROM alert_events e WHERE e.at < $1
             AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.event_id = e.id)",
    };

    async fn claim_deliveries(
        store: &SqlStore<Self>,
        now: Time,
        until: Time,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>> {
        let rows = sqlx::query(concat!(
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
             SELECT ",
            columns!(),
            " FROM claimed d JOIN alert_events e ON e.id = d.event_id
             ORDER BY d.created_at, d.id"
        ))
        .bind(now)
        .bind(until)
        .bind(limit)
        .fetch_all(store.pool()?)
        .await
        .map_err(|e| store.fail(e))?;
        rows.iter().map(delivery::<Postgres>).collect()
    }
}
