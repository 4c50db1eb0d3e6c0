//! The environment layer: the injected set of variables ([`Env`]) and how `OPSDECK_*` names
//! map onto key paths.
//!
//! Every key can be set as `OPSDECK_<SECTION>__<KEY>` (case-insensitive); a few have short
//! well-known names. Values are strings, converted to the type the key's default has, so
//! numbers, booleans and comma-separated lists work without TOML quoting.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Shape;
use toml::Value;

use super::error::{ConfigIssue, Origin};
use super::path::KeyPath;
use super::shape;

/// Short names for the most used keys: (variable, section, key).
const WELL_KNOWN: [(&str, &str, &str); 5] = [
    ("OPSDECK_LISTEN", "server", "listen"),
    ("OPSDECK_DATABASE_URL", "database", "url"),
    ("OPSDECK_METRICS_TOKEN", "metrics", "token"),
    ("OPSDECK_LOG_FORMAT", "log", "format"),
    ("OPSDECK_LOG", "log", "level"),
];

const PREFIX: &str = "OPSDECK_";
const SEPARATOR: &str = "__";

/// The environment variables a load sees. Injected, so tests never touch the process
/// environment. `Debug` lists names only: values may be secrets.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// A snapshot of the process environment. Variables whose name or value is not UTF-8
    /// are left out: no key or `env:` reference can use them.
    pub fn from_process() -> Self {
        std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect()
    }

    /// The value of `name` (exact, case-sensitive like the process environment).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for Env {
    fn from(vars: [(K, V); N]) -> Self {
        vars.into_iter().collect()
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

/// The variable that sets `key_path` (`"server.listen"` → `OPSDECK_LISTEN`,
/// `"server.request_timeout"` → `OPSDECK_SERVER__REQUEST_TIMEOUT`).
pub fn env_var_name(key_path: &str) -> String {
    let keys: Vec<&str> = key_path.split('.').collect();
    WELL_KNOWN
        .iter()
        .find(|(_, section, key)| keys == [*section, *key])
        .map(|(name, _, _)| (*name).to_owned())
        .unwrap_or_else(|| {
            format!(
                "{PREFIX}{}",
                key_path.replace('.', SEPARATOR).to_uppercase()
            )
        })
}

/// One variable mapped onto a key path.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) var: String,
    pub(crate) keys: Vec<String>,
    pub(crate) value: Value,
}

/// The `OPSDECK_*` variables that set keys, and the problems with their names. Unknown keys
/// are not detected here: deserialization reports them like a file's, naming the variable.
pub(crate) fn entries(env: &Env) -> (Vec<Entry>, Vec<ConfigIssue>) {
    let shape = shape::default_shape();
    let mut entries: Vec<Entry> = Vec::new();
    let mut issues = Vec::new();
    for (var, raw) in &env.vars {
        let Some(keys) = keys_of(var) else {
            continue;
        };
        if keys.iter().any(String::is_empty) {
            issues.push(ConfigIssue::new(
                "",
                "malformed name; expected OPSDECK_<SECTION>__<KEY>, e.g. OPSDECK_SERVER__REQUEST_TIMEOUT",
                Origin::Env(var.clone()),
            ));
            continue;
        }
        // Two variables for one key (or for a key and a key inside it): refuse to guess.
        if let Some(other) = entries.iter().find(|e| overlaps(&e.keys, &keys)) {
            issues.push(ConfigIssue::new(
                KeyPath::keys(&keys).to_string(),
                format!("also set by {}; set only one of them", other.var),
                Origin::Env(var.clone()),
            ));
            continue;
        }
        let value = coerce(raw, shape::lookup(&shape, &keys));
        entries.push(Entry {
            var: var.clone(),
            keys,
            value,
        });
    }
    (entries, issues)
}

/// The key path a variable sets, or `None` for a variable that is not ours to read
/// (no `OPSDECK_` prefix, or an `OPSDECK_*` name without `__` that is not well-known).
fn keys_of(var: &str) -> Option<Vec<String>> {
    let upper = var.to_ascii_uppercase();
    if let Some((_, section, key)) = WELL_KNOWN.iter().find(|(name, _, _)| *name == upper) {
        return Some(vec![(*section).to_owned(), (*key).to_owned()]);
    }
    let rest = upper.strip_prefix(PREFIX)?;
    rest.contains(SEPARATOR)
        .then(|| rest.split(SEPARATOR).map(str::to_ascii_lowercase).collect())
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    let common = a.len().min(b.len());
    a[..common] == b[..common]
}

/// Converts an environment string to the TOML type of the key's default; a value that does
/// not convert stays a string, so deserialization reports the type error with its path.
/// A key without a default (an unset optional, `null` in the shape) takes the string as is:
/// guessing a number there would turn a numeric token into an integer.
fn coerce(raw: &str, shape: Option<&Shape>) -> Value {
    let text = raw.trim();
    match shape {
        Some(Shape::Array(_)) if text.is_empty() => Value::Array(Vec::new()),
        Some(Shape::Array(items)) => Value::Array(
            text.split(',')
                .map(|item| coerce(item.trim(), items.first()))
                .collect(),
        ),
        Some(Shape::Number(n)) if n.is_f64() => text
            .parse()
            .map_or_else(|_| Value::String(raw.to_owned()), Value::Float),
        Some(Shape::Number(_)) => text
            .parse()
            .map_or_else(|_| Value::String(raw.to_owned()), Value::Integer),
        Some(Shape::Bool(_)) => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            _ => Value::String(raw.to_owned()),
        },
        _ => Value::String(raw.to_owned()),
    }
}
