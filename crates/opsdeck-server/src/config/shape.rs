//! The shape of the schema, read from the serialized defaults rather than written down a
//! second time: which keys exist, which are tables, and the type of each default. A new
//! section or key is picked up from its struct alone.
//!
//! JSON is the carrier because it keeps unset optional keys (as `null`) where TOML drops them.

use serde_json::Value as Shape;
use toml::{Table, Value};

use super::model::Config;
use super::path::KeyPath;

/// `Config::default()` as JSON (secrets appear as `***`).
pub(crate) fn default_shape() -> Shape {
    // Serializing plain structs, strings and numbers to a JSON value cannot fail.
    serde_json::to_value(Config::default()).unwrap_or(Shape::Null)
}

/// The default at `keys`, if the schema has that key.
pub(crate) fn lookup<'s>(shape: &'s Shape, keys: &[String]) -> Option<&'s Shape> {
    keys.iter().try_fold(shape, |node, key| node.get(key))
}

/// Every key path of the schema (`server.listen`, …, `metrics.token`).
pub(crate) fn key_paths(shape: &Shape) -> Vec<String> {
    fn walk(node: &Shape, prefix: &KeyPath, out: &mut Vec<String>) {
        match node {
            Shape::Object(fields) => {
                for (key, value) in fields {
                    walk(value, &prefix.child(key), out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(shape, &KeyPath::default(), &mut out);
    out
}

/// Values that must be tables but are not (`[[server]]` or `server = 5` for `[server]`),
/// with what was found instead. Serde would name a Rust struct, or accept a struct from an
/// array and complain about its first element.
pub(crate) fn misplaced_tables(tree: &Table, shape: &Shape) -> Vec<(KeyPath, &'static str)> {
    fn walk(
        table: &Table,
        shape: &Shape,
        prefix: &KeyPath,
        out: &mut Vec<(KeyPath, &'static str)>,
    ) {
        for (key, value) in table {
            let Some(expected @ Shape::Object(_)) = shape.get(key) else {
                continue;
            };
            match value {
                Value::Table(inner) => walk(inner, expected, &prefix.child(key), out),
                Value::Array(_) => out.push((prefix.child(key), "an array")),
                Value::String(_) => out.push((prefix.child(key), "a string")),
                Value::Integer(_) | Value::Float(_) => out.push((prefix.child(key), "a number")),
                Value::Boolean(_) => out.push((prefix.child(key), "a boolean")),
                Value::Datetime(_) => out.push((prefix.child(key), "a date-time")),
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, shape, &KeyPath::default(), &mut out);
    out
}
