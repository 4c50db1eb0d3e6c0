//! `vercel.json`: its `crons` array of `{ "path", "schedule" }`. Vercel runs every cron
//! in UTC, so the zone is always UTC whatever the importer's default. The slug comes from
//! the path without its `api` and `cron` segments (`/api/cron/daily-report` →
//! `daily-report`).
//!
//! JSON keeps no line numbers once parsed, so each entry's line is found again by its
//! path's text, searching on from the previous entry.

use serde_json::Value;

use super::slug::slugify;
use super::{FindingKind, Importer, Job, Origin, SlugSource};

/// Path segments that say nothing about which job it is.
const GENERIC_SEGMENTS: &[&str] = &["api", "cron", "crons", "cronjobs", "jobs"];

pub(super) fn read(importer: &mut Importer, file: &str, text: &str) {
    let origin = |line: usize| Origin {
        file: file.to_owned(),
        line,
    };
    let root: Value = match serde_json::from_str(text) {
        Ok(root) => root,
        Err(error) => {
            let message = format!("not valid JSON: {error}");
            importer.finding(origin(error.line()), FindingKind::Invalid, message);
            return;
        }
    };
    let crons_at = text.find("\"crons\"").unwrap_or(0);
    let crons_line = line_at(text, crons_at);
    let entries = match root.get("crons") {
        None => {
            let message = "has no \"crons\": nothing to import";
            importer.finding(origin(0), FindingKind::Note, message);
            return;
        }
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            let message = "\"crons\" must be an array of {\"path\", \"schedule\"}";
            importer.finding(origin(crons_line), FindingKind::Invalid, message);
            return;
        }
    };
    let mut searched_to = crons_at;
    for (index, entry) in entries.iter().enumerate() {
        let path = entry.get("path").and_then(Value::as_str);
        let line = match path.and_then(|p| serde_json::to_string(p).ok()) {
            Some(quoted) => match text[searched_to..].find(&quoted) {
                Some(at) => {
                    searched_to += at + quoted.len();
                    line_at(text, searched_to)
                }
                None => crons_line,
            },
            None => crons_line,
        };
        let schedule = entry.get("schedule").and_then(Value::as_str);
        let (Some(path), Some(schedule)) = (path, schedule) else {
            let message =
                format!("crons[{index}] needs a \"path\" and a \"schedule\", both strings");
            importer.finding(origin(line), FindingKind::Invalid, message);
            continue;
        };
        importer.propose(Job {
            origin: origin(line),
            slug: SlugSource::Derived(slug_base(path)),
            name: path.to_owned(),
            expr: schedule.to_owned(),
            tz: Some("UTC".to_owned()),
            paused: false,
            detail: Some(format!("GET {path}")),
            command: None,
        });
    }
}

/// The 1-based line of byte `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The path's telling segments, joined.
fn slug_base(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && !GENERIC_SEGMENTS.contains(&s.to_ascii_lowercase().as_str()))
        .collect();
    match segments.as_slice() {
        [] => slugify(path),
        segments => slugify(&segments.join("-")),
    }
}
