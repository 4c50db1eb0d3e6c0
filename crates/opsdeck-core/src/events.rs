//! Application events (SPEC §6): what the application posts to `POST /api/v1/events` about
//! its tenants, parsed and checked one by one, redacted, and grouped or rolled up on the
//! way into the store.
//!
//! One event is `{"id", "type": "error" | "audit" | "usage", "tenant_id", "at", …}`:
//! - `error`: `message` (required), `fingerprint`, `stack`, `route`, `request_id`. Errors
//!   are grouped per tenant by fingerprint ([`fingerprint`]).
//! - `audit`: `action` (required), `actor`, `target`, `category` ([`AuditCategory`]).
//! - `usage`: `name` (a counter) and `value` (a finite number ≥ 0), summed per tenant per
//!   counter per hour and per day.
//!
//! **Idempotency**: an event id is unique per tenant. A second event with the same
//! `(tenant_id, id)` — in the same batch, a later batch or from another key — is answered
//! `duplicate` and changes nothing; the first one stored wins. This holds as long as the
//! first event's raw row is kept (`events.raw_retention`).
//!
//! Every free-text field (`message`, `stack`, `route`, `request_id`, `actor`, `action`,
//! `target`, a given `fingerprint`) passes the redactor ([`Event::redacted`]) before it
//! reaches the store; a derived fingerprint is computed from the redacted text.

mod category;
pub mod fingerprint;
mod parse;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use self::category::AuditCategory;
pub use self::parse::{BatchError, BatchFormat, EventError, parse_event, split_batch};
use crate::ids::TenantId;
use crate::redact::redact_text;

/// The longest event id, in characters.
pub const EVENT_ID_MAX_CHARS: usize = 128;
/// The longest error message, in bytes.
pub const MESSAGE_MAX_BYTES: usize = 8 * 1024;
/// The longest stack trace, in bytes.
pub const STACK_MAX_BYTES: usize = 32 * 1024;
/// The longest `route`, `actor`, `target` and given `fingerprint`, in bytes.
pub const SHORT_TEXT_MAX_BYTES: usize = 512;
/// The longest `request_id` and `action`, in bytes.
pub const ID_TEXT_MAX_BYTES: usize = 256;
/// The longest usage counter name, in characters.
pub const COUNTER_NAME_MAX_CHARS: usize = 128;
/// The largest usage value of one event.
pub const USAGE_VALUE_MAX: f64 = 1e15;
/// How far in the future an event's `at` may lie: clocks of the application's hosts drift.
pub const FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);
/// The head of a stack kept with an error group as its sample, in bytes.
pub const STACK_HEAD_MAX_BYTES: usize = 2048;

/// An event's id as the application gave it: 1–128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    pub fn parse(text: &str) -> Result<Self, EventError> {
        if text.is_empty() || text.chars().count() > EVENT_ID_MAX_CHARS {
            return Err(EventError::field(
                "id",
                format!("must be 1 to {EVENT_ID_MAX_CHARS} characters"),
            ));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(EventError::field(
                "id",
                "must be visible ASCII characters, without spaces",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The three kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Error,
    Audit,
    Usage,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Error => "error",
            EventKind::Audit => "audit",
            EventKind::Usage => "usage",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [EventKind::Error, EventKind::Audit, EventKind::Usage]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One valid event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub at: DateTime<Utc>,
    pub body: EventBody,
}

/// What an event says, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    Error(ErrorEvent),
    Audit(AuditEvent),
    Usage(UsageEvent),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorEvent {
    pub message: String,
    /// The group key: the one given, or derived (see [`fingerprint`]); set by
    /// [`Event::redacted`].
    pub fingerprint: String,
    /// Whether the application gave the fingerprint.
    #[serde(skip)]
    pub fingerprint_given: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub category: AuditCategory,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageEvent {
    /// 1–128 characters of ASCII letters, digits and `_ - . : /`.
    pub name: String,
    pub value: f64,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self.body {
            EventBody::Error(_) => EventKind::Error,
            EventBody::Audit(_) => EventKind::Audit,
            EventBody::Usage(_) => EventKind::Usage,
        }
    }

    /// The event with every free-text field redacted and, for an error, its fingerprint
    /// set: the given one (redacted), else derived from the redacted stack or message.
    pub fn redacted(mut self) -> Self {
        let text = |value: &mut String| {
            if let std::borrow::Cow::Owned(masked) = redact_text(value) {
                *value = masked;
            }
        };
        let optional = |value: &mut Option<String>| {
            if let Some(value) = value {
                text(value);
            }
        };
        match &mut self.body {
            EventBody::Error(error) => {
                text(&mut error.message);
                optional(&mut error.stack);
                optional(&mut error.route);
                optional(&mut error.request_id);
                if error.fingerprint_given {
                    text(&mut error.fingerprint);
                } else {
                    error.fingerprint = fingerprint::derive(&error.message, error.stack.as_deref());
                }
            }
            EventBody::Audit(audit) => {
                text(&mut audit.action);
                optional(&mut audit.actor);
                optional(&mut audit.target);
            }
            EventBody::Usage(_) => {}
        }
        self
    }

    /// The event's own fields as the JSON kept in its raw row (the common fields have
    /// columns of their own).
    pub fn detail_json(&self) -> String {
        let detail = match &self.body {
            EventBody::Error(error) => serde_json::to_string(error),
            EventBody::Audit(audit) => serde_json::to_string(audit),
            EventBody::Usage(usage) => serde_json::to_string(usage),
        };
        // Plain structs of strings and finite numbers always serialize.
        detail.unwrap_or_else(|_| "{}".to_owned())
    }
}

/// What became of one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored now.
    Stored,
    /// An event with this tenant and id was stored before (or earlier in the batch):
    /// nothing changed.
    Duplicate,
}

impl IngestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestOutcome::Stored => "stored",
            IngestOutcome::Duplicate => "duplicate",
        }
    }
}

/// What one event may hold, and how old it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimits {
    /// The largest event, in bytes of JSON.
    pub max_event_bytes: usize,
    /// How far in the past `at` may lie.
    pub max_age: Duration,
}

impl Default for EventLimits {
    fn default() -> Self {
        Self {
            max_event_bytes: 64 * 1024,
            max_age: Duration::from_secs(7 * 86_400),
        }
    }
}

/// The start of the UTC hour `at` falls in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = at.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(3600), 0).unwrap_or(at)
}

/// The start of the UTC day `at` falls in.
pub fn day_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = at.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(86_400), 0).unwrap_or(at)
}

/// The rollups a usage total over `[since, now)` reads: hours from the hour of `since` to
/// the first midnight after it, whole days from there to the last midnight, hours from
/// there to `now`. So a total reads at most 48 hourly and 30-odd daily rows per counter,
/// and `since` counts from the start of its hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageWindow {
    /// Hourly rows in `[hours_from, days_from)`…
    pub hours_from: DateTime<Utc>,
    /// …daily rows in `[days_from, days_until)`…
    pub days_from: DateTime<Utc>,
    /// …and hourly rows in `[days_until, now)`.
    pub days_until: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

impl UsageWindow {
    pub fn new(since: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let hours_from = hour_of(since);
        let first_midnight = if day_of(hours_from) == hours_from {
            hours_from
        } else {
            day_of(hours_from) + chrono::Duration::days(1)
        };
        let last_midnight = day_of(now);
        if first_midnight >= last_midnight {
            // No whole day inside: hours only.
            return Self {
                hours_from,
                days_from: now,
                days_until: now,
                now,
            };
        }
        Self {
            hours_from,
            days_from: first_midnight,
            days_until: last_midnight,
            now,
        }
    }
}

/// A usage counter's total over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageTotal {
    pub name: String,
    pub value: f64,
}

/// A tenant's errors of one fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorGroup {
    pub fingerprint: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The latest event's message, redacted.
    pub message: String,
    pub route: Option<String>,
    /// The first [`STACK_HEAD_MAX_BYTES`] of the latest event's stack, redacted.
    pub stack_head: Option<String>,
}

/// An application audit event worth showing (any category but `other`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHighlight {
    pub id: String,
    pub at: DateTime<Utc>,
    pub category: AuditCategory,
    pub action: String,
    pub actor: Option<String>,
    pub target: Option<String>,
}

/// An hour in which a tenant saw at least the threshold of failed logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginBurst {
    pub hour: DateTime<Utc>,
    pub count: u64,
}

/// A tenant id seen in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenTenant {
    pub tenant_id: TenantId,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// What retention deletes: everything stored before each cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCutoffs {
    /// Raw events received before this (and with them their idempotency).
    pub raw: DateTime<Utc>,
    /// Hourly usage and audit counts of hours before this.
    pub hourly: DateTime<Utc>,
    /// Daily usage of days before this; error groups and seen tenants last seen before it.
    pub daily: DateTime<Utc>,
    /// Application audit events that happened before this.
    pub audit: DateTime<Utc>,
}

/// How many rows retention deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventsPruned {
    pub raw: u64,
    pub rollups: u64,
    pub audit: u64,
}

/// The first `max` bytes of `text`, cut on a character boundary.
pub fn head(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}
