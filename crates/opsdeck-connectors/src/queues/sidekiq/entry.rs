//! One stored Sidekiq job: the JSON hash as read (kept as text, since a move must name the
//! exact member), its fields, its timestamps in either format, its backtrace in either
//! encoding, its opsdeck id, and the text pushed back on a retry.
//!
//! Timestamps: Sidekiq 6.x and 7.x write float epoch seconds, 8.x integer epoch
//! milliseconds. No value in seconds reaches 10^11 before the year 5138, so a value above it
//! is milliseconds; each job is read, and rewritten, in its own format.

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::ids::JobId;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::queues::QueueError;

/// Epoch values above this are milliseconds.
const MS_THRESHOLD: f64 = 1e11;
/// The most a compressed backtrace may inflate to.
const BACKTRACE_MAX_BYTES: usize = 256 * 1024;
/// Hex characters of the digest in an id.
const DIGEST_CHARS: usize = 12;

/// How a job writes its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeFormat {
    /// Float epoch seconds (Sidekiq 6.x, 7.x).
    Seconds,
    /// Integer epoch milliseconds (Sidekiq 8.x).
    Millis,
}

/// An epoch time in either format.
pub(super) fn time_of(value: &Value) -> Option<DateTime<Utc>> {
    let n = value.as_f64()?;
    let ms = if n > MS_THRESHOLD { n } else { n * 1000.0 };
    Utc.timestamp_millis_opt(ms.round() as i64).single()
}

/// A sorted set's score as a time (scores are seconds in every version; a score in
/// milliseconds is read as such all the same).
pub(super) fn time_of_score(score: f64) -> Option<DateTime<Utc>> {
    time_of(&Value::from(score))
}

/// Where an entry lives, as its opsdeck id says.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ref {
    /// A sorted-set entry: its score as Redis wrote it, its jid, and a digest of its text.
    Set {
        score: String,
        jid: String,
        digest: String,
    },
    /// A waiting job in a queue's list, by jid.
    List { jid: String },
}

impl Ref {
    /// The entry `id` names: `<score>-<jid>-<digest>` (Sidekiq Web's `<score>-<jid>` with
    /// the digest that pins the exact text), or a bare jid for a waiting job.
    pub fn parse(id: &JobId) -> Self {
        let text = id.as_str();
        let set = text.split_once('-').and_then(|(score, rest)| {
            let (jid, digest) = rest.rsplit_once('-')?;
            // Scores are epoch times: this keeps a bare jid that starts with digits and a
            // dash (a UUID) from reading as one.
            let numeric = score
                .parse::<f64>()
                .is_ok_and(|n| n.is_finite() && n >= 1e9);
            let hex = digest.len() == DIGEST_CHARS && digest.bytes().all(|b| b.is_ascii_hexdigit());
            (numeric && hex && !jid.is_empty()).then(|| Ref::Set {
                score: score.to_owned(),
                jid: jid.to_owned(),
                digest: digest.to_owned(),
            })
        });
        set.unwrap_or_else(|| Ref::List {
            jid: text.to_owned(),
        })
    }
}

/// The digest of an entry's exact text, as its id carries it.
pub(super) fn digest(raw: &str) -> String {
    let hash = Sha256::digest(raw.as_bytes());
    hash.iter()
        .take(DIGEST_CHARS / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A job as stored.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The member or list element exactly as read.
    pub raw: String,
    /// Its score as Redis wrote it (sorted-set entries).
    pub score: Option<String>,
    pub doc: Map<String, Value>,
}

impl Entry {
    /// `raw` as a Sidekiq job hash, or the refusal of a layout this is not.
    pub fn parse(raw: String, score: Option<String>, key: &str) -> Result<Self, QueueError> {
        let refuse = |why: &str| {
            QueueError::Unsupported(format!(
                "an entry of {key} {why}; opsdeck reads {} job hashes only (a JSON object with class, jid and queue) and leaves this source alone",
                super::SUPPORTED
            ))
        };
        let doc = match serde_json::from_str::<Value>(&raw) {
            Ok(Value::Object(doc)) => doc,
            Ok(_) => return Err(refuse("is JSON but not an object")),
            Err(_) => return Err(refuse("is not JSON")),
        };
        for field in ["class", "jid", "queue"] {
            if !doc.get(field).is_some_and(Value::is_string) {
                return Err(refuse(&format!("has no {field} string")));
            }
        }
        Ok(Self { raw, score, doc })
    }

    fn text(&self, field: &str) -> Option<&str> {
        self.doc.get(field).and_then(Value::as_str)
    }

    pub fn jid(&self) -> &str {
        self.text("jid").unwrap_or_default()
    }

    pub fn queue(&self) -> &str {
        self.text("queue").unwrap_or_default()
    }

    /// What runs: the ActiveJob class a wrapper runs, else the worker class.
    pub fn class(&self) -> &str {
        self.text("wrapped")
            .or_else(|| self.text("class"))
            .unwrap_or_default()
    }

    /// The opsdeck id: `<score>-<jid>-<digest>` in a sorted set, the jid in a list.
    pub fn id(&self) -> Option<JobId> {
        let text = match &self.score {
            Some(score) => format!("{score}-{}-{}", self.jid(), digest(&self.raw)),
            None => self.jid().to_owned(),
        };
        JobId::parse(&text).ok()
    }

    pub fn score(&self) -> Option<f64> {
        self.score.as_deref().and_then(|s| s.parse().ok())
    }

    pub fn time(&self, field: &str) -> Option<DateTime<Utc>> {
        self.doc.get(field).and_then(time_of)
    }

    /// When it last failed: `retried_at` after a retry's failure, else `failed_at`.
    pub fn last_failure(&self) -> Option<DateTime<Utc>> {
        self.time("retried_at").or_else(|| self.time("failed_at"))
    }

    /// The format of its times, from the first one it has.
    pub fn time_format(&self) -> TimeFormat {
        ["enqueued_at", "created_at", "failed_at"]
            .iter()
            .find_map(|field| self.doc.get(*field).and_then(Value::as_f64))
            .map_or(TimeFormat::Seconds, |n| {
                if n > MS_THRESHOLD {
                    TimeFormat::Millis
                } else {
                    TimeFormat::Seconds
                }
            })
    }

    /// `retry_count` (failures after the first), when it failed.
    pub fn retry_count(&self) -> Option<i64> {
        self.doc.get("retry_count").and_then(Value::as_i64)
    }

    /// The tries allowed: `retry: true` is Sidekiq's default of 25 retries, a number that
    /// many, `false` none; plus the first run.
    pub fn max_attempts(&self) -> Option<u32> {
        let retries = match self.doc.get("retry") {
            Some(Value::Bool(true)) => 25,
            Some(Value::Bool(false)) => 0,
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            _ => return None,
        };
        u32::try_from(retries + 1).ok()
    }

    /// The error as Sidekiq records it: `ErrorClass: message`.
    pub fn error(&self) -> Option<String> {
        match (self.text("error_class"), self.text("error_message")) {
            (Some(class), Some(message)) => Some(format!("{class}: {message}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        }
    }

    /// The backtrace's lines: a plain array (older Sidekiq), or base64 of zlib of a JSON
    /// array (Sidekiq 6+). `Err` says why it could not be read.
    pub fn backtrace(&self) -> Option<Result<Vec<String>, &'static str>> {
        Some(match self.doc.get("error_backtrace")? {
            Value::Array(lines) => Ok(lines
                .iter()
                .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_owned))
                .collect()),
            Value::String(encoded) => decode_backtrace(encoded),
            _ => Err("the backtrace is neither a list nor compressed text"),
        })
    }

    /// The text a retry pushes back on the queue: the stored text with only what Sidekiq's
    /// own retry changes (`retry_count` one less, so a manual retry does not count against
    /// the job's retries; `enqueued_at` now, in the job's own format), every other byte as
    /// stored. Sidekiq keeps the error fields on a retried job (its next failure reads
    /// them), so they stay.
    pub fn requeued(&self, now: DateTime<Utc>) -> Option<String> {
        let members = top_level_members(&self.raw)?;
        let enqueued_at = match self.time_format() {
            TimeFormat::Millis => now.timestamp_millis().to_string(),
            TimeFormat::Seconds => {
                format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros())
            }
        };
        let retry_count = self.retry_count().map(|n| (n - 1).to_string());
        let mut out = String::with_capacity(self.raw.len() + 32);
        out.push('{');
        let mut wrote_enqueued = false;
        for (key_text, value) in members {
            let key: String = serde_json::from_str(key_text).ok()?;
            let value = match key.as_str() {
                "retry_count" => retry_count.as_deref().unwrap_or(value),
                "enqueued_at" => {
                    wrote_enqueued = true;
                    &enqueued_at
                }
                _ => value,
            };
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(key_text);
            out.push(':');
            out.push_str(value);
        }
        if !wrote_enqueued {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str("\"enqueued_at\":");
            out.push_str(&enqueued_at);
        }
        out.push('}');
        Some(out)
    }
}

fn decode_backtrace(encoded: &str) -> Result<Vec<String>, &'static str> {
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| "the backtrace is not base64")?;
    let json =
        miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, BACKTRACE_MAX_BYTES)
            .map_err(|_| "the backtrace is not zlib data, or inflates past 256 KiB")?;
    serde_json::from_slice::<Vec<String>>(&json)
        .map_err(|_| "the backtrace is not a JSON list (a Marshal dump of Sidekiq 5 is not read)")
}

/// The top-level members of a JSON object as (key as written, value as written), in order.
/// Only called on text that parsed as an object.
fn top_level_members(raw: &str) -> Option<Vec<(&str, &str)>> {
    let bytes = raw.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    let mut members = Vec::new();
    loop {
        at = skip_space(bytes, at);
        match bytes.get(at)? {
            b'}' => return Some(members),
            b',' => {
                at += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(bytes, at)?;
        let key = raw.get(at..key_end)?;
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(bytes, at + 1);
        let value_start = at;
        let mut depth = 0usize;
        while let Some(&b) = bytes.get(at) {
            match b {
                b'"' => {
                    at = string_end(bytes, at)?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => break,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => break,
                _ => {}
            }
            at += 1;
        }
        members.push((key, raw.get(value_start..at)?.trim_end()));
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The index just past the string starting at `at` (a `"`).
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    at += 1;
    loop {
        match bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
}
