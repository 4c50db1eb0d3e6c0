//! When a monitored job is expected: a [`Schedule`] is either a five-field cron expression
//! in an IANA time zone ([`CronSchedule`]) or a fixed [`Interval`] between signals.
//!
//! Cron times are computed by `croner` on the zone's wall clock, which follows the
//! Vixie/OCPS rules on daylight-saving days: a fixed-time job (`30 2 * * *`) whose time
//! falls in the spring-forward gap runs once, at the first instant after the gap (03:00);
//! one whose time happens twice on fall-back day runs once, at the first of the two.
//! Jobs with wildcards or steps in their time fields (`*/15 * * * *`) run at every wall
//! clock time that exists: none in the gap, both passes of the repeated hour.

mod field;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::span::delta;
use crate::ids::InvalidField;

/// The shortest interval: opsdeck's own HTTP scheduler fires jobs every second.
pub const INTERVAL_MIN: Duration = Duration::from_secs(1);
/// The longest interval, as healthchecks.io bounds its periods.
pub const INTERVAL_MAX: Duration = Duration::from_secs(365 * 24 * 3600);

const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/// The `@` aliases and what they stand for. `@reboot` is missing on purpose: it has no
/// times to expect a job at.
const ALIASES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Why a schedule was refused; each message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule must not be empty")]
    Empty,
    #[error("schedule must have 5 fields (minute hour day-of-month month day-of-week), found {0}")]
    FieldCount(usize),
    #[error(
        "schedule alias {0:?} is unknown: use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
    )]
    UnknownAlias(String),
    #[error("schedule {field} field {value:?} is invalid: {reason}")]
    Field {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("schedule {expr:?} is invalid: {reason}")]
    Invalid { expr: String, reason: String },
    #[error("schedule {0:?} never fires")]
    NeverFires(String),
    #[error("tz {0:?} is not an IANA time zone name such as Europe/Berlin or UTC")]
    UnknownTimeZone(String),
    #[error("interval must be between 1s and 365 days")]
    IntervalOutOfRange,
}

impl From<ScheduleError> for InvalidField {
    fn from(error: ScheduleError) -> Self {
        let field = match error {
            ScheduleError::UnknownTimeZone(_) => "tz",
            ScheduleError::IntervalOutOfRange => "interval",
            _ => "schedule",
        };
        let text = error.to_string();
        let problem = text.strip_prefix(field).unwrap_or(&text).trim_start();
        InvalidField::new(field, problem)
    }
}

/// A five-field cron expression (or `@` alias) read in an IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    expr: String,
    tz: Tz,
    // Boxed: a parsed pattern is some 300 bytes, and schedules travel by value.
    cron: Box<Cron>,
}

impl CronSchedule {
    /// Parses `expr` in zone `tz` (UTC when `None`). Kubernetes-style steps without a range
    /// (`0/15`) are accepted, as imports bring them; seconds and years are not.
    pub fn parse(expr: &str, tz: Option<&str>) -> Result<Self, ScheduleError> {
        let tz = match tz.map(str::trim) {
            None | Some("") => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| ScheduleError::UnknownTimeZone(name.to_owned()))?,
        };
        let expr = expr.trim();
        let fields = expand_alias(expr)?;
        let cron = parser()
            .parse(&fields.join(" "))
            .map_err(|e| explain(expr, &fields, &e.to_string()))?;
        let schedule = Self {
            expr: expr.to_owned(),
            tz,
            cron: Box::new(cron),
        };
        // `30 2 31 2 *` parses but never comes; say so now rather than never alert.
        let since = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        if since.and_then(|t| schedule.next_after(t)).is_none() {
            return Err(ScheduleError::NeverFires(schedule.expr));
        }
        Ok(schedule)
    }

    /// The expression as written (an alias stays an alias).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first time the schedule fires strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        Some(next.with_timezone(&Utc))
    }

    /// The last time the schedule fired at or before `t`.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        let last = self.cron.find_previous_occurrence(&local, true).ok()?;
        Some(last.with_timezone(&Utc))
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expr, self.tz.name())
    }
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build()
}

/// The five fields of `expr`, an alias replaced by what it stands for.
fn expand_alias(expr: &str) -> Result<Vec<&str>, ScheduleError> {
    if expr.is_empty() {
        return Err(ScheduleError::Empty);
    }
    let expr = if expr.starts_with('@') {
        ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(expr))
            .map(|(_, fields)| *fields)
            .ok_or_else(|| ScheduleError::UnknownAlias(expr.to_owned()))?
    } else {
        expr
    };
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != FIELD_NAMES.len() {
        return Err(ScheduleError::FieldCount(fields.len()));
    }
    Ok(fields)
}

/// Turns croner's complaint about a whole expression into one that names the field: each
/// field is tried alone, the others wildcards, and the first refused one is blamed, in
/// our words where we can tell what is wrong (`61 is out of range (minutes are 0–59)`).
fn explain(expr: &str, fields: &[&str], whole_reason: &str) -> ScheduleError {
    for (index, value) in fields.iter().enumerate() {
        let mut alone = ["*"; 5];
        alone[index] = value;
        if let Err(e) = parser().parse(&alone.join(" ")) {
            return ScheduleError::Field {
                field: FIELD_NAMES[index],
                value: (*value).to_owned(),
                reason: field::problem(index, value)
                    .unwrap_or_else(|| library_words(&e.to_string())),
            };
        }
    }
    ScheduleError::Invalid {
        expr: expr.to_owned(),
        reason: library_words(whole_reason),
    }
}

/// croner's message without its category (`Component error: Number out of bounds.` →
/// `number out of bounds`), to sit inside a sentence of ours.
fn library_words(message: &str) -> String {
    let text = message
        .split_once(": ")
        .filter(|(category, _)| category.ends_with("error") || category.starts_with("Invalid"))
        .map_or(message, |(_, rest)| rest)
        .trim()
        .trim_end_matches('.');
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// A fixed time between signals, 1 s to 365 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval(Duration);

impl Interval {
    pub const DAY: Interval = Interval(Duration::from_secs(24 * 3600));

    pub fn new(every: Duration) -> Result<Self, ScheduleError> {
        if (INTERVAL_MIN..=INTERVAL_MAX).contains(&every) {
            Ok(Self(every))
        } else {
            Err(ScheduleError::IntervalOutOfRange)
        }
    }

    pub fn get(self) -> Duration {
        self.0
    }

    fn delta(self) -> TimeDelta {
        delta(self.0)
    }
}

/// When a monitored job is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// At the times a cron expression names, in its time zone.
    Cron(CronSchedule),
    /// Once per interval, counted from the last signal (healthchecks.io's "period"): a
    /// job that pinged at 10:07 is next expected at 11:07.
    Interval(Interval),
}

impl Schedule {
    pub fn cron(expr: &str, tz: Option<&str>) -> Result<Self, ScheduleError> {
        CronSchedule::parse(expr, tz).map(Schedule::Cron)
    }

    pub fn every(interval: Duration) -> Result<Self, ScheduleError> {
        Interval::new(interval).map(Schedule::Interval)
    }

    /// The first expected time strictly after `t`. For an interval, `t` is the last
    /// signal and the answer `t + interval`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(cron) => cron.next_after(t),
            Schedule::Interval(every) => t.checked_add_signed(every.delta()),
        }
    }

    /// The expected times in `(after, until]`, oldest first, at most `limit` of them.
    pub fn slots_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut slots = Vec::new();
        let mut at = after;
        while slots.len() < limit {
            match self.next_after(at) {
                Some(next) if next <= until => {
                    slots.push(next);
                    at = next;
                }
                _ => break,
            }
        }
        slots
    }

    /// The first time opsdeck's own scheduler fires the job strictly after `t`. For a
    /// cron schedule that is [`Schedule::next_after`]; an interval is aligned to the Unix
    /// epoch, so every replica computes the same slot and the slot can key the run.
    pub fn next_fire_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(cron) => cron.next_after(t),
            Schedule::Interval(every) => {
                let step = i64::try_from(every.get().as_millis()).ok()?;
                let slot = t.timestamp_millis().div_euclid(step).checked_add(1)?;
                DateTime::from_timestamp_millis(slot.checked_mul(step)?)
            }
        }
    }
}
