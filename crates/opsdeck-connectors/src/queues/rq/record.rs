//! An RQ job as read from Redis: its hash fields (never `data` or `meta`, which are
//! pickled), its registry entry, and its result stream, with the tracebacks in them inflated
//! (bounded) and its times parsed. A hash without RQ's fields is refused here, for every
//! caller.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use opsdeck_core::redact::truncate_redacted;
use redis::Value;

use super::{RqConnector, unsupported};
use crate::queues::QueueError;
use crate::queues::redis_client::reply;

/// A list's error: one line.
const ERROR_MAX_BYTES: usize = 200;
/// A traceback inflated at most: RQ's are zlib-compressed, and a hostile one could be a
/// zip bomb.
const INFLATE_MAX_BYTES: usize = 64 * 1024;
/// The job hash fields read, in this order.
pub(super) const FIELDS: [&str; 10] = [
    "status",
    "created_at",
    "origin",
    "description",
    "enqueued_at",
    "started_at",
    "ended_at",
    "retries_left",
    "exc_info",
    "timeout",
];

/// RQ's time format (`utcformat`): `2026-12-07T16:19:44.249628Z`.
pub(super) fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim().trim_end_matches('Z');
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| Utc.from_utc_datetime(&naive))
}

pub(super) fn time_of_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt((seconds * 1000.0) as i64).single()
}

/// A job as read: its registry entry and score, its hash fields, its newest result.
#[derive(Debug, Default)]
pub(super) struct Row {
    /// The registry member (`<id>:<execution>` in `wip` since RQ 2).
    pub member: String,
    pub id: String,
    pub score: Option<f64>,
    fields: Vec<Option<Vec<u8>>>,
    has_data: bool,
    /// The newest result stream entries, newest first, as field pairs.
    pub results: Vec<Vec<(String, Vec<u8>)>>,
}

impl Row {
    pub fn text(&self, name: &str) -> Option<String> {
        let at = FIELDS.iter().position(|f| *f == name)?;
        self.fields
            .get(at)?
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .filter(|t| !t.is_empty())
    }

    pub fn exists(&self) -> bool {
        self.has_data || self.fields.iter().any(Option::is_some)
    }

    /// Whether the hash has the fields of every RQ 1.x-3.x job.
    fn recognised(&self) -> bool {
        self.has_data && self.text("status").is_some() && self.text("created_at").is_some()
    }

    pub fn time(&self, name: &str) -> Option<DateTime<Utc>> {
        self.text(name).as_deref().and_then(parse_time)
    }

    /// Each failure's traceback with its time, newest first: from the result stream, else
    /// (RQ before 1.12) the hash's `exc_info`.
    pub fn failures(&self) -> Vec<(Option<DateTime<Utc>>, String)> {
        let mut out = Vec::new();
        for entry in &self.results {
            let field = |name: &str| entry.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            let kind = field("type").map(|t| String::from_utf8_lossy(t).into_owned());
            if !matches!(kind.as_deref(), Some("2" | "3" | "5")) {
                continue;
            }
            let Some(text) = field("exc_string").and_then(|b| decode_exc_string(b)) else {
                continue;
            };
            let at = field("execution_ended_at")
                .and_then(|t| String::from_utf8_lossy(t).parse::<f64>().ok())
                .and_then(time_of_seconds);
            out.push((at, text));
        }
        if out.is_empty()
            && let Some(Some(raw)) = FIELDS
                .iter()
                .position(|f| *f == "exc_info")
                .and_then(|at| self.fields.get(at))
            && let Some(text) = inflate(raw).or_else(|| plain(raw))
        {
            out.push((self.time("ended_at"), text));
        }
        out
    }
}

/// A result's `exc_string`: base64 of zlib of the traceback.
fn decode_exc_string(bytes: &[u8]) -> Option<String> {
    use base64::Engine as _;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(bytes)
        .ok()?;
    inflate(&compressed)
}

/// zlib-inflated text, at most [`INFLATE_MAX_BYTES`] of it.
fn inflate(bytes: &[u8]) -> Option<String> {
    use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_zlib_with_limit};
    let out = match decompress_to_vec_zlib_with_limit(bytes, INFLATE_MAX_BYTES) {
        Ok(out) => out,
        Err(err) if err.status == TINFLStatus::HasMoreOutput => err.output,
        Err(_) => return None,
    };
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Text stored uncompressed (very old RQ).
fn plain(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

/// The line of a Python traceback that says what went wrong: its last.
pub(super) fn error_line(traceback: &str) -> String {
    let line = traceback
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or_default();
    truncate_redacted(line, ERROR_MAX_BYTES)
}

fn bytes_of(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes.clone()),
        Value::SimpleString(text) => Some(text.as_bytes().to_vec()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// Entries of an `XREVRANGE` reply, as field pairs.
fn stream_entries(value: &Value) -> Vec<Vec<(String, Vec<u8>)>> {
    reply::array(value)
        .iter()
        .filter_map(|entry| {
            let [_, fields] = reply::array(entry) else {
                return None;
            };
            let flat = reply::array(fields);
            Some(
                flat.chunks(2)
                    .filter_map(|pair| match pair {
                        [k, v] => Some((reply::text(k)?, bytes_of(v)?)),
                        _ => None,
                    })
                    .collect(),
            )
        })
        .collect()
}

impl RqConnector {
    /// Reads the jobs of `members` (registry members or ids) with their scores, in one
    /// pipeline; `results` entries of each job's result stream.
    pub(super) async fn rows(
        &self,
        members: Vec<(String, Option<f64>)>,
        results: usize,
    ) -> Result<Vec<Row>, QueueError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (member, _) in &members {
            let id = job_id_of(member);
            let key = self.job_key(id);
            pipe.cmd("HMGET").arg(&key).arg(&FIELDS[..]);
            pipe.cmd("HEXISTS").arg(&key).arg("data");
            if results > 0 {
                pipe.cmd("XREVRANGE")
                    .arg(self.key("results", id))
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(results);
            }
        }
        let values: Vec<Value> = self.client.query(&pipe).await?;
        let per = if results > 0 { 3 } else { 2 };
        let mut rows = Vec::with_capacity(members.len());
        for ((member, score), replies) in members.into_iter().zip(values.chunks(per)) {
            let fields = reply::array(&replies[0]).iter().map(bytes_of).collect();
            let row = Row {
                id: job_id_of(&member).to_owned(),
                member,
                score,
                fields,
                has_data: replies.get(1).and_then(reply::int) == Some(1),
                results: replies.get(2).map(stream_entries).unwrap_or_default(),
            };
            if row.exists() && !row.recognised() {
                return Err(unsupported(&format!(
                    "the RQ job {:?} has no status, created_at or data field",
                    row.id
                )));
            }
            rows.push(row);
        }
        Ok(rows)
    }
}

/// The job id of a registry member: `wip` members are `<id>:<execution id>` since RQ 2.
pub(super) fn job_id_of(member: &str) -> &str {
    member.split(':').next().unwrap_or(member)
}
