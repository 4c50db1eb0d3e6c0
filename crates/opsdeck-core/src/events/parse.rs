//! Reading a batch: cutting the body into events ([`split_batch`]: a JSON array's elements
//! or NDJSON's lines, each kept as its own bytes so a malformed event spoils only itself),
//! and checking one event field by field ([`parse_event`]), every error naming its field.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{
    AuditCategory, AuditEvent, COUNTER_NAME_MAX_CHARS, ErrorEvent, Event, EventBody, EventId,
    EventKind, EventLimits, FUTURE_SKEW, ID_TEXT_MAX_BYTES, MESSAGE_MAX_BYTES,
    SHORT_TEXT_MAX_BYTES, STACK_MAX_BYTES, USAGE_VALUE_MAX, UsageEvent,
};
use crate::ids::TenantId;

/// Why one event was refused: the field at fault (`None` for the event as a whole) and
/// what is wrong with it. Never repeats the value: it may be tenant data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    pub field: Option<String>,
    pub problem: String,
}

impl EventError {
    pub fn field(field: &str, problem: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            problem: problem.into(),
        }
    }

    pub fn whole(problem: impl Into<String>) -> Self {
        Self {
            field: None,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.problem),
            None => f.write_str(&self.problem),
        }
    }
}

impl std::error::Error for EventError {}

/// How a batch is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// One JSON array of event objects.
    Array,
    /// One event object per line (NDJSON); blank lines are skipped.
    Ndjson,
}

impl BatchFormat {
    /// The format a body is in: NDJSON when the content type says so, otherwise by its
    /// first character (`[` an array, `{` NDJSON, a single event being one line of it).
    pub fn detect(content_type: Option<&str>, body: &[u8]) -> Option<Self> {
        let essence = content_type
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase());
        if matches!(
            essence.as_deref(),
            Some("application/x-ndjson" | "application/ndjson" | "application/jsonl")
        ) {
            return Some(BatchFormat::Ndjson);
        }
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => Some(BatchFormat::Array),
            Some(b'{') => Some(BatchFormat::Ndjson),
            _ => None,
        }
    }
}

/// The body as a whole cannot be read as a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the body is neither a JSON array of events nor NDJSON (one event object per line)")]
    NotABatch,
    #[error("the JSON array is not closed or its structure is broken at byte {0}")]
    Broken(usize),
}

/// The events of a body, each as its own bytes, in order. An array's elements are cut at
/// its top-level commas (strings and nesting tracked), so an element that is not valid
/// JSON is reported on its own by [`parse_event`].
pub fn split_batch(body: &[u8], format: BatchFormat) -> Result<Vec<&[u8]>, BatchError> {
    match format {
        BatchFormat::Ndjson => Ok(body
            .split(|&b| b == b'\n')
            .map(trim)
            .filter(|line| !line.is_empty())
            .collect()),
        BatchFormat::Array => split_array(body),
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    &bytes[start..end.max(start)]
}

fn split_array(body: &[u8]) -> Result<Vec<&[u8]>, BatchError> {
    let open = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .filter(|&p| body[p] == b'[')
        .ok_or(BatchError::NotABatch)?;
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut start = open + 1;
    for (offset, &b) in body[open + 1..].iter().enumerate() {
        let at = open + 1 + offset;
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b']' => {
                let last = trim(&body[start..at]);
                if !last.is_empty() {
                    items.push(last);
                } else if !items.is_empty() {
                    return Err(BatchError::Broken(at));
                }
                if !trim(&body[at + 1..]).is_empty() {
                    return Err(BatchError::Broken(at + 1));
                }
                return Ok(items);
            }
            b'}' => return Err(BatchError::Broken(at)),
            b',' if depth == 0 => {
                let item = trim(&body[start..at]);
                if item.is_empty() {
                    return Err(BatchError::Broken(at));
                }
                items.push(item);
                start = at + 1;
            }
            _ => {}
        }
    }
    Err(BatchError::Broken(body.len()))
}

/// The fields each kind allows, besides the common ones.
const COMMON: [&str; 4] = ["id", "type", "tenant_id", "at"];
const ERROR_FIELDS: [&str; 5] = ["message", "fingerprint", "stack", "route", "request_id"];
const AUDIT_FIELDS: [&str; 4] = ["actor", "action", "target", "category"];
const USAGE_FIELDS: [&str; 2] = ["name", "value"];

/// Parses and checks one event received at `now`.
pub fn parse_event(
    raw: &[u8],
    now: DateTime<Utc>,
    limits: &EventLimits,
) -> Result<Event, EventError> {
    if raw.len() > limits.max_event_bytes {
        return Err(EventError::whole(format!(
            "the event is larger than {} bytes",
            limits.max_event_bytes
        )));
    }
    let object: Map<String, Value> = match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(EventError::whole("an event must be a JSON object")),
        Err(err) => {
            return Err(EventError::whole(format!(
                "not valid JSON (line {}, column {})",
                err.line(),
                err.column()
            )));
        }
    };
    let fields = Fields(&object);
    let id = EventId::parse(fields.required_str("id")?)?;
    let kind_text = fields.required_str("type")?;
    let kind = EventKind::parse(kind_text)
        .ok_or_else(|| EventError::field("type", "must be error, audit or usage"))?;
    let allowed: &[&str] = match kind {
        EventKind::Error => &ERROR_FIELDS,
        EventKind::Audit => &AUDIT_FIELDS,
        EventKind::Usage => &USAGE_FIELDS,
    };
    if let Some(unknown) = object
        .keys()
        .find(|key| !COMMON.contains(&key.as_str()) && !allowed.contains(&key.as_str()))
    {
        let shown: String = unknown.chars().take(64).collect();
        return Err(EventError::field(
            &shown,
            format!("is not a field of a {} event", kind.as_str()),
        ));
    }
    let tenant_id = TenantId::parse(fields.required_str("tenant_id")?)
        .map_err(|e| EventError::field("tenant_id", e.problem))?;
    let at = parse_at(fields.required_str("at")?, now, limits)?;
    let body = match kind {
        EventKind::Error => {
            let message = fields.text("message", MESSAGE_MAX_BYTES, true)?;
            let fingerprint = fields.text("fingerprint", SHORT_TEXT_MAX_BYTES, false)?;
            EventBody::Error(ErrorEvent {
                message: message.unwrap_or_default(),
                fingerprint_given: fingerprint.is_some(),
                fingerprint: fingerprint.unwrap_or_default(),
                stack: fields.text("stack", STACK_MAX_BYTES, false)?,
                route: fields.text("route", SHORT_TEXT_MAX_BYTES, false)?,
                request_id: fields.text("request_id", ID_TEXT_MAX_BYTES, false)?,
            })
        }
        EventKind::Audit => {
            let action = fields
                .text("action", ID_TEXT_MAX_BYTES, true)?
                .unwrap_or_default();
            let category = match fields.optional_str("category")? {
                Some(category) => AuditCategory::parse(category)?,
                None => AuditCategory::of_action(&action),
            };
            EventBody::Audit(AuditEvent {
                actor: fields.text("actor", SHORT_TEXT_MAX_BYTES, false)?,
                target: fields.text("target", SHORT_TEXT_MAX_BYTES, false)?,
                action,
                category,
            })
        }
        EventKind::Usage => EventBody::Usage(UsageEvent {
            name: counter_name(fields.required_str("name")?)?,
            value: usage_value(object.get("value"))?,
        }),
    };
    Ok(Event {
        id,
        tenant_id,
        at,
        body,
    })
}

/// Typed access to an event's fields, every error naming the field.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn optional_str(&self, field: &str) -> Result<Option<&str>, EventError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(EventError::field(field, "must be a string")),
        }
    }

    fn required_str(&self, field: &str) -> Result<&str, EventError> {
        self.optional_str(field)?
            .ok_or_else(|| EventError::field(field, "is required"))
    }

    /// A free-text field of at most `max` bytes; a required one must not be blank, an
    /// optional blank one counts as absent.
    fn text(&self, field: &str, max: usize, required: bool) -> Result<Option<String>, EventError> {
        let value = if required {
            Some(self.required_str(field)?)
        } else {
            self.optional_str(field)?
        };
        let Some(value) = value else {
            return Ok(None);
        };
        if value.len() > max {
            return Err(EventError::field(
                field,
                format!("must be at most {max} bytes"),
            ));
        }
        if value.trim().is_empty() {
            return if required {
                Err(EventError::field(field, "must not be blank"))
            } else {
                Ok(None)
            };
        }
        Ok(Some(value.to_owned()))
    }
}

fn parse_at(
    text: &str,
    now: DateTime<Utc>,
    limits: &EventLimits,
) -> Result<DateTime<Utc>, EventError> {
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            EventError::field(
                "at",
                "must be an RFC 3339 time such as 2026-12-07T10:00:00Z",
            )
        })?
        .with_timezone(&Utc);
    let skew = chrono::Duration::from_std(FUTURE_SKEW).unwrap_or_default();
    if at > now + skew {
        return Err(EventError::field(
            "at",
            "lies more than 5 minutes in the future",
        ));
    }
    let max_age = chrono::Duration::from_std(limits.max_age).unwrap_or(chrono::Duration::MAX);
    if now.signed_duration_since(at) > max_age {
        return Err(EventError::field(
            "at",
            format!(
                "is older than events.max_age ({} days)",
                limits.max_age.as_secs() / 86_400
            ),
        ));
    }
    Ok(at)
}

fn counter_name(text: &str) -> Result<String, EventError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/');
    if text.is_empty() || text.len() > COUNTER_NAME_MAX_CHARS || !text.chars().all(allowed) {
        return Err(EventError::field(
            "name",
            format!(
                "must be 1 to {COUNTER_NAME_MAX_CHARS} ASCII letters, digits, '_', '-', '.', ':' or '/'"
            ),
        ));
    }
    Ok(text.to_owned())
}

fn usage_value(value: Option<&Value>) -> Result<f64, EventError> {
    let number = match value {
        None | Some(Value::Null) => return Err(EventError::field("value", "is required")),
        Some(Value::Number(number)) => number.as_f64(),
        Some(_) => None,
    };
    number
        .filter(|v| v.is_finite() && (0.0..=USAGE_VALUE_MAX).contains(v))
        .ok_or_else(|| EventError::field("value", "must be a number from 0 to 1e15"))
}
