//! Cron expressions and time zones as users type them (`schedule`, `tz`): parsing never
//! panics, and a schedule that parses moves forward and backward in time consistently.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use opsdeck_core::cron::CronSchedule;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `expr`, optionally followed by a newline and a time zone name.
    let (expr, tz) = match text.split_once('\n') {
        Some((expr, tz)) => (expr, Some(tz)),
        None => (text, None),
    };
    let Ok(schedule) = CronSchedule::parse(expr, tz) else {
        return;
    };
    let start = DateTime::<Utc>::from_timestamp(1_796_000_000, 0).expect("a valid time");
    if let Some(next) = schedule.next_after(start) {
        assert!(next > start, "{expr:?}: next {next} not after {start}");
        if let Some(previous) = schedule.last_at_or_before(next) {
            assert!(previous <= next, "{expr:?}: {previous} after {next}");
        }
    }
});
