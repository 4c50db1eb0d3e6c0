//! The one list of probe types ([`PROBE_TYPES`]) and what a `[[health.checks]]` entry's
//! `type` and own keys become ([`ProbeConfig`]).
//!
//! The server's configuration reads the keys every check has (name, interval, …) and hands
//! the `type` and all other keys here; the type's module decides what they mean.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Probe, ProbeType, Problems, disk, filesystem, http, postgres, redis, s3, sqlite, tcp, tls,
};
use crate::keys::{self, Configured, Entry, Settings};

/// Every probe type `[[health.checks]]` accepts, in the order the documentation lists them.
/// Adding a type: its module, and its line here.
pub static PROBE_TYPES: &[RegisteredType] = &[
    RegisteredType::of::<postgres::Postgres>(),
    RegisteredType::of::<sqlite::Sqlite>(),
    RegisteredType::of::<redis::Redis>(),
    RegisteredType::of::<http::Http>(),
    RegisteredType::of::<tcp::Tcp>(),
    RegisteredType::of::<s3::S3>(),
    RegisteredType::of::<filesystem::Filesystem>(),
    RegisteredType::of::<disk::Disk>(),
    RegisteredType::of::<tls::Tls>(),
];

/// A probe, or the problems of the keys it was to be made of.
type Parsed = Result<Arc<dyn Probe>, Problems>;

/// A probe type as listed: its `type` name, the keys it takes and how they become a probe.
#[derive(Clone, Copy)]
pub struct RegisteredType {
    name: &'static str,
    keys: fn() -> &'static [&'static str],
    parse: fn(Map<String, Value>) -> Parsed,
}

impl RegisteredType {
    const fn of<P: ProbeType>() -> Self {
        Self {
            name: P::TYPE,
            keys: keys::field_names::<P>,
            parse: parse_as::<P>,
        }
    }

    /// The `type` value.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The keys this type takes besides those of every check.
    pub fn keys(&self) -> &'static [&'static str] {
        (self.keys)()
    }

    /// `keys` (an entry's keys besides those of every check) as a probe of this type.
    pub fn parse(&self, keys: Map<String, Value>) -> Parsed {
        (self.parse)(keys)
    }

    /// The listed type named `name`.
    pub fn find(name: &str) -> Option<&'static Self> {
        PROBE_TYPES.iter().find(|entry| entry.name == name)
    }
}

impl fmt::Debug for RegisteredType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredType")
            .field("name", &self.name)
            .field("keys", &self.keys())
            .finish()
    }
}

fn parse_as<P: ProbeType>(keys: Map<String, Value>) -> Parsed {
    let entry = Entry {
        kind: "check",
        type_name: P::TYPE,
        taken_elsewhere: |key| PROBE_TYPES.iter().any(|other| other.keys().contains(&key)),
    };
    keys::parse::<P>(keys, &entry, P::validate).map(|probe| Arc::new(probe) as Arc<dyn Probe>)
}

/// The `type` of a `[[health.checks]]` entry and its own keys: the probe, or the problems of
/// those keys.
pub type ProbeConfig = Configured<dyn Probe>;

impl Settings for dyn Probe {
    fn settings(&self) -> Map<String, Value> {
        Probe::settings(self)
    }
}

impl ProbeConfig {
    /// `keys` (every key of the entry besides those of every check) as a `type_name` check.
    pub fn parse(type_name: &str, keys: Map<String, Value>) -> Self {
        let parsed = match RegisteredType::find(type_name) {
            Some(entry) => entry.parse(keys),
            None => {
                let names: Vec<&str> = PROBE_TYPES.iter().map(RegisteredType::name).collect();
                Err(vec![(
                    "type".to_owned(),
                    format!(
                        "unknown check type \"{type_name}\"; expected one of {}",
                        names.join(", ")
                    ),
                )])
            }
        };
        Configured::new(type_name, parsed)
    }

    /// A probe built in code (the demo, tests), held to the same rules as a configured one.
    pub fn from_probe<P: ProbeType>(probe: P) -> Self {
        let problems = probe.validate();
        let parsed = if problems.is_empty() {
            Ok(Arc::new(probe) as Arc<dyn Probe>)
        } else {
            Err(problems)
        };
        Configured::new(P::TYPE, parsed)
    }

    /// The probe, or the problems of the keys as (key within the entry, message).
    pub fn probe(&self) -> Result<&Arc<dyn Probe>, &Problems> {
        self.get()
    }
}
