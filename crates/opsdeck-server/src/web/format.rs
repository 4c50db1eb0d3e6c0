//! How pages write numbers and times: short, fixed-width where it helps scanning, and always
//! in UTC (the on-call engineer and the logs agree on one clock).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// `2025-01-31 14:05:09 UTC`.
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `14:05:09`, for tables of one day.
pub fn clock(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S").to_string()
}

/// How long ago, coarsely: `0 s`, `42 s`, `5 min`, `3 h`, `2 d` (pages add "ago").
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds().max(0);
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min", seconds / 60),
        3600..=86_399 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

/// A latency in milliseconds: `0.42 ms`, `12.3 ms`, `1,204 ms` → `1.20 s`.
pub fn latency_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "—".to_owned();
    }
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// An optional latency, `—` when there is none yet.
pub fn latency_opt(ms: Option<f64>) -> String {
    ms.map_or_else(|| "—".to_owned(), latency_ms)
}

/// A fraction 0–1 as a percentage: `99.95 %`, `100 %`; `—` without data.
pub fn percent(fraction: Option<f64>) -> String {
    match fraction {
        None => "—".to_owned(),
        Some(f) if f >= 1.0 => "100 %".to_owned(),
        Some(f) => {
            // Never round 99.996 % up to 100 %: that would hide an outage.
            let hundredths = (f * 10_000.0).floor() / 100.0;
            format!("{hundredths:.2} %")
        }
    }
}

/// A probe interval: `1s`, `15s`, `5m`.
pub fn interval(every: Duration) -> String {
    let secs = every.as_secs();
    if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs > 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", every.as_millis())
    }
}

/// An observed value with its unit: `82.5 %`, `14 days`.
pub fn observed(value: Option<f64>, unit: Option<&str>) -> Option<String> {
    let value = value?;
    let number = if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    };
    Some(match unit {
        Some(unit) if !unit.is_empty() => format!("{number} {unit}"),
        _ => number,
    })
}

/// What a check measured, in words: free disk space says it is free (`29.9 % free`), a
/// certificate how long it has left; `None` for a response time (the latency, shown
/// anyway) or without a value.
pub fn measured(measurement: &str, value: Option<f64>, unit: Option<&str>) -> Option<String> {
    let value = value.filter(|v| v.is_finite())?;
    match measurement {
        "responseTime" => None,
        "freeSpace" => Some(format!("{value:.1} % free")),
        "certificateExpiry" if value < 0.0 => Some(format!("expired {:.1} days ago", -value)),
        "certificateExpiry" => Some(format!("{value:.1} days left")),
        _ => observed(Some(value), unit),
    }
}
