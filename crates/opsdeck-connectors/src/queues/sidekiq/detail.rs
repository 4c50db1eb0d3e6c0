//! A job's page: its latest failure with the backtrace (plain or compressed, redacted and
//! cut short), its payload as shapes (each positional argument, then the keys a middleware
//! or the application added), and the options Sidekiq records.

use opsdeck_core::queues::{Attempt, JobDetail, JobSummary, payload_shape};
use opsdeck_core::redact::truncate_redacted;
use serde_json::{Map, Value};

use super::entry::{Entry, TimeFormat};

/// A job page's error and backtrace.
const STACK_MAX_BYTES: usize = 4_000;
/// Backtrace lines shown.
const BACKTRACE_LINES_MAX: usize = 50;
/// Option values shown.
const OPTION_MAX_BYTES: usize = 200;

/// The keys Sidekiq itself writes in a job hash; any other top-level key was added by the
/// application or a middleware and is shown as a shape.
const SIDEKIQ_KEYS: &[&str] = &[
    "class",
    "wrapped",
    "args",
    "jid",
    "queue",
    "retry",
    "retry_queue",
    "backtrace",
    "dead",
    "tags",
    "bid",
    "at",
    "created_at",
    "enqueued_at",
    "failed_at",
    "retried_at",
    "retry_count",
    "error_class",
    "error_message",
    "error_backtrace",
    "retry_for",
    "discarded_at",
];
/// Of those, the ones shown with their value as options.
const OPTION_KEYS: &[&str] = &[
    "retry",
    "retry_queue",
    "backtrace",
    "dead",
    "tags",
    "bid",
    "retry_for",
];

pub(super) fn detail(summary: JobSummary, entry: &Entry) -> JobDetail {
    let mut attempts = Vec::new();
    if let Some(error) = entry.error() {
        let stack = entry.backtrace().map(|lines| match lines {
            Ok(lines) => truncate_redacted(
                &lines
                    .iter()
                    .take(BACKTRACE_LINES_MAX)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n"),
                STACK_MAX_BYTES,
            ),
            Err(why) => format!("({why})"),
        });
        attempts.push(Attempt {
            at: entry.last_failure(),
            error: Some(truncate_redacted(&error, STACK_MAX_BYTES)),
            stack,
        });
    }
    // The payload: each positional argument, then the keys a middleware or the
    // application added (a tenant, current attributes), as shapes only.
    let mut shown = Map::new();
    if let Some(Value::Array(args)) = entry.doc.get("args") {
        for (index, arg) in args.iter().enumerate() {
            shown.insert(format!("args[{index}]"), arg.clone());
        }
    }
    for (key, value) in &entry.doc {
        if !SIDEKIQ_KEYS.contains(&key.as_str()) {
            shown.insert(key.clone(), value.clone());
        }
    }
    let mut options: Vec<(String, String)> = OPTION_KEYS
        .iter()
        .filter_map(|key| {
            let value = entry.doc.get(*key)?;
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            Some((
                (*key).to_owned(),
                truncate_redacted(&text, OPTION_MAX_BYTES),
            ))
        })
        .collect();
    for field in ["enqueued_at", "failed_at", "retried_at"] {
        if let Some(at) = entry.time(field) {
            options.push((field.to_owned(), at.to_rfc3339()));
        }
    }
    options.push((
        "time format".to_owned(),
        match entry.time_format() {
            TimeFormat::Seconds => "float seconds (Sidekiq 6.x/7.x)".to_owned(),
            TimeFormat::Millis => "integer milliseconds (Sidekiq 8.x)".to_owned(),
        },
    ));
    JobDetail {
        summary,
        attempts,
        payload: Some(payload_shape(&Value::Object(shown))),
        options,
    }
}
