//! The two faces of a probe: [`ProbeType`], what each type's module implements (its keys,
//! rules, description and probe, statically typed), and [`Probe`], the object-safe view the
//! server's monitor holds for every configured check. Every `ProbeType` is a `Probe` through
//! one blanket impl, so the parts shared by all types (the kind, the settings as configured)
//! are written once here and cannot drift per type.

use std::fmt;

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Observation;

pub use crate::keys::Problems;

/// The health+json measurement of a probe that reports nothing but its latency.
pub const RESPONSE_TIME: &str = "responseTime";

/// A `type` of `[[health.checks]]`. The implementing struct is the type's keys: it is
/// deserialized from them with `#[serde(deny_unknown_fields)]` (required keys are plain
/// fields, optional ones have a `#[serde(default)]`), and serialized as the settings shown
/// for the check (secrets as `***`, defaults filled in).
#[async_trait]
pub trait ProbeType:
    Serialize + DeserializeOwned + fmt::Debug + Clone + Send + Sync + 'static
{
    /// The `type` value that selects this probe, e.g. `"postgres"`.
    const TYPE: &'static str;
    /// The health+json `componentType` of its checks.
    const COMPONENT: ComponentType;
    /// The health+json measurement it reports under (`name:measurement`): its own observed
    /// value's, or [`RESPONSE_TIME`] when it observes none.
    const MEASUREMENT: &'static str = RESPONSE_TIME;

    /// Rules between keys that their types cannot express (a threshold above another, an
    /// address without a port), as (key, message).
    fn validate(&self) -> Problems {
        Problems::new()
    }

    /// What it probes, without credentials, for the dashboard and `/ops/health`.
    fn target(&self) -> String;

    /// Every secret of its keys, so the monitor can mask them in the probe's output even
    /// where an error message quotes them whole.
    fn secrets(&self) -> Vec<&Secret>;

    /// Runs the probe once. Never bounded here: the monitor applies the check's timeout,
    /// so a probe must be cancel-safe (dropped at any await without leaving harm behind).
    async fn run(&self, ctx: &ProbeContext) -> Observation;
}

/// A configured probe, ready to run: what the server's monitor holds for each check.
/// Implemented by every [`ProbeType`], and by the server for opsdeck's own database.
#[async_trait]
pub trait Probe: fmt::Debug + Send + Sync {
    /// What the check is, for the dashboard, `/ops/health` and output scrubbing.
    fn describe(&self) -> Description<'_>;

    /// The keys as they apply (defaults filled in, secrets as `***`), for a serialized
    /// configuration.
    fn settings(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Runs the probe once (see [`ProbeType::run`]).
    async fn observe(&self, ctx: &ProbeContext) -> Observation;
}

#[async_trait]
impl<P: ProbeType> Probe for P {
    fn describe(&self) -> Description<'_> {
        Description {
            kind: P::TYPE,
            component_type: P::COMPONENT,
            measurement: P::MEASUREMENT,
            target: self.target(),
            secrets: ProbeType::secrets(self)
                .into_iter()
                .map(Secret::expose)
                .collect(),
        }
    }

    fn settings(&self) -> Map<String, Value> {
        // A struct of strings, numbers, maps and secrets (which serialize as `***`) always
        // serializes to an object.
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    async fn observe(&self, ctx: &ProbeContext) -> Observation {
        self.run(ctx).await
    }
}

/// What a check is.
#[derive(Clone, PartialEq)]
pub struct Description<'a> {
    /// The configured type (`http`, `tcp`, …).
    pub kind: &'static str,
    pub component_type: ComponentType,
    /// The health+json measurement name (`responseTime`, `freeSpace`, `certificateExpiry`).
    pub measurement: &'static str,
    /// What it probes, credentials removed.
    pub target: String,
    /// The secret values to mask in its output.
    pub secrets: Vec<&'a str>,
}

/// Secrets are counted, never printed.
impl fmt::Debug for Description<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Description")
            .field("kind", &self.kind)
            .field("component_type", &self.component_type)
            .field("measurement", &self.measurement)
            .field("target", &self.target)
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// The health+json `componentType` of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentType {
    Datastore,
    Component,
    System,
}

impl ComponentType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Datastore => "datastore",
            Self::Component => "component",
            Self::System => "system",
        }
    }
}

/// What a probe needs besides its keys.
#[derive(Clone)]
pub struct ProbeContext {
    /// Shared HTTP client (connection pools, TLS roots loaded once).
    pub http: reqwest::Client,
    /// This replica's id: probe objects and files are named after it, so replicas do not
    /// trip over each other's.
    pub instance_id: uuid::Uuid,
}

impl fmt::Debug for ProbeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeContext")
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}
