//! Alerts (SPEC §4 "Alerts", §3): a status change worth telling someone about
//! ([`AlertEvent`]), its delivery to each configured webhook ([`Delivery`]), what one attempt
//! came to ([`DeliveryOutcome`]) and when the next attempt is due ([`retry_delay`]).
//!
//! Health checks raise events today, cron monitors later; both go through the same
//! dispatcher and store. Text that came from the monitored system (a probe's output, a
//! webhook's error) is redacted and bounded here, when the value is built, so neither the
//! store nor a receiver ever sees it raw.
//!
//! Delivery is at least once: a claimed delivery carries a lease (its `next_attempt_at` is
//! pushed forward while one worker tries it), and a worker that outlives its lease may
//! repeat an attempt another worker also made. Receivers deduplicate by event id.

mod delivery;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::health::{Status, StatusChange};
use crate::redact::truncate_redacted;

pub use delivery::{
    Delivery, DeliveryCursor, DeliveryFilter, DeliveryOutcome, DeliveryState, InvalidCursor,
    LAST_ERROR_MAX_BYTES, UnknownDeliveryState, jitter_bound, retry_delay,
};

/// The longest summary line kept, in bytes.
pub const SUMMARY_MAX_BYTES: usize = 200;
/// The longest detail (output or error snippet) kept, in bytes: SPEC's 1 KB snippet.
pub const DETAIL_MAX_BYTES: usize = 1024;

/// What raised an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertSource {
    /// A health check changed status.
    Health,
    /// A cron monitor went down or recovered.
    Cron,
}

/// What an event says happened, which decides its colour and emoji in a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// Failing: a check fails, a monitor missed, failed or timed out.
    Down,
    /// Working, but not well: a check warns.
    Degraded,
    /// Back to normal.
    Recovered,
}

/// A text that is not one of the known names of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {found:?}: expected one of {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub found: String,
    pub expected: &'static str,
}

/// `ALL`, `as_str`, `Display` and `FromStr` for an enum of named variants.
macro_rules! named {
    (
        $ty:ident, $what:literal, $expected:literal,
        { $($variant:ident => $name:literal),* $(,)? }
    ) => {
        impl $ty {
            pub const ALL: &[$ty] = &[$($ty::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),* }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownName {
                    what: $what,
                    found: s.to_owned(),
                    expected: $expected,
                })
            }
        }
    };
}
pub(crate) use named;

named!(AlertSource, "alert source", "health, cron", {
    Health => "health",
    Cron => "cron",
});

named!(AlertKind, "alert kind", "down, degraded, recovered", {
    Down => "down",
    Degraded => "degraded",
    Recovered => "recovered",
});

impl AlertKind {
    /// The kind of a health check's flip from `from` to `to`, or `None` when there is
    /// nothing to tell: a check's very first result being pass (opsdeck just started).
    pub fn for_check(from: Option<Status>, to: Status) -> Option<AlertKind> {
        match (from, to) {
            (_, Status::Fail) => Some(AlertKind::Down),
            (_, Status::Warn) => Some(AlertKind::Degraded),
            (None, Status::Pass) => None,
            (Some(_), Status::Pass) => Some(AlertKind::Recovered),
        }
    }
}

/// One status change to announce. Build it with [`AlertEvent::new`] (or
/// [`AlertEvent::for_check`]) so its text is redacted and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvent {
    /// A UUIDv7: receivers deduplicate by it.
    pub id: Uuid,
    pub source: AlertSource,
    /// The check's name or the monitor's slug.
    pub subject: String,
    /// The status before, in the source's own words (`pass`, `up`, …); `None` when the
    /// subject had none yet.
    pub from: Option<String>,
    pub to: String,
    pub kind: AlertKind,
    /// One line for people, at most [`SUMMARY_MAX_BYTES`].
    pub summary: String,
    /// The redacted output or error snippet, at most [`DETAIL_MAX_BYTES`].
    pub detail: Option<String>,
    /// Where to look: a dashboard path (`/health/db`), made absolute with the
    /// configured dashboard URL when sent, or an absolute URL.
    pub link: String,
    pub at: DateTime<Utc>,
}

impl AlertEvent {
    /// An event with a fresh id; `summary` is redacted, made one line and bounded. Add the
    /// rest with [`AlertEvent::with_from`] and [`AlertEvent::with_detail`].
    pub fn new(
        source: AlertSource,
        subject: impl Into<String>,
        kind: AlertKind,
        to: impl Into<String>,
        summary: &str,
        link: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            source,
            subject: subject.into(),
            from: None,
            to: to.into(),
            kind,
            summary: one_line(summary),
            detail: None,
            link: link.into(),
            at,
        }
    }

    pub fn with_from(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }

    /// Attaches output or an error snippet, redacted and cut to [`DETAIL_MAX_BYTES`].
    pub fn with_detail(mut self, detail: &str) -> Self {
        let detail = detail.trim();
        self.detail = (!detail.is_empty()).then(|| truncate_redacted(detail, DETAIL_MAX_BYTES));
        self
    }

    /// The event for a health check's status change, linking to the check's page; `None`
    /// when [`AlertKind::for_check`] finds nothing to tell.
    pub fn for_check(change: &StatusChange) -> Option<AlertEvent> {
        let kind = AlertKind::for_check(change.from, change.to)?;
        let name = change.name.as_str();
        let summary = match kind {
            AlertKind::Down => format!("health check {name} is failing"),
            AlertKind::Degraded => format!("health check {name} is degraded"),
            AlertKind::Recovered => format!("health check {name} has recovered"),
        };
        let mut event = AlertEvent::new(
            AlertSource::Health,
            name,
            kind,
            change.to.as_str(),
            &summary,
            format!("/health/{name}"),
            change.at,
        );
        if let Some(from) = change.from {
            event = event.with_from(from.as_str());
        }
        if let Some(output) = &change.output {
            event = event.with_detail(output);
        }
        Some(event)
    }
}

/// The first line of `text`, redacted and cut to [`SUMMARY_MAX_BYTES`].
fn one_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    truncate_redacted(line, SUMMARY_MAX_BYTES)
}

#[cfg(test)]
mod tests;
