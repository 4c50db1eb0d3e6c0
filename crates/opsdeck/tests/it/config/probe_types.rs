//! The registry of probe types is complete: every type it lists is documented by an example
//! in `opsdeck.example.toml` that becomes a probe of that type, masks the secrets it was
//! given and shows its target without them; and every type answers for its keys: a key of
//! another type (or of none) is refused at its key path, and a required key left out is
//! asked for at its key path. A type added to the list without all of that fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use opsdeck_connectors::health::{PROBE_TYPES, RegisteredType};
use opsdeck_server::config::{Config, ConfigErrors, Env};

use super::EXAMPLE;

/// One commented-out `[[health.checks]]` example of the example file.
struct Documented {
    kind: String,
    /// The entry as TOML, uncommented.
    text: String,
}

/// The `[[health.checks]]` examples of the example file, in order.
fn documented() -> Vec<Documented> {
    let mut out = Vec::new();
    let mut lines = EXAMPLE.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() != "# [[health.checks]]" {
            continue;
        }
        let mut text = String::from("[[health.checks]]\n");
        while let Some(body) = lines.peek().and_then(|l| l.strip_prefix("# ")) {
            text.push_str(body);
            text.push('\n');
            lines.next();
        }
        let table: toml::Table = toml::from_str(&text).expect("an example is TOML");
        let kind = table["health"]["checks"][0]["type"]
            .as_str()
            .expect("an example has a type")
            .to_owned();
        out.push(Documented { kind, text });
    }
    out
}

/// Every `env:NAME` and `file:/path` reference of an example, with what the test makes it
/// resolve to: an environment variable, or a file in `dir` standing in for the path. Each
/// value is shaped like a URL with a password (`https://user:pw-of-NAME@…`), so it passes
/// for whatever secret the key holds; the password part is what must never be shown.
struct References {
    env: Env,
    text: String,
    /// (value, its password part).
    values: Vec<(String, String)>,
}

fn stand_in(name: &str) -> (String, String) {
    let password = format!("pw-of-{name}");
    (format!("https://user:{password}@secret.invalid/"), password)
}

fn resolve_references(text: &str, dir: &Path) -> References {
    let mut vars = Vec::new();
    let mut values = Vec::new();
    let mut out = text.to_owned();
    for quoted in text.split('"').skip(1).step_by(2) {
        if let Some(name) = quoted.strip_prefix("env:") {
            let (value, password) = stand_in(name);
            vars.push((name.to_owned(), value.clone()));
            values.push((value, password));
        } else if let Some(path) = quoted.strip_prefix("file:") {
            let name = Path::new(path).file_name().expect("a file name");
            let (value, password) = stand_in(&name.to_string_lossy());
            let file = dir.join(name);
            std::fs::write(&file, format!("{value}\n")).expect("write secret file");
            out = out.replace(quoted, &format!("file:{}", file.display()));
            values.push((value, password));
        }
    }
    References {
        env: vars.into_iter().collect(),
        text: out,
        values,
    }
}

fn parse_with(text: &str, env: &Env) -> Result<Config, ConfigErrors> {
    Config::from_toml_str(text, "test.toml", env)
}

/// A directory for secret files, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "opsdeck-probe-types-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The example of `registered`, or a failure saying it is missing.
fn example_of(registered: &RegisteredType) -> Documented {
    documented()
        .into_iter()
        .find(|example| example.kind == registered.name())
        .unwrap_or_else(|| {
            panic!(
                "opsdeck.example.toml has no [[health.checks]] example of type \"{}\"",
                registered.name()
            )
        })
}

#[test]
fn the_registry_lists_each_type_once_with_its_keys() {
    let names: BTreeSet<&str> = PROBE_TYPES.iter().map(RegisteredType::name).collect();
    assert_eq!(names.len(), PROBE_TYPES.len(), "a type is listed twice");
    for registered in PROBE_TYPES {
        assert!(
            !registered.keys().is_empty(),
            "{} lists no keys: is its struct a plain serde struct?",
            registered.name()
        );
        for common in [
            "name",
            "type",
            "interval",
            "timeout",
            "critical",
            "warn_latency",
        ] {
            assert!(
                !registered.keys().contains(&common),
                "{} redefines the common key {common}",
                registered.name()
            );
        }
    }
}

#[test]
fn every_type_is_documented_and_its_example_becomes_its_probe() {
    let kinds: Vec<String> = documented().into_iter().map(|d| d.kind).collect();
    for kind in &kinds {
        assert!(
            RegisteredType::find(kind).is_some(),
            "the example documents a type \"{kind}\" that is not registered"
        );
    }
    for registered in PROBE_TYPES {
        let example = example_of(registered);
        let dir = Dir::new();
        let refs = resolve_references(&example.text, &dir.0);
        let config = parse_with(&refs.text, &refs.env)
            .unwrap_or_else(|errors| panic!("{}:\n{errors}\n{}", registered.name(), refs.text));
        let specs = config.health.specs().expect("valid specs");
        let described = specs[0].probe.describe();
        assert_eq!(described.kind, registered.name());
        // Every secret it was given is masked in output, and no password is shown.
        let shown = format!("{} {config:?}", described.target);
        for (value, password) in &refs.values {
            assert!(
                described.secrets.contains(&value.as_str()),
                "{} does not list the secret {value:?} among those to mask",
                registered.name()
            );
            assert!(
                !shown.contains(password.as_str()),
                "{password:?} in: {shown}"
            );
        }
        // What it was written with is what it takes.
        let written: toml::Table = toml::from_str(&example.text).expect("TOML");
        let entry = written["health"]["checks"][0].as_table().expect("a table");
        for key in entry.keys() {
            let common = [
                "name",
                "type",
                "interval",
                "timeout",
                "critical",
                "warn_latency",
            ];
            assert!(
                common.contains(&key.as_str()) || registered.keys().contains(&key.as_str()),
                "{}: {key} is not among its keys {:?}",
                registered.name(),
                registered.keys()
            );
        }
    }
}

#[test]
fn every_type_refuses_a_key_it_does_not_take_at_its_key_path() {
    let every_key: BTreeSet<&str> = PROBE_TYPES
        .iter()
        .flat_map(|registered| registered.keys().iter().copied())
        .chain(["no_type_takes_this"])
        .collect();
    for registered in PROBE_TYPES {
        let example = example_of(registered);
        let dir = Dir::new();
        let refs = resolve_references(&example.text, &dir.0);
        for key in every_key
            .iter()
            .filter(|key| !registered.keys().contains(key))
        {
            let text = format!("{}{key} = \"x\"\n", refs.text);
            let errors = parse_with(&text, &refs.env)
                .err()
                .unwrap_or_else(|| panic!("{} accepted {key}", registered.name()));
            let path = format!("health.checks[0].{key}");
            let issues = errors.issues();
            assert_eq!(
                issues.iter().map(|i| i.path.as_str()).collect::<Vec<_>>(),
                [path.as_str()],
                "{}: {errors}",
                registered.name()
            );
            let expected = if key == &"no_type_takes_this" {
                "unknown key".to_owned()
            } else {
                format!("not used by a {} check", registered.name())
            };
            assert!(issues[0].message.contains(&expected), "{errors}");
        }
    }
}

#[test]
fn every_type_asks_for_its_required_keys_at_their_key_paths() {
    for registered in PROBE_TYPES {
        let text = format!(
            "[[health.checks]]\nname = \"bare\"\ntype = \"{}\"\n",
            registered.name()
        );
        let Err(errors) = parse_with(&text, &Env::default()) else {
            continue;
        };
        for issue in errors.issues() {
            let key = issue
                .path
                .strip_prefix("health.checks[0].")
                .unwrap_or_else(|| panic!("{}: {errors}", registered.name()));
            assert!(registered.keys().contains(&key), "{errors}");
            assert!(
                issue
                    .message
                    .contains(&format!("required for a {} check", registered.name())),
                "{errors}"
            );
        }
    }
}
