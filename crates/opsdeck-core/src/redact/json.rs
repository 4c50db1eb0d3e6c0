//! Redaction of JSON values in place: strings are redacted as free text, object keys too,
//! and the whole value under a secret-like key (see [`is_secret_name`]) becomes `"***"`.

use serde_json::{Map, Value};

use super::{MASK, is_secret_name, redact, redact_text};

/// Masks secrets in `value`, recursively, and returns how many were masked.
///
/// Under a secret-like key (`password`, `apiKey`, `Authorization`, `session`, …) the whole
/// value, object or array included, becomes `"***"`; `null` and `""` are kept, as they hide
/// nothing. Name/value pairs (`{"name": "DB_PASSWORD", "value": "…"}`, as in Kubernetes env
/// lists and HAR headers) have their `value` masked the same way.
pub fn redact_json(value: &mut Value) -> usize {
    match value {
        Value::String(text) => redact_string(text),
        Value::Array(items) => items.iter_mut().map(redact_json).sum(),
        Value::Object(map) => redact_object(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

fn redact_string(text: &mut String) -> usize {
    let redaction = redact(text);
    let masked = redaction.masked;
    if masked > 0 {
        *text = redaction.text.into_owned();
    }
    masked
}

fn redact_object(map: &mut Map<String, Value>) -> usize {
    let mut masked = redact_keys(map);
    // The name is judged as it will read once redacted, so a second pass agrees.
    let pair_holds_secret = ["name", "key"]
        .iter()
        .filter_map(|field| map.get(*field)?.as_str())
        .any(|name| is_secret_name(&redact_text(name)));
    for (key, value) in map.iter_mut() {
        masked += if is_secret_name(key) || (pair_holds_secret && key == "value") {
            mask_whole(value)
        } else {
            redact_json(value)
        };
    }
    masked
}

/// Redacts the keys themselves (a map keyed by e-mail address). Keys that become equal
/// get a `#2`, `#3`, … suffix so no entry is lost.
fn redact_keys(map: &mut Map<String, Value>) -> usize {
    let masked: Vec<usize> = map.keys().map(|key| redact(key).masked).collect();
    let total = masked.iter().sum();
    if total == 0 {
        return 0;
    }
    let entries = std::mem::take(map);
    for (key, value) in entries {
        let redacted = redact(&key).text.into_owned();
        let mut unique = redacted.clone();
        let mut n = 1;
        while map.contains_key(&unique) {
            n += 1;
            unique = format!("{redacted}#{n}");
        }
        map.insert(unique, value);
    }
    total
}

/// Replaces a secret value with `"***"`, unless it is empty or masked already.
fn mask_whole(value: &mut Value) -> usize {
    match value {
        Value::Null => 0,
        Value::String(text) if text.is_empty() || text == MASK => 0,
        _ => {
            *value = Value::String(MASK.to_owned());
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_masks_strings_keys_and_secret_fields() {
        let mut value = json!({
            "message": "login for a@b.io with eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "password": "hunter2",
            "apiKey": 12345,
            "headers": {"Authorization": "Bearer x", "Accept": "application/json"},
            "session": {"id": "s1", "user": "bob"},
            "reset_token": null,
            "client_secret": "",
            "attempts": [3, "card 4111 1111 1111 1111", {"PWD": ["a", "b"]}],
            "env": [{"name": "DB_PASSWORD", "value": "x"}, {"name": "RUST_LOG", "value": "info"}],
            "owners": {"x@y.io": 1, "z@y.io": 2},
            "ok": true,
        });
        let masked = redact_json(&mut value);
        let expected = json!({
            "message": "login for [email] with [jwt]",
            "password": "***",
            "apiKey": "***",
            "headers": {"Authorization": "***", "Accept": "application/json"},
            "session": "***",
            "reset_token": null,
            "client_secret": "",
            "attempts": [3, "card [card]", {"PWD": "***"}],
            "env": [{"name": "DB_PASSWORD", "value": "***"}, {"name": "RUST_LOG", "value": "info"}],
            "owners": {"[email]": 1, "[email]#2": 2},
            "ok": true,
        });
        assert_eq!(value, expected);
        assert_eq!(masked, 11);
        assert_eq!(redact_json(&mut value), 0, "a second pass masks nothing");
        assert_eq!(value, expected);
    }
}
