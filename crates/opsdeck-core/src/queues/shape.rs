//! A payload reduced to the shapes of its top-level keys: enough to see what a job carried
//! (`amount: number`, `items: array of 3`, `customer: object with 4 keys`) without showing a
//! value, which may be tenant data or a secret.

use serde::{Deserialize, Serialize};

use crate::redact::redact_text;

/// Top-level keys shown at most; the rest are counted.
pub const PAYLOAD_KEYS_MAX: usize = 50;
/// Longest key name shown.
const KEY_MAX_CHARS: usize = 64;

/// The shape of a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadShape {
    /// `(key, shape)` in the payload's order; for a payload that is not an object, one entry
    /// with an empty key.
    pub keys: Vec<(String, String)>,
    /// Keys left out past [`PAYLOAD_KEYS_MAX`].
    pub more: usize,
}

/// The shape of one value: its type and size, never its content.
fn shape_of(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "boolean".to_owned(),
        Value::Number(_) => "number".to_owned(),
        Value::String(text) => format!("string ({} chars)", text.chars().count()),
        Value::Array(items) => format!("array of {}", items.len()),
        Value::Object(map) => format!("object with {} keys", map.len()),
    }
}

/// The shape of `payload`. Key names are kept (they say what the job is about) but pass the
/// redactor and are cut short, since an application can put anything in a key.
pub fn payload_shape(payload: &serde_json::Value) -> PayloadShape {
    let Some(map) = payload.as_object() else {
        return PayloadShape {
            keys: vec![(String::new(), shape_of(payload))],
            more: 0,
        };
    };
    let keys = map
        .iter()
        .take(PAYLOAD_KEYS_MAX)
        .map(|(key, value)| {
            let key: String = key.chars().take(KEY_MAX_CHARS).collect();
            (redact_text(&key).into_owned(), shape_of(value))
        })
        .collect();
    PayloadShape {
        keys,
        more: map.len().saturating_sub(PAYLOAD_KEYS_MAX),
    }
}
