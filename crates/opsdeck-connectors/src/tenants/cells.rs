//! What a value read from the application's database becomes before it leaves the
//! connector: JSON, redacted, masked where configured, and error text stripped of anything
//! that could be a credential.

use opsdeck_core::redact::{MASK, is_secret_name, redact_json, truncate_redacted};
use serde_json::{Number, Value};

/// What a masked value shows. Nothing of the value is kept (not even its last characters):
/// a short code, a phone number or a name would be mostly given away by a few of them.
/// `null` stays `null`, so "not set" is still seen.
pub const MASKED: &str = MASK;

/// The longest error text shown.
const MESSAGE_LIMIT: usize = 400;

/// A number of bytes, as shown for binary values.
pub(crate) fn bytes(len: usize) -> Value {
    Value::String(format!("<{len} bytes>"))
}

/// A float as JSON; NaN and the infinities, which JSON lacks, as text.
pub(crate) fn float(value: f64) -> Value {
    Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number)
}

/// Redacts and masks one row in place: columns named in `mask` (case-insensitive) and
/// columns whose name says they hold a secret (`password`, `api_key`, `session_token`, …)
/// are masked whole; every other value but the column `keep` passes the redactor (text, and
/// the keys and strings of JSON values).
pub(crate) fn protect(columns: &[String], mask: &[String], keep: Option<&str>, row: &mut [Value]) {
    for (column, value) in columns.iter().zip(row.iter_mut()) {
        if value.is_null() || keep.is_some_and(|k| k.eq_ignore_ascii_case(column)) {
            continue;
        }
        let masked = mask.iter().any(|m| m.eq_ignore_ascii_case(column)) || is_secret_name(column);
        if masked {
            *value = Value::String(MASKED.to_owned());
        } else {
            redact_json(value);
        }
    }
}

/// A driver's message made safe to show: every secret given (the URL, its password) cut
/// out, then redacted and bounded.
pub(crate) fn safe_message(message: &str, secrets: &[&str]) -> String {
    let mut text = message.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        text = text.replace(secret, MASK);
    }
    truncate_redacted(&text, MESSAGE_LIMIT)
}
