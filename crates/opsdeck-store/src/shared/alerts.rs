//! Alert events and their deliveries to webhooks ([`AlertStore`]). Times are kept to the
//! millisecond on every backend, so both answer alike.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::alert::{AlertEvent, Delivery, DeliveryFilter, DeliveryOutcome, DeliveryState};
use opsdeck_core::store::AlertStore;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::dialect::{BindExt, Dialect, PushExt, RowExt};
use crate::error::corrupt;
use crate::sql_store::SqlStore;
use crate::values::{Id, Time};

/// The statements of this module, per backend. "A delivery" is the columns of the delivery
/// (`id, webhook, state, attempts, last_error, next_attempt_at, created_at, delivered_at`)
/// and of its event (`event_id, source, subject, from_status, to_status, kind, summary,
/// detail, link, at`), deliveries as `d` joined with their events as `e`.
pub(crate) struct AlertQueries {
    /// Binds id, source, subject, from_status, to_status, kind, summary, detail, link, at.
    pub insert_event: &'static str,
    /// A multi-row insert's head, up to `VALUES`; the rows are `(id, event_id, webhook,
    /// state, attempts, next_attempt_at, created_at)`.
    pub insert_deliveries: &'static str,
    /// Records an attempt on a delivery still pending with the attempts counted. Binds the
    /// new state, error (NULL keeps the last one), next_attempt_at, delivered_at, id,
    /// attempts.
    pub finish: &'static str,
    /// `SELECT` of deliveries up to a `WHERE` clause that holds, to which the listing adds
    /// `AND` conditions on `d` and `e`.
    pub list: &'static str,
    /// Deletes finished deliveries created before the cutoff. Binds it.
    pub prune_deliveries: &'static str,
    /// Deletes events before the cutoff left without deliveries. Binds it.
    pub prune_events: &'static str,
}

pub(crate) trait AlertSql: Dialect {
    const ALERTS: AlertQueries;

    /// [`AlertStore::claim_alert_deliveries`]: moves the `next_attempt_at` of up to `limit`
    /// pending deliveries due at `now` to `until`, so no other claimer gets them, and returns
    /// them (see [`delivery`]), oldest first.
    fn claim_deliveries(
        store: &SqlStore<Self>,
        now: Time,
        until: Time,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<Delivery>>> + Send;
}

#[async_trait]
impl<DB: AlertSql> AlertStore for SqlStore<DB> {
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
        let now = Time::millis(now);
        let mut tx = self.begin_write().await?;
        self.query(DB::ALERTS.insert_event)
            .arg(Id(event.id))
            .arg(event.source.as_str())
            .arg(event.subject.as_str())
            .arg(event.from.as_deref())
            .arg(event.to.as_str())
            .arg(event.kind.as_str())
            .arg(event.summary.as_str())
            .arg(event.detail.as_deref())
            .arg(event.link.as_str())
            .arg(Time::millis(event.at))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        if !deliveries.is_empty() {
            let mut insert = QueryBuilder::<DB>::new(DB::ALERTS.insert_deliveries);
            insert.push_values(&deliveries, |mut row, delivery| {
                row.push_arg(Id(delivery.id))
                    .push_arg(Id(event.id))
                    .push_arg(delivery.webhook.as_str())
                    .push_arg(DeliveryState::Pending.as_str())
                    .push_arg(0_i32)
                    .push_arg(now)
                    .push_arg(now);
            });
            insert
                .build()
                .execute(DB::on_conn(&mut tx))
                .await
                .map_err(|e| self.fail(e))?;
        }
        self.commit(tx).await?;
        Ok(deliveries)
    }

    async fn claim_alert_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let until = Time::millis(crate::lease_expiry(now, lease)?);
        DB::claim_deliveries(self, Time(now), until, i64::from(limit)).await
    }

    async fn finish_alert_delivery(
        &self,
        id: Uuid,
        attempts: u32,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = self
            .query(DB::ALERTS.finish)
            .arg(outcome.state().as_str())
            .arg(outcome.error())
            .arg(Time::millis(outcome.next_attempt_at(now)))
            .arg(outcome.delivered_at(now).map(Time::millis))
            .arg(Id(id))
            .arg(i64::from(attempts))
            .execute(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn list_alert_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        let mut query = QueryBuilder::<DB>::new(DB::ALERTS.list);
        if let Some(state) = filter.state {
            query.push(" AND d.state = ").push_arg(state.as_str());
        }
        if let Some(subject) = &filter.subject {
            query.push(" AND e.subject = ").push_arg(subject.as_str());
        }
        if let Some(after) = filter.after {
            query
                .push(" AND (d.created_at, d.id) < (")
                .push_arg(Time(after.created_at))
                .push(", ")
                .push_arg(Id(after.id))
                .push(")");
        }
        query
            .push(" ORDER BY d.created_at DESC, d.id DESC LIMIT ")
            .push_arg(i64::from(filter.limit));
        let rows = query
            .build()
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(delivery::<DB>).collect()
    }

    async fn prune_alerts(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let deleted = self
            .query(DB::ALERTS.prune_deliveries)
            .arg(Time(cutoff))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        self.query(DB::ALERTS.prune_events)
            .arg(Time(cutoff))
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        self.commit(tx).await?;
        Ok(DB::rows_affected(&deleted))
    }
}

/// A delivery with its event, from a row of the columns [`AlertQueries`] names.
pub(crate) fn delivery<DB: Dialect>(row: &DB::Row) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: row.id("id")?,
        event: AlertEvent {
            id: row.id("event_id")?,
            source: row
                .col::<String>("source")?
                .parse()
                .map_err(|_| corrupt("alert source"))?,
            subject: row.col("subject")?,
            from: row.col("from_status")?,
            to: row.col("to_status")?,
            kind: row
                .col::<String>("kind")?
                .parse()
                .map_err(|_| corrupt("alert kind"))?,
            summary: row.col("summary")?,
            detail: row.col("detail")?,
            link: row.col("link")?,
            at: row.time("at")?,
        },
        webhook: row.col("webhook")?,
        state: row
            .col::<String>("state")?
            .parse::<DeliveryState>()
            .map_err(|_| corrupt("delivery state"))?,
        attempts: u32::try_from(row.col::<i32>("attempts")?)
            .map_err(|_| corrupt("delivery attempts"))?,
        last_error: row.col("last_error")?,
        next_attempt_at: row.time("next_attempt_at")?,
        created_at: row.time("created_at")?,
        delivered_at: row.opt_time("delivered_at")?,
    })
}
