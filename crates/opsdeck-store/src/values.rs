//! The values whose storage differs between backends, as the shared code binds and reads them:
//! times ([`Time`]) and UUIDs ([`Id`]). Each backend's `types.rs` says how it stores them (SQLite: INTEGER unix
//! milliseconds and hyphenated TEXT; PostgreSQL: TIMESTAMPTZ and uuid).

use chrono::{DateTime, Utc};
use opsdeck_core::audit::truncate_to_millis;
use uuid::Uuid;

/// A time as the backend stores it: SQLite keeps whole milliseconds (rounding down),
/// PostgreSQL microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time(pub DateTime<Utc>);

impl Time {
    /// `t` rounded down to the millisecond: for the capabilities that keep milliseconds on
    /// every backend, so both answer alike.
    pub(crate) fn millis(t: DateTime<Utc>) -> Self {
        Self(truncate_to_millis(t))
    }
}

/// A UUID as the backend stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Id(pub Uuid);
