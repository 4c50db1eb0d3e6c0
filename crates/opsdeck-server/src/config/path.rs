//! Key paths (`server.trusted_proxies[1]`): how they print, and the edits the loader makes to
//! the raw TOML tree by path (insert an environment value, cut out a value that failed).

use std::fmt;

use toml::{Table, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A path from the root of the configuration to a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub(crate) Vec<Segment>);

impl KeyPath {
    /// A path of table keys only.
    pub(crate) fn keys<S: AsRef<str>>(keys: &[S]) -> Self {
        Self(
            keys.iter()
                .map(|k| Segment::Key(k.as_ref().to_owned()))
                .collect(),
        )
    }

    /// The path serde was at when it failed.
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment as S;
        Self(
            path.iter()
                .map(|segment| match segment {
                    S::Seq { index } => Segment::Index(*index),
                    S::Map { key } => Segment::Key(key.clone()),
                    S::Enum { variant } => Segment::Key(variant.clone()),
                    // Not a real key: cutting it out of the tree fails, which ends the retries.
                    S::Unknown => Segment::Key("?".to_owned()),
                })
                .collect(),
        )
    }

    /// The first `len` segments.
    pub(crate) fn prefix(&self, len: usize) -> Self {
        Self(self.0[..len.min(self.0.len())].to_vec())
    }

    /// This path extended by one key.
    pub(crate) fn child(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    // Quote keys that would be ambiguous in a dotted path, as TOML does.
                    let bare = !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn child_mut<'v>(value: &'v mut Value, segment: &Segment) -> Option<&'v mut Value> {
    match (value, segment) {
        (Value::Table(table), Segment::Key(key)) => table.get_mut(key),
        (Value::Array(items), Segment::Index(index)) => items.get_mut(*index),
        _ => None,
    }
}

/// Removes the value at `path`; false if there is none (then nothing changed).
pub(crate) fn remove(root: &mut Value, path: &KeyPath) -> bool {
    let Some((last, parents)) = path.0.split_last() else {
        return false;
    };
    let mut node = root;
    for segment in parents {
        match child_mut(node, segment) {
            Some(child) => node = child,
            None => return false,
        }
    }
    match (node, last) {
        (Value::Table(table), Segment::Key(key)) => table.remove(key).is_some(),
        (Value::Array(items), Segment::Index(index)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

/// Sets `keys` to `value`, creating tables on the way and replacing non-tables in the way
/// (the layer being inserted has precedence over what it replaces).
pub(crate) fn insert(root: &mut Table, keys: &[String], value: Value) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut table = root;
    for key in parents {
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else {
            return;
        };
        table = next;
    }
    table.insert(last.clone(), value);
}

/// The values cut out of the tree so far, in the tree's original coordinates: removing an
/// array element shifts the indices after it, and reports must name the index the user wrote.
#[derive(Debug, Default)]
pub(crate) struct Removed(Vec<KeyPath>);

impl Removed {
    /// Translates a path in the current (cut) tree to the original tree.
    pub(crate) fn original(&self, current: &KeyPath) -> KeyPath {
        let mut original = KeyPath::default();
        for segment in &current.0 {
            let segment = match segment {
                Segment::Index(index) => {
                    let depth = original.0.len();
                    let mut gone: Vec<usize> = self
                        .0
                        .iter()
                        .filter(|p| p.0.len() == depth + 1 && p.prefix(depth) == original)
                        .filter_map(|p| match p.0.last() {
                            Some(Segment::Index(i)) => Some(*i),
                            _ => None,
                        })
                        .collect();
                    gone.sort_unstable();
                    let shifted = gone
                        .iter()
                        .fold(*index, |at, i| if *i <= at { at + 1 } else { at });
                    Segment::Index(shifted)
                }
                key @ Segment::Key(_) => key.clone(),
            };
            original.0.push(segment);
        }
        original
    }

    /// Records that the value at `original` (original coordinates) was cut out.
    pub(crate) fn push(&mut self, original: KeyPath) {
        self.0.push(original);
    }
}
