//! The SQLite SQL of the alert store. A claim is one conditional `UPDATE … RETURNING`: SQLite
//! runs it under the database's single write lock, so two claimers (tasks or processes) can
//! never both move the same row's lease; the claimed rows are then read with their events.

use opsdeck_core::StoreResult;
use opsdeck_core::alert::Delivery;
use sqlx::{QueryBuilder, Sqlite};

use crate::shared::alerts::{AlertQueries, AlertSql, delivery};
use crate::sql_store::SqlStore;
use crate::values::Time;

/// The columns of a delivery, deliveries as `d` and their events as `e` (see `from!`).
macro_rules! columns {
    () => {
        "d.id, d.webhook, d.state, d.attempts, d.last_error, d.next_attempt_at, \
         d.created_at, d.delivered_at, e.id AS event_id, e.source, e.subject, e.from_status, \
         e.to_status, e.kind, e.summary, e.detail, e.link, e.at"
    };
}

/// Deliveries as `d` joined with their events as `e`.
macro_rules! from {
    () => {
        " FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
    };
}

impl AlertSql for Sqlite {
    const ALERTS: AlertQueries = AlertQueries {
        insert_event: "INSERT INTO alert_events
                 (id, source, subject, from_status, to_status, kind, summary, detail, link, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        insert_deliveries: "INSERT INTO alert_deliveries
                 (id, event_id, webhook, state, attempts, next_attempt_at, created_at) ",
        finish: "UPDATE alert_deliveries SET
                 state = ?1, attempts = attempts + 1, last_error = coalesce(?2, last_error),
                 next_attempt_at = ?3, delivered_at = ?4
             WHERE id = ?5 AND state = 'pending' AND attempts = ?6",
        list: concat!("SELECT ", columns!(), from!(), " WHERE 1 = 1"),
        prune_deliveries: "DELETE FROM alert_deliveries
             WHERE state <> 'pending' AND created_at < ?1",
        prune_events: "DELETE FROM alert_events WHERE at < ?1
             AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.event_id = alert_events.id)",
    };

    async fn claim_deliveries(
        store: &SqlStore<Self>,
        now: Time,
        until: Time,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE alert_deliveries SET next_attempt_at = ?1
             WHERE id IN (
                 SELECT id FROM alert_deliveries
                 WHERE state = 'pending' AND next_attempt_at <= ?2
                 ORDER BY next_attempt_at, id LIMIT ?3
             )
             RETURNING id",
        )
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(store.pool()?)
        .await
        .map_err(|e| store.fail(e))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            columns!(),
            from!(),
            " WHERE d.id IN ("
        ));
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        query.push(") ORDER BY d.created_at, d.id");
        let rows = query
            .build()
            .fetch_all(store.pool()?)
            .await
            .map_err(|e| store.fail(e))?;
        rows.iter().map(delivery::<Sqlite>).collect()
    }
}
