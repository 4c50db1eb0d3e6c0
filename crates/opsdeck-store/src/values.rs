//! The values whose storage differs between backends, as the shared code binds and reads them:
//! times ([`Time`]) and UUIDs ([`Id`]). Each backend's `types.rs` says how it stores them (SQLite: INTEGER unix
//! milliseconds and hyphenated TEXT; PostgreSQL: TIMESTAMPTZ and uuid).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsdeck_core::audit::truncate_to_millis;
use uuid::Uuid;

use crate::dialect::Dialect;

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

/// A time compared with `>=` or `<` against stored times: a stored time is at or after `t`
/// exactly when it is at or after this bound, and likewise for "before" (SQLite: `t` in unix
/// milliseconds rounded up, since it stores whole milliseconds; PostgreSQL: `t` as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeBound(pub DateTime<Utc>);

/// A UUID as the backend stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Id(pub Uuid);

/// A text bound into a batch in which it repeats (see [`SharedTexts`]).
#[derive(Debug, Clone)]
pub(crate) enum SharedText<'a> {
    /// Bound without a copy where the backend copies borrowed texts.
    Shared(Arc<str>),
    /// Bound as it is where the backend encodes texts at once.
    Borrowed(&'a str),
}

/// The texts of one batch, each allocated once where the backend copies a bound `&str` (SQLite
/// copies it into two new allocations, and a batch's rows mostly repeat a few values; a shared
/// `Arc<str>` is bound without copying). Where the backend encodes a bound text into its
/// message at once (PostgreSQL) the borrowed text costs nothing more, and is bound as it is.
#[derive(Debug)]
pub(crate) struct SharedTexts<'a> {
    share: bool,
    texts: HashMap<&'a str, Arc<str>>,
}

impl<'a> SharedTexts<'a> {
    pub(crate) fn new<DB: Dialect>() -> Self {
        Self {
            share: DB::COPIES_BOUND_TEXT,
            texts: HashMap::new(),
        }
    }

    /// `text`, allocated once however often the batch repeats it.
    pub(crate) fn get(&mut self, text: &'a str) -> SharedText<'a> {
        if !self.share {
            return SharedText::Borrowed(text);
        }
        let shared = self.texts.entry(text).or_insert_with(|| Arc::from(text));
        SharedText::Shared(shared.clone())
    }

    /// `text`, which the batch holds once, or binds twice through clones of this value.
    pub(crate) fn single(&self, text: &'a str) -> SharedText<'a> {
        if self.share {
            SharedText::Shared(Arc::from(text))
        } else {
            SharedText::Borrowed(text)
        }
    }
}
