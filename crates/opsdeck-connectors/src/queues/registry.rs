//! The one list of queue systems ([`QUEUE_TYPES`]) and what a `[[queues.sources]]` entry's
//! `type` and own keys become ([`SourceKeys`]).
//!
//! The server's configuration reads the keys every source has (name, type, poll_interval,
//! tenant_path, read_only) and hands the `type` and all other keys here; the system's
//! module decides what they mean.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use opsdeck_core::queues::System;
use opsdeck_core::secret::Secret;
use serde_json::{Map, Value};

use super::{Problems, QueueConnector, QueueError, QueueType, SourceContext};
use crate::keys::{self, Configured, Entry, Settings};

/// Every system `[[queues.sources]]` accepts besides `push` (which the application feeds and
/// the server keeps). Adding a system: its module, and its line here.
pub static QUEUE_TYPES: &[RegisteredSystem] = &[
    RegisteredSystem::of::<super::bullmq::Bullmq>(),
    RegisteredSystem::of::<super::graphile::Graphile>(),
    RegisteredSystem::of::<super::sidekiq::Sidekiq>(),
    RegisteredSystem::of::<super::pgboss::PgBoss>(),
    RegisteredSystem::of::<super::rq::Rq>(),
    RegisteredSystem::of::<super::celery::Celery>(),
];

/// A configured source's system, ready to connect: the object-safe face of a [`QueueType`].
#[async_trait]
pub trait QueueSource: fmt::Debug + Send + Sync {
    fn system(&self) -> System;

    /// What it connects to, without credentials.
    fn target(&self) -> String;

    /// The secret values to mask wherever an error quotes them.
    fn secrets(&self) -> Vec<&str>;

    /// The keys as they apply (secrets as `***`).
    fn settings(&self) -> Map<String, Value>;

    async fn connect(&self, context: SourceContext) -> Result<Box<dyn QueueConnector>, QueueError>;
}

#[async_trait]
impl<Q: QueueType> QueueSource for Q {
    fn system(&self) -> System {
        Q::SYSTEM
    }

    fn target(&self) -> String {
        QueueType::target(self)
    }

    fn secrets(&self) -> Vec<&str> {
        QueueType::secrets(self)
            .into_iter()
            .map(Secret::expose)
            .collect()
    }

    fn settings(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    async fn connect(&self, context: SourceContext) -> Result<Box<dyn QueueConnector>, QueueError> {
        QueueType::connect(self, context).await
    }
}

type Parsed = Result<Arc<dyn QueueSource>, Problems>;

/// A system as listed: its `type` name, the keys it takes and how they become a source.
#[derive(Clone, Copy)]
pub struct RegisteredSystem {
    name: &'static str,
    keys: fn() -> &'static [&'static str],
    parse: fn(Map<String, Value>) -> Parsed,
}

impl RegisteredSystem {
    pub const fn of<Q: QueueType>() -> Self {
        Self {
            name: Q::TYPE,
            keys: keys::field_names::<Q>,
            parse: parse_as::<Q>,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The keys this system takes besides those of every source.
    pub fn keys(&self) -> &'static [&'static str] {
        (self.keys)()
    }

    pub fn find(name: &str) -> Option<&'static Self> {
        QUEUE_TYPES.iter().find(|entry| entry.name == name)
    }
}

impl fmt::Debug for RegisteredSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredSystem")
            .field("name", &self.name)
            .field("keys", &self.keys())
            .finish()
    }
}

fn parse_as<Q: QueueType>(keys: Map<String, Value>) -> Parsed {
    let entry = Entry {
        kind: "source",
        type_name: Q::TYPE,
        taken_elsewhere: |key| QUEUE_TYPES.iter().any(|other| other.keys().contains(&key)),
    };
    keys::parse::<Q>(keys, &entry, Q::validate)
        .map(|source| Arc::new(source) as Arc<dyn QueueSource>)
}

/// The `type` of a `[[queues.sources]]` entry and its own keys: the source, or the problems
/// of those keys.
pub type SourceKeys = Configured<dyn QueueSource>;

impl Settings for dyn QueueSource {
    fn settings(&self) -> Map<String, Value> {
        QueueSource::settings(self)
    }
}

impl SourceKeys {
    /// `keys` (every key of the entry besides those of every source) as a `type_name` source.
    pub fn parse(type_name: &str, keys: Map<String, Value>) -> Self {
        let parsed = match RegisteredSystem::find(type_name) {
            Some(entry) => (entry.parse)(keys),
            None => {
                let mut names: Vec<&str> = QUEUE_TYPES.iter().map(RegisteredSystem::name).collect();
                names.push("push");
                Err(vec![(
                    "type".to_owned(),
                    format!(
                        "unknown queue system \"{type_name}\"; expected one of {}",
                        names.join(", ")
                    ),
                )])
            }
        };
        Configured::new(type_name, parsed)
    }

    /// A source built in code (tests), held to the same rules as a configured one.
    pub fn from_source<Q: QueueType>(source: Q) -> Self {
        let problems = source.validate();
        let parsed = if problems.is_empty() {
            Ok(Arc::new(source) as Arc<dyn QueueSource>)
        } else {
            Err(problems)
        };
        Configured::new(Q::TYPE, parsed)
    }

    /// The source, or the problems of its keys as (key within the entry, message).
    pub fn source(&self) -> Result<&Arc<dyn QueueSource>, &Problems> {
        self.get()
    }
}
