//! Alerts on the dashboard: `GET /alerts`, the delivery log (each status change sent to each
//! webhook, with its attempts and last error), newest first, filtered by state and subject;
//! and the overview's "recent alerts", the latest events with how their deliveries went.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use opsdeck_core::alert::{AlertEvent, Delivery, DeliveryCursor, DeliveryFilter, DeliveryState};
use serde::Deserialize;

use super::Page;
use super::format;
use super::shell::{Section, Shell};
use crate::error::ApiError;
use crate::extract::Query;
use crate::ops::{Caller, alerts};
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;
/// Events on the overview; deliveries are read for a few webhooks each.
const RECENT_EVENTS: usize = 5;

/// An alert event as shown: what changed, when, and how its deliveries went.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub at: String,
    pub ago: String,
    /// `down`, `degraded` or `recovered`.
    pub kind: &'static str,
    /// The status class of where it went (`fail`, `warn`, `pass`).
    pub class: &'static str,
    pub subject: String,
    pub summary: String,
    pub link: String,
    /// `delivered to 2 of 2 webhooks`, `1 pending`…
    pub deliveries: String,
}

fn class_of(event: &AlertEvent) -> &'static str {
    match event.kind.as_str() {
        "down" => "fail",
        "degraded" => "warn",
        _ => "pass",
    }
}

/// A dashboard path from the event's link, or none: links are shown only when they stay
/// on this site.
fn local_link(link: &str) -> String {
    if link.starts_with('/') && !link.starts_with("//") {
        link.to_owned()
    } else {
        String::new()
    }
}

/// The latest events, newest first, from the latest deliveries (one per event and webhook).
pub async fn recent_events(
    state: &AppState,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Vec<EventRow>, ApiError> {
    let filter = DeliveryFilter {
        limit: 4 * RECENT_EVENTS as u32,
        ..DeliveryFilter::default()
    };
    let deliveries = alerts::list_deliveries(state, caller, &filter).await?;
    let mut events: Vec<(&AlertEvent, Vec<&Delivery>)> = Vec::new();
    for delivery in &deliveries {
        match events.iter().position(|(e, _)| e.id == delivery.event.id) {
            Some(at) => events[at].1.push(delivery),
            None if events.len() < RECENT_EVENTS => {
                events.push((&delivery.event, vec![delivery]));
            }
            None => {}
        }
    }
    Ok(events
        .into_iter()
        .map(|(event, group)| {
            let delivered = group
                .iter()
                .filter(|d| d.state == DeliveryState::Delivered)
                .count();
            let pending = group
                .iter()
                .filter(|d| d.state == DeliveryState::Pending)
                .count();
            let mut deliveries = format!("delivered to {delivered} of {}", group.len());
            if pending > 0 {
                deliveries.push_str(&format!(", {pending} pending"));
            }
            EventRow {
                at: format::time(event.at),
                ago: format::ago(event.at, now),
                kind: event.kind.as_str(),
                class: class_of(event),
                subject: event.subject.clone(),
                summary: event.summary.clone(),
                link: local_link(&event.link),
                deliveries,
            }
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
pub struct AlertsForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    after: String,
}

struct DeliveryRow {
    created: String,
    event: EventRow,
    webhook: String,
    state: &'static str,
    attempts: u32,
    last_error: String,
    next_attempt: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    shell: Shell,
    form: AlertsForm,
    states: &'static [DeliveryState],
    error: Option<String>,
    rows: Vec<DeliveryRow>,
    older: Option<String>,
    first_page: bool,
    webhooks: usize,
}

fn filter_of(form: &AlertsForm) -> Result<DeliveryFilter, String> {
    let state = match form.state.trim() {
        "" => None,
        text => Some(
            DeliveryState::ALL
                .iter()
                .copied()
                .find(|s| s.as_str() == text)
                .ok_or("`state`: expected pending, delivered or failed")?,
        ),
    };
    let after = match form.after.trim() {
        "" => None,
        text => Some(
            text.parse::<DeliveryCursor>()
                .map_err(|e| format!("`after`: {e}"))?,
        ),
    };
    Ok(DeliveryFilter {
        state,
        subject: Some(form.subject.trim().to_owned()).filter(|s| !s.is_empty()),
        after,
        limit: PAGE_SIZE,
    })
}

fn older_link(form: &AlertsForm, cursor: DeliveryCursor) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [("state", &form.state), ("subject", &form.subject)] {
        if !value.trim().is_empty() {
            query.append_pair(name, value.trim());
        }
    }
    query.append_pair("after", &cursor.to_string());
    format!("/alerts?{}", query.finish())
}

/// `GET /alerts`.
pub async fn show_alerts(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Query(form): Query<AlertsForm>,
) -> Result<Page<impl Template>, ApiError> {
    let shell = shell.at(Section::Alerts);
    let mut page = AlertsPage {
        shell,
        form,
        states: DeliveryState::ALL,
        error: None,
        rows: Vec::new(),
        older: None,
        first_page: true,
        webhooks: state.config().alerts.webhooks.len(),
    };
    let filter = match filter_of(&page.form) {
        Ok(filter) => filter,
        Err(error) => {
            page.error = Some(error);
            return Ok(Page::with_status(page, StatusCode::BAD_REQUEST));
        }
    };
    let now = state.clock().now();
    let deliveries = alerts::list_deliveries(&state, &caller, &filter).await?;
    page.first_page = filter.after.is_none();
    page.older = (deliveries.len() == PAGE_SIZE as usize)
        .then(|| {
            deliveries
                .last()
                .map(|d| older_link(&page.form, d.cursor()))
        })
        .flatten();
    page.rows = deliveries
        .into_iter()
        .map(|d| DeliveryRow {
            created: format::time(d.created_at),
            event: EventRow {
                at: format::time(d.event.at),
                ago: format::ago(d.event.at, now),
                kind: d.event.kind.as_str(),
                class: class_of(&d.event),
                subject: d.event.subject.clone(),
                summary: d.event.summary.clone(),
                link: local_link(&d.event.link),
                deliveries: String::new(),
            },
            webhook: d.webhook,
            state: d.state.as_str(),
            attempts: d.attempts,
            last_error: d.last_error.unwrap_or_default(),
            next_attempt: if d.state == DeliveryState::Pending {
                format::time(d.next_attempt_at)
            } else {
                String::new()
            },
        })
        .collect();
    Ok(Page::new(page))
}
