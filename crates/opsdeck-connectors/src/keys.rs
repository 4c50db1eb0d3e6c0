//! Turning the keys of one configuration entry (a `[[health.checks]]` probe, a
//! `[[queues.sources]]` system) into its type's struct, with every problem reported at its
//! key path, and reading which keys a type takes from its struct.
//!
//! Serde stops at the first error. As the configuration loader does for the whole file,
//! [`parse`] records the error, cuts the offending value out (its default takes its place)
//! and tries again, until the keys deserialize; then the type's own rules run. A required
//! key left out is reported and stood in for by an empty string, so the rules still run on
//! the other keys (their verdicts on the stand-in itself are dropped). Secrets among
//! the keys resolve their `env:`/`file:` references as they deserialize, so parsing happens
//! while the configuration loads.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Value};

/// Problems of one entry's keys: (key path within the entry, such as `url` or
/// `headers.X-Token`, and what is wrong). Messages never quote a secret.
pub type Problems = Vec<(String, String)>;

/// What kind of entry a type's keys make, for the messages.
pub(crate) struct Entry {
    /// `check`, `source`: what the entries of the list are called.
    pub kind: &'static str,
    /// The `type` value.
    pub type_name: &'static str,
    /// Whether another type of the same list takes `key`.
    pub taken_elsewhere: fn(&str) -> bool,
}

/// `keys` as a `P`, or every problem found in them; `validate` is the type's own rules
/// between its keys.
pub(crate) fn parse<P: DeserializeOwned>(
    keys: Map<String, Value>,
    entry: &Entry,
    validate: fn(&P) -> Problems,
) -> Result<P, Problems> {
    let mut tree = Value::Object(keys);
    let mut problems = Problems::new();
    let mut stand_ins = BTreeSet::new();
    loop {
        let err = match serde_path_to_error::deserialize::<_, P>(&tree) {
            Ok(probe) => {
                problems.extend(
                    validate(&probe)
                        .into_iter()
                        .filter(|(key, _)| !stand_ins.contains(root_key(key))),
                );
                return if problems.is_empty() {
                    Ok(probe)
                } else {
                    Err(problems)
                };
            }
            Err(err) => err,
        };
        let path: Vec<Step> = err.path().iter().map(Step::of).collect();
        let message = err.inner().to_string();
        if let Some(key) = missing_field(&message) {
            problems.push((
                key.to_owned(),
                format!("required for a {} {}", entry.type_name, entry.kind),
            ));
            if !stand_ins.insert(key.to_owned()) {
                return Err(problems);
            }
            if let Value::Object(map) = &mut tree {
                map.insert(key.to_owned(), Value::String(String::new()));
            }
            continue;
        }
        if let Some(Step::Key(key)) = path.first()
            && stand_ins.contains(key)
        {
            // The key is not a string: it is reported as required already.
            return Err(problems);
        }
        let message = match (path.as_slice(), unknown_field(&message)) {
            ([Step::Key(key)], Some(_)) => not_used::<P>(key, entry),
            _ => message,
        };
        problems.push((display(&path), message));
        if !remove(&mut tree, &path) {
            return Err(problems);
        }
    }
}

/// The keys `P` takes: the fields of its struct, in their order.
pub(crate) fn field_names<P: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The derived impl hands its field list to `deserialize_struct`; the introspector keeps
    // it and stops there.
    let _ = P::deserialize(Introspect(&mut fields));
    fields
}

/// Why a key is refused: it belongs to another type, or to none.
fn not_used<P: DeserializeOwned>(key: &str, entry: &Entry) -> String {
    let takes = field_names::<P>().join(", ");
    let (kind, type_name) = (entry.kind, entry.type_name);
    if (entry.taken_elsewhere)(key) {
        format!("not used by a {type_name} {kind}; it takes {takes}")
    } else {
        format!("unknown key; besides the keys of every {kind}, a {type_name} {kind} takes {takes}")
    }
}

/// `headers` of `headers.X-Token`.
fn root_key(key: &str) -> &str {
    key.split(['.', '[']).next().unwrap_or(key)
}

/// The field of serde's "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split_once('`')
        .map(|(field, _)| field)
}

/// The field of serde's "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")?
        .split_once('`')
        .map(|(field, _)| field)
}

/// One step of a key path within an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn of(segment: &serde_path_to_error::Segment) -> Self {
        use serde_path_to_error::Segment as S;
        match segment {
            S::Seq { index } => Self::Index(*index),
            S::Map { key } => Self::Key(key.clone()),
            S::Enum { variant } => Self::Key(variant.clone()),
            // Not a real key: cutting it fails, which ends the retries.
            S::Unknown => Self::Key("?".to_owned()),
        }
    }
}

/// `headers.X-Token`, `items[2]`.
fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) if out.is_empty() => out.push_str(key),
            Step::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// Removes the value at `path`; false if there is none (then nothing changed).
fn remove(root: &mut Value, path: &[Step]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = root;
    for step in parents {
        let next = match (node, step) {
            (Value::Object(map), Step::Key(key)) => map.get_mut(key),
            (Value::Array(items), Step::Index(index)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(child) => node = child,
            None => return false,
        }
    }
    match (node, last) {
        (Value::Object(map), Step::Key(key)) => map.remove(key).is_some(),
        (Value::Array(items), Step::Index(index)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

/// A deserializer that only records the field list of the struct asked of it.
struct Introspect<'a>(&'a mut &'static [&'static str]);

/// Ends an introspection; never shown.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("introspection only")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self
    }
}

impl<'de> de::Deserializer<'de> for Introspect<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// What an entry's keys show when the configuration is serialized (secrets as `***`).
pub trait Settings {
    fn settings(&self) -> Map<String, Value>;
}

/// The `type` of a configuration entry and its own keys, parsed by the type's module as the
/// configuration loads (so secrets among them resolve then): the parsed object, or the
/// problems of those keys, reported when the configuration is validated with every other
/// problem of the file.
pub struct Configured<T: ?Sized> {
    type_name: String,
    parsed: Result<std::sync::Arc<T>, Problems>,
}

/// Clones share the parsed object.
impl<T: ?Sized> Clone for Configured<T> {
    fn clone(&self) -> Self {
        Self {
            type_name: self.type_name.clone(),
            parsed: self.parsed.clone(),
        }
    }
}

impl<T: ?Sized> Configured<T> {
    pub(crate) fn new(type_name: &str, parsed: Result<std::sync::Arc<T>, Problems>) -> Self {
        Self {
            type_name: type_name.to_owned(),
            parsed,
        }
    }

    /// The `type` as written.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The parsed object, or the problems of its keys as (key within the entry, message).
    pub fn get(&self) -> Result<&std::sync::Arc<T>, &Problems> {
        self.parsed.as_ref()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Configured<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Configured");
        out.field("type", &self.type_name);
        match &self.parsed {
            Ok(parsed) => out.field("parsed", parsed),
            Err(problems) => out.field("problems", problems),
        };
        out.finish()
    }
}

/// `type` and the settings that apply (secrets as `***`); nothing more for keys that did not
/// parse, whose values may be secrets that never reached a `Secret`.
impl<T: ?Sized + Settings> serde::Serialize for Configured<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let settings = match &self.parsed {
            Ok(parsed) => parsed.settings(),
            Err(_) => Map::new(),
        };
        let mut map = serializer.serialize_map(Some(settings.len() + 1))?;
        map.serialize_entry("type", &self.type_name)?;
        for (key, value) in &settings {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}
