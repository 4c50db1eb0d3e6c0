//! Duration arithmetic the cron domain shares: std durations (what config and specs
//! hold) against chrono instants (what schedules and pings carry), saturating rather than
//! panicking, and durations written the way people read them in error texts.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// `d` as a chrono delta; durations beyond chrono's range (none that validation lets
/// through) saturate.
pub(crate) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `t + d`, saturating at the end of time rather than panicking.
pub(crate) fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `d` in the largest whole unit: `5m`, `2h`, `90s`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{}ms", d.as_millis()),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
