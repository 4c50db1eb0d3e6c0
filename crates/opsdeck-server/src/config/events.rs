//! `[events]`: the limits of `POST /api/v1/events` (SPEC §6), how its group-committing
//! writer batches, and how long raw events and their rollups are kept.

use std::time::Duration;

use opsdeck_core::events::EventLimits;
use serde::{Deserialize, Serialize};

use super::{bytes, duration};

/// `[events]`: application event ingest and retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// The largest request body; a larger one is answered 413 and nothing of it stored.
    #[serde(with = "bytes")]
    pub max_body: usize,
    /// The most events in one request; more is answered 413.
    pub max_batch: usize,
    /// The largest single event (its JSON); a larger one is refused on its own.
    #[serde(with = "bytes")]
    pub max_event_size: usize,
    /// How far in the past an event's `at` may lie.
    #[serde(with = "duration")]
    pub max_age: Duration,
    /// Events committed at most in one transaction (a request's events always share one).
    pub ingest_batch: usize,
    /// Requests waiting for the writer at most; further requests wait for room.
    pub ingest_queue: usize,
    /// Raw events (and the idempotency of their ids) are kept this long after arrival.
    #[serde(with = "duration")]
    pub raw_retention: Duration,
    /// Hourly usage and audit counts are kept this long (at least 2 days: the 24-hour and
    /// 7-day totals read hours at both ends of their window).
    #[serde(with = "duration")]
    pub hourly_retention: Duration,
    /// Daily usage, error groups and seen tenants are kept this long after they were last
    /// written (at least 31 days, for the 30-day totals).
    #[serde(with = "duration")]
    pub daily_retention: Duration,
    /// Application audit events are kept this long after they happened.
    #[serde(with = "duration")]
    pub audit_retention: Duration,
}

/// The largest `events.ingest_batch`: one transaction holds SQLite's write lock while it
/// runs, so it must stay short.
pub const EVENTS_INGEST_BATCH_MAX: usize = 50_000;

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            max_body: 4 << 20,
            max_batch: 1000,
            max_event_size: 64 << 10,
            max_age: Duration::from_secs(7 * 86_400),
            ingest_batch: 5000,
            ingest_queue: 1024,
            raw_retention: Duration::from_secs(30 * 86_400),
            hourly_retention: Duration::from_secs(14 * 86_400),
            daily_retention: Duration::from_secs(400 * 86_400),
            audit_retention: Duration::from_secs(90 * 86_400),
        }
    }
}

impl EventsConfig {
    /// What one event may hold.
    pub fn limits(&self) -> EventLimits {
        EventLimits {
            max_event_bytes: self.max_event_size,
            max_age: self.max_age,
        }
    }

    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut problem = |key: &str, message: &str| out.push((key.to_owned(), message.to_owned()));
        for (key, value) in [
            ("max_body", self.max_body),
            ("max_batch", self.max_batch),
            ("max_event_size", self.max_event_size),
            ("ingest_batch", self.ingest_batch),
            ("ingest_queue", self.ingest_queue),
        ] {
            if value == 0 {
                problem(key, "must be at least 1");
            }
        }
        for (key, value) in [
            ("max_age", self.max_age),
            ("raw_retention", self.raw_retention),
            ("audit_retention", self.audit_retention),
        ] {
            if value.is_zero() {
                problem(key, "must be greater than zero");
            }
        }
        if self.max_event_size > self.max_body {
            problem("max_event_size", "must be at most max_body");
        }
        if self.ingest_batch > EVENTS_INGEST_BATCH_MAX {
            problem("ingest_batch", "must be at most 50000");
        }
        if self.hourly_retention < Duration::from_secs(2 * 86_400) {
            problem(
                "hourly_retention",
                "must be at least 2days: usage totals read hours at both ends of their window",
            );
        }
        if self.daily_retention < Duration::from_secs(31 * 86_400) {
            problem(
                "daily_retention",
                "must be at least 31days: the tenant page shows 30-day usage",
            );
        }
        if self.raw_retention < self.max_age {
            problem(
                "raw_retention",
                "must be at least max_age, or a late retry of an event could be stored twice",
            );
        }
        out
    }
}
