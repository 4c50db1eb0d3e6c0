//! Loading: stacking the file, the environment and the flags over the defaults, and turning
//! every failure into a [`ConfigIssue`] that names its key path and its layer.
//!
//! Serde stops at the first error. To report them all, the loader deserializes the merged
//! TOML tree, records the error, cuts the offending value out of the tree (its default takes
//! its place) and tries again, until the tree deserializes; then it runs the semantic checks.

use std::collections::BTreeMap;
use std::path::Path;

use opsdeck_core::secret::{self, ENV_REFERENCE};
use toml::{Table, Value};

use super::env::{self, Env};
use super::error::{ConfigErrors, ConfigIssue, Origin};
use super::model::Config;
use super::path::{self, KeyPath, Removed};
use super::{Overrides, shape};

/// A successful load and what it was made of.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) config: Config,
    /// The `OPSDECK_*` variables that set keys.
    pub(crate) env_vars: Vec<String>,
}

/// Collects the layers, then builds and checks the configuration.
pub(crate) struct Builder<'a> {
    env: &'a Env,
    tree: Table,
    origins: Origins,
    issues: Vec<ConfigIssue>,
    env_vars: Vec<String>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(env: &'a Env) -> Self {
        Self {
            env,
            tree: Table::new(),
            origins: Origins::default(),
            issues: Vec::new(),
            env_vars: Vec::new(),
        }
    }

    /// Adds a TOML file. An unreadable file is reported and the other layers still checked.
    pub(crate) fn file(&mut self, file: &Path) {
        let origin = Origin::File(file.display().to_string());
        match std::fs::read_to_string(file) {
            Ok(text) => self.toml_text(&text, origin),
            Err(err) => self.issues.push(ConfigIssue::new(
                "",
                format!("cannot read the configuration file: {err}"),
                origin,
            )),
        }
    }

    /// Adds TOML text that came from `origin`.
    pub(crate) fn toml_text(&mut self, text: &str, origin: Origin) {
        match toml::from_str::<Table>(text) {
            Ok(table) => {
                self.origins.record(&KeyPath::default(), &table, &origin);
                merge(&mut self.tree, table);
            }
            Err(err) => {
                self.issues
                    .push(ConfigIssue::new("", syntax_error(text, &err), origin));
            }
        }
    }

    /// Adds the `OPSDECK_*` variables.
    pub(crate) fn env_vars(&mut self) {
        let (entries, issues) = env::entries(self.env);
        self.issues.extend(issues);
        for entry in entries {
            path::insert(&mut self.tree, &entry.keys, entry.value);
            self.origins
                .set(&KeyPath::keys(&entry.keys), Origin::Env(entry.var.clone()));
            self.env_vars.push(entry.var);
        }
    }

    /// Deserializes, applies the flags, checks, and returns the configuration or every
    /// problem found on the way.
    pub(crate) fn finish(mut self, overrides: &Overrides) -> Result<Loaded, ConfigErrors> {
        let misplaced = shape::misplaced_tables(&self.tree, &shape::default_shape());
        let mut root = Value::Table(std::mem::take(&mut self.tree));
        for (path, found) in misplaced {
            self.issue(&path, format!("expected a table ([{path}]), found {found}"));
            path::remove(&mut root, &path);
        }
        let references = self.references(&root);
        let mut config = secret::with_references(references, || self.deserialize(root));
        self.apply(overrides, &mut config);
        for (key, message) in config.problems() {
            let origin = self.origins.of_str(&key);
            self.issues.push(ConfigIssue::new(key, message, origin));
        }
        match ConfigErrors::from_issues(self.issues) {
            Some(errors) => Err(errors),
            None => Ok(Loaded {
                config,
                env_vars: self.env_vars,
            }),
        }
    }

    fn issue(&mut self, path: &KeyPath, message: String) {
        let origin = self.origins.of(path);
        self.issues
            .push(ConfigIssue::new(path.to_string(), message, origin));
    }

    /// Deserializes, cutting out each value that fails until the rest goes through.
    fn deserialize(&mut self, mut root: Value) -> Config {
        let mut removed = Removed::default();
        loop {
            let err = match serde_path_to_error::deserialize::<_, Config>(root.clone()) {
                Ok(config) => return config,
                Err(err) => err,
            };
            let current = KeyPath::from_serde(err.path());
            let original = removed.original(&current);
            self.issue(&original, humanize(err.inner().message()));
            if !path::remove(&mut root, &current) {
                // Nothing left to cut: the issue is recorded, so the load fails anyway.
                return Config::default();
            }
            removed.push(original);
        }
    }

    /// The set variables that `env:` references in the tree name.
    fn references(&self, root: &Value) -> BTreeMap<String, String> {
        fn walk(value: &Value, env: &Env, out: &mut BTreeMap<String, String>) {
            match value {
                Value::String(text) => {
                    if let Some(name) = text.strip_prefix(ENV_REFERENCE)
                        && let Some(found) = env.get(name)
                    {
                        out.insert(name.to_owned(), found.to_owned());
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| walk(item, env, out)),
                Value::Table(table) => table.values().for_each(|item| walk(item, env, out)),
                _ => {}
            }
        }
        let mut out = BTreeMap::new();
        walk(root, self.env, &mut out);
        out
    }

    /// Applies the command-line flags, the last layer.
    fn apply(&mut self, overrides: &Overrides, config: &mut Config) {
        if let Some(listen) = overrides.listen {
            config.server.listen = listen;
            self.origins
                .set_str("server.listen", Origin::Flag("--listen".to_owned()));
        }
        if let Some(raw) = &overrides.database_url {
            let origin = Origin::Flag("--database-url".to_owned());
            match secret::resolve(raw, |name| self.env.get(name).map(str::to_owned)) {
                Ok(url) => config.database.url = url,
                Err(message) => {
                    self.issues
                        .push(ConfigIssue::new("database.url", message, origin.clone()))
                }
            }
            self.origins.set_str("database.url", origin);
        }
        if let Some(format) = overrides.log_format {
            config.log.format = format;
            self.origins
                .set_str("log.format", Origin::Flag("--log-format".to_owned()));
        }
    }
}

/// Deep-merges `layer` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut Table, layer: Table) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(inner)), Value::Table(layer)) => merge(inner, layer),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// A TOML syntax error with its line and column. Not the parser's own rendering: that quotes
/// the source line, which may hold a secret.
fn syntax_error(text: &str, err: &toml::de::Error) -> String {
    let position = err
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(" at line {line}, column {column}")
        });
    format!(
        "TOML syntax error{}: {}",
        position.unwrap_or_default(),
        err.message()
    )
}

/// Rewords serde's unknown-field message (``unknown field `listne`, expected one of
/// `listen`, …``) in the configuration's terms; other messages pass through.
fn humanize(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_owned();
    };
    match rest.split_once("`, ") {
        Some((_, "there are no fields")) => "unknown key; this table takes no keys".to_owned(),
        Some((_, expected)) => format!("unknown key; {}", expected.replace('`', "")),
        None => message.to_owned(),
    }
}

/// Which layer set each key path (paths printed, e.g. `server.listen`).
#[derive(Debug, Default)]
struct Origins(BTreeMap<String, Origin>);

impl Origins {
    /// Records every key of a file's table.
    fn record(&mut self, prefix: &KeyPath, table: &Table, origin: &Origin) {
        for (key, value) in table {
            let path = prefix.child(key);
            self.0.insert(path.to_string(), origin.clone());
            if let Value::Table(inner) = value {
                self.record(&path, inner, origin);
            }
        }
    }

    /// Records that `path` was replaced as a whole by a higher layer.
    fn set(&mut self, path: &KeyPath, origin: Origin) {
        let printed = path.to_string();
        self.0.retain(|key, _| {
            !key.strip_prefix(printed.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '[']))
        });
        // Tables created on the way belong to this layer unless a lower one made them.
        for len in 1..path.0.len() {
            self.0
                .entry(path.prefix(len).to_string())
                .or_insert_with(|| origin.clone());
        }
        self.0.insert(printed, origin);
    }

    fn set_str(&mut self, dotted: &str, origin: Origin) {
        self.set(
            &KeyPath::keys(&dotted.split('.').collect::<Vec<_>>()),
            origin,
        );
    }

    /// The layer of the closest recorded ancestor of `path` (itself included).
    fn of(&self, path: &KeyPath) -> Origin {
        (0..=path.0.len())
            .rev()
            .find_map(|len| self.0.get(&path.prefix(len).to_string()))
            .cloned()
            .unwrap_or(Origin::Default)
    }

    fn of_str(&self, dotted: &str) -> Origin {
        self.of(&KeyPath::keys(&dotted.split('.').collect::<Vec<_>>()))
    }
}
