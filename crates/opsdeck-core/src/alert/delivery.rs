//! One event's delivery to one webhook: its state, what an attempt came to, the cursor the
//! delivery log pages with, and the retry schedule.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AlertEvent, UnknownName, named};
use crate::audit::truncate_to_millis;
use crate::redact::truncate_redacted;

/// The longest error kept for a failed attempt, in bytes.
pub const LAST_ERROR_MAX_BYTES: usize = 512;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its first or next attempt (or being attempted right now).
    Pending,
    /// The webhook answered 2xx.
    Delivered,
    /// Every attempt failed, or the webhook is no longer configured.
    Failed,
}

named!(DeliveryState, "delivery state", "pending, delivered, failed", {
    Pending => "pending",
    Delivered => "delivered",
    Failed => "failed",
});

/// The state text was not one of `pending`, `delivered`, `failed`.
pub type UnknownDeliveryState = UnknownName;

/// One event to one webhook, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub event: AlertEvent,
    /// The `name` of the `[[alerts.webhooks]]` entry (never its URL, which is a secret).
    pub webhook: String,
    pub state: DeliveryState,
    /// Attempts made so far. A claim does not count; finishing an attempt does.
    pub attempts: u32,
    /// Why the latest failed attempt failed, redacted and short.
    pub last_error: Option<String>,
    /// When a pending delivery is next tried; while one is claimed, when its lease ends.
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// A new delivery of `event` to `webhook`, due at once: what
    /// [`AlertStore::record_alert`](crate::store::AlertStore::record_alert) stores, with
    /// `now` truncated to the millisecond as stores keep it.
    pub fn pending(event: &AlertEvent, webhook: &str, now: DateTime<Utc>) -> Delivery {
        let now = truncate_to_millis(now);
        let mut event = event.clone();
        event.at = truncate_to_millis(event.at);
        Delivery {
            id: Uuid::now_v7(),
            event,
            webhook: webhook.to_owned(),
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_at: now,
            created_at: now,
            delivered_at: None,
        }
    }

    /// Where the log continues after this delivery.
    pub fn cursor(&self) -> DeliveryCursor {
        DeliveryCursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// What one attempt came to. Build failures with [`DeliveryOutcome::retry`] or
/// [`DeliveryOutcome::failed`], which redact and bound the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; try again at `at`.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Failed for good.
    Failed {
        error: String,
    },
}

impl DeliveryOutcome {
    pub fn retry(at: DateTime<Utc>, error: &str) -> Self {
        DeliveryOutcome::Retry {
            at,
            error: truncate_redacted(error, LAST_ERROR_MAX_BYTES),
        }
    }

    pub fn failed(error: &str) -> Self {
        DeliveryOutcome::Failed {
            error: truncate_redacted(error, LAST_ERROR_MAX_BYTES),
        }
    }

    /// The state the delivery moves to.
    pub fn state(&self) -> DeliveryState {
        match self {
            DeliveryOutcome::Delivered => DeliveryState::Delivered,
            DeliveryOutcome::Retry { .. } => DeliveryState::Pending,
            DeliveryOutcome::Failed { .. } => DeliveryState::Failed,
        }
    }

    /// The error to record; `None` keeps the previous one (a success after failures still
    /// shows why it needed a retry).
    pub fn error(&self) -> Option<&str> {
        match self {
            DeliveryOutcome::Delivered => None,
            DeliveryOutcome::Retry { error, .. } | DeliveryOutcome::Failed { error } => Some(error),
        }
    }

    /// The delivery's `next_attempt_at` afterwards: the retry time, else `now`.
    pub fn next_attempt_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            DeliveryOutcome::Retry { at, .. } => *at,
            _ => now,
        }
    }

    /// The delivery's `delivered_at` afterwards.
    pub fn delivered_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        matches!(self, DeliveryOutcome::Delivered).then_some(now)
    }

    /// `delivered`, `retry` or `failed`, for metrics and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retry { .. } => "retry",
            DeliveryOutcome::Failed { .. } => "failed",
        }
    }
}

/// A position in the delivery log, newest first: deliveries created before `created_at`,
/// or at the same millisecond with a lower id. Written `<unix ms>-<uuid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The text is not a cursor this log handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: pass the `next` value of a previous page")]
pub struct InvalidCursor;

impl fmt::Display for DeliveryCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.created_at.timestamp_millis(), self.id)
    }
}

impl FromStr for DeliveryCursor {
    type Err = InvalidCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (millis, id) = s.split_once('-').ok_or(InvalidCursor)?;
        let millis: i64 = millis.parse().map_err(|_| InvalidCursor)?;
        Ok(DeliveryCursor {
            created_at: DateTime::from_timestamp_millis(millis).ok_or(InvalidCursor)?,
            id: Uuid::parse_str(id).map_err(|_| InvalidCursor)?,
        })
    }
}

/// Which deliveries the log lists: every condition set must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub state: Option<DeliveryState>,
    /// The event's subject (check name, monitor slug), exactly.
    pub subject: Option<String>,
    /// Only deliveries after this position (older ones).
    pub after: Option<DeliveryCursor>,
    pub limit: u32,
}

impl DeliveryFilter {
    pub const DEFAULT_LIMIT: u32 = 50;
}

impl Default for DeliveryFilter {
    fn default() -> Self {
        Self {
            state: None,
            subject: None,
            after: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed:
/// `initial × 2^(attempt−1)`, capped at `max`, plus `jitter`. The caller draws the jitter
/// (up to [`jitter_bound`] of the delay), so this stays pure and testable, and so that
/// deliveries failing together do not all come back at the same instant.
pub fn retry_delay(attempt: u32, initial: Duration, max: Duration, jitter: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1);
    let base = 1u32
        .checked_shl(doublings)
        .and_then(|factor| initial.checked_mul(factor))
        .map_or(max, |delay| delay.min(max));
    base.saturating_add(jitter)
}

/// The largest jitter worth adding to `delay`: a tenth of it.
pub fn jitter_bound(delay: Duration) -> Duration {
    delay / 10
}
