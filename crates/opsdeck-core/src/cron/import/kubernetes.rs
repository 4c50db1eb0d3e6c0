//! Kubernetes manifests: one or more YAML documents (`---` between them), as `kubectl`
//! applies them or `kubectl get cronjobs -o yaml` prints them (`kind: List`).
//!
//! Only `kind: CronJob` of `batch/v1` or `batch/v1beta1` is read: `metadata.name` gives
//! the slug, `spec.schedule` and `spec.timeZone` the schedule, `spec.suspend: true` a
//! paused monitor. Other kinds are skipped without a word, so a whole chart's output can
//! be fed in; a document that is no valid YAML, or a CronJob missing what a monitor needs,
//! is reported.
//!
//! Documents are split here, on `---` lines, so one broken document costs only itself and
//! every finding carries the line in the file, not in the document.

use serde_json::Value;

use super::{FindingKind, Importer, Job, Origin, SlugSource};

/// The CronJob APIs whose `spec` this module knows.
const API_VERSIONS: &[&str] = &["batch/v1", "batch/v1beta1", "batch/v2alpha1"];

pub(super) fn read(importer: &mut Importer, file: &str, text: &str) {
    for document in documents(text) {
        let origin = Origin {
            file: file.to_owned(),
            line: document.first_line,
        };
        match serde_saphyr::from_str::<Value>(document.text) {
            Ok(Value::Null) => {}
            Ok(value) => object(importer, &origin, document.text, &value),
            Err(error) => {
                let error = error.without_snippet();
                // The parser counts lines from the document's start.
                let line = error.location().map_or(0, |l| l.line() as usize);
                let origin = Origin {
                    line: document.start_line + line.max(1) - 1,
                    ..origin
                };
                let reason = error.to_string();
                let reason = reason.lines().next().unwrap_or("");
                // Its "at line N" counts within the document; the finding has the real line.
                let reason = reason.rsplit_once(" at line ").map_or(reason, |(r, _)| r);
                let message = format!("not valid YAML: {reason}");
                importer.finding(origin, FindingKind::Invalid, message);
            }
        }
    }
}

/// One YAML document of a stream.
struct Document<'a> {
    text: &'a str,
    /// The line the document's text starts on.
    start_line: usize,
    /// Its first line that is neither blank nor a comment: where it is said to be.
    first_line: usize,
}

/// Splits at lines that are `---` or `...` (optionally followed by a comment), which
/// YAML allows only between documents.
fn documents(text: &str) -> Vec<Document<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let marker = line.trim_end();
        let is_marker = ["---", "..."].iter().any(|m| {
            marker
                .strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.trim_start().starts_with('#'))
        });
        if is_marker {
            out.push(document(&text[start..offset], start_line));
            start = offset + line.len();
            start_line = index + 2;
        }
        offset += line.len();
    }
    out.push(document(&text[start..], start_line));
    out.retain(|d| d.first_line != 0);
    out
}

fn document(text: &str, start_line: usize) -> Document<'_> {
    let first_line = text
        .lines()
        .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map_or(0, |i| start_line + i);
    Document {
        text,
        start_line,
        first_line,
    }
}

/// Reads one Kubernetes object; a `List` is read item by item.
fn object(importer: &mut Importer, origin: &Origin, text: &str, value: &Value) {
    let Some(map) = value.as_object() else {
        let message = "not a Kubernetes object: the document is not a mapping";
        importer.finding(origin.clone(), FindingKind::Invalid, message);
        return;
    };
    match map.get("kind").and_then(Value::as_str) {
        Some("CronJob") => cron_job(importer, origin, value),
        Some("List" | "CronJobList") => {
            for item in map
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let origin = item_origin(origin, text, item);
                object(importer, &origin, text, item);
            }
        }
        Some(_) => {}
        None => {
            let message = "not a Kubernetes object: it has no kind";
            importer.finding(origin.clone(), FindingKind::Invalid, message);
        }
    }
}

/// Where a `List` item is: the line of its `name:`, else the list's.
fn item_origin(list: &Origin, text: &str, item: &Value) -> Origin {
    let name = item.pointer("/metadata/name").and_then(Value::as_str);
    let line = name.and_then(|name| {
        text.lines().position(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            l.strip_prefix("name:")
                .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == name)
        })
    });
    Origin {
        file: list.file.clone(),
        line: line.map_or(list.line, |i| list.line + i),
    }
}

fn cron_job(importer: &mut Importer, origin: &Origin, value: &Value) {
    let api = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !API_VERSIONS.contains(&api) {
        let message =
            format!("a CronJob of apiVersion {api:?}, not batch/v1 or batch/v1beta1: skipped");
        importer.finding(origin.clone(), FindingKind::Skipped, message);
        return;
    }
    let invalid = |importer: &mut Importer, message: String| {
        importer.finding(origin.clone(), FindingKind::Invalid, message);
    };
    let Some(name) = value.pointer("/metadata/name").and_then(Value::as_str) else {
        return invalid(importer, "CronJob without metadata.name".to_owned());
    };
    let Some(schedule) = value.pointer("/spec/schedule").and_then(Value::as_str) else {
        return invalid(
            importer,
            format!("CronJob {name}: spec.schedule is missing"),
        );
    };
    let suspend = value.pointer("/spec/suspend");
    let paused = match suspend {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return invalid(
                importer,
                format!("CronJob {name}: spec.suspend must be true or false"),
            );
        }
    };
    let mut tz = match value.pointer("/spec/timeZone") {
        None | Some(Value::Null) => None,
        Some(Value::String(tz)) => Some(tz.clone()),
        Some(_) => {
            return invalid(
                importer,
                format!("CronJob {name}: spec.timeZone must be a zone name such as Etc/UTC"),
            );
        }
    };
    // Before spec.timeZone existed, a `CRON_TZ=` or `TZ=` prefix did its job.
    let mut expr = schedule.trim();
    for prefix in ["CRON_TZ=", "TZ="] {
        if let Some((zone, rest)) = expr
            .strip_prefix(prefix)
            .and_then(|r| r.split_once(char::is_whitespace))
        {
            tz.get_or_insert_with(|| zone.to_owned());
            expr = rest.trim_start();
        }
    }
    let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str);
    let image = value
        .pointer("/spec/jobTemplate/spec/template/spec/containers/0/image")
        .and_then(Value::as_str);
    importer.propose(Job {
        origin: origin.clone(),
        slug: SlugSource::Derived(name.to_owned()),
        name: match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_owned(),
        },
        expr: expr.to_owned(),
        tz,
        paused,
        detail: image.map(|i| format!("image {i}")),
        // What the container runs is the image's business; it reports by ping.
        command: None,
    });
}
