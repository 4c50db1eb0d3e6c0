//! `[health]`: the probes run in the background and served at `/ops/health` (SPEC §3).
//!
//! Every `[[health.checks]]` entry is one flat table. The keys every check has (`name`,
//! `type`, `interval`, `timeout`, `critical`, `warn_latency`) are read here; `type` picks a
//! probe type from `opsdeck_connectors::health::PROBE_TYPES`, whose module reads every other
//! key. A key that the type does not use is reported, not silently ignored, so a `path`
//! written on an `http` check does not look configured when it is not. Validation turns
//! each entry into a [`CheckSpec`].

use std::time::Duration;

use opsdeck_connectors::health::{ProbeConfig, ProbeType};
use opsdeck_core::health::Retention;
use opsdeck_core::ids::CheckName;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::duration;
use crate::health::CheckSpec;

/// `[health]`: probes and their history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Consecutive results that must differ from a check's reported status before it
    /// flips (and alerts): damps flapping. 1 reports every change at once.
    pub flap_threshold: u32,
    /// How often opsdeck's own database is probed (the check `opsdeck-database`, always on).
    #[serde(with = "duration")]
    pub own_database_interval: Duration,
    /// Raw samples (one per probe run) are kept this long, then merged per `sample_bucket`.
    #[serde(with = "duration")]
    pub raw_retention: Duration,
    /// The width of one downsampled latency bucket.
    #[serde(with = "duration")]
    pub sample_bucket: Duration,
    /// Downsampled buckets are kept this long. Status changes are kept for ever.
    #[serde(with = "duration")]
    pub sample_retention: Duration,
    /// `[[health.checks]]`: the probes.
    pub checks: Vec<CheckConfig>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            flap_threshold: 2,
            own_database_interval: Duration::from_secs(15),
            raw_retention: Duration::from_secs(48 * 3600),
            sample_bucket: Duration::from_secs(300),
            sample_retention: Duration::from_secs(400 * 24 * 3600),
            checks: Vec::new(),
        }
    }
}

impl HealthConfig {
    /// How long samples are kept, as the history store takes it.
    pub fn retention(&self) -> Retention {
        Retention {
            raw_for: self.raw_retention,
            bucket: self.sample_bucket,
            keep_for: self.sample_retention,
        }
    }
}

/// One `[[health.checks]]` entry as written: the keys every check has, and its probe.
#[derive(Debug, Clone, Serialize)]
pub struct CheckConfig {
    /// Unique; 1–64 of `a-z 0-9 _ . -`. Keys the check in `/ops/health` and its URL.
    pub name: String,
    /// How often the probe runs (default 15s).
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Longest a probe run may take before it counts as failed (default 3s).
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Whether a failure fails the whole service (default true) or only warns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
    /// A pass slower than this is reported as warn.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub warn_latency: Option<Duration>,
    /// `type` and the keys of that type, read by the type's module.
    #[serde(flatten)]
    pub probe: ProbeConfig,
}

impl CheckConfig {
    /// An entry with its name and probe set and every common key at its default (for
    /// configurations built in code: the demo, tests).
    pub fn new<P: ProbeType>(name: &str, probe: P) -> Self {
        Self {
            name: name.to_owned(),
            interval: None,
            timeout: None,
            critical: None,
            warn_latency: None,
            probe: ProbeConfig::from_probe(probe),
        }
    }
}

/// An entry as deserialized: the common keys by name, every other key collected for the
/// probe type to read. A key no type takes is reported by that type, with its key path.
#[derive(Deserialize)]
struct Written {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, with = "duration::option")]
    interval: Option<Duration>,
    #[serde(default, with = "duration::option")]
    timeout: Option<Duration>,
    #[serde(default)]
    critical: Option<bool>,
    #[serde(default, with = "duration::option")]
    warn_latency: Option<Duration>,
    #[serde(flatten)]
    keys: Map<String, Value>,
}

/// The type's keys are parsed here, while the configuration loads: secrets among them
/// resolve their `env:`/`file:` references only then. Their problems are kept for
/// validation, which reports them with every other problem of the file.
impl<'de> Deserialize<'de> for CheckConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = Written::deserialize(deserializer)?;
        Ok(Self {
            name: written.name,
            interval: written.interval,
            timeout: written.timeout,
            critical: written.critical,
            warn_latency: written.warn_latency,
            probe: ProbeConfig::parse(&written.kind, written.keys),
        })
    }
}

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Problems of one section: (key within the section, message).
type Problems = Vec<(String, String)>;

impl HealthConfig {
    /// Every check as a validated spec, or the problems of each entry with its key path.
    pub fn specs(&self) -> Result<Vec<CheckSpec>, Problems> {
        let mut problems = Problems::new();
        let mut specs = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (index, check) in self.checks.iter().enumerate() {
            let prefix = format!("checks[{index}]");
            if !seen.insert(check.name.as_str()) || check.name == crate::health::OWN_DATABASE_CHECK
            {
                problems.push((
                    format!("{prefix}.name"),
                    format!(
                        "check name \"{}\" is used twice (opsdeck-database is opsdeck's own)",
                        check.name
                    ),
                ));
            }
            match check.spec() {
                Ok(spec) => specs.push(spec),
                Err(found) => problems.extend(
                    found
                        .into_iter()
                        .map(|(key, message)| (format!("{prefix}.{key}"), message)),
                ),
            }
        }
        if problems.is_empty() {
            Ok(specs)
        } else {
            Err(problems)
        }
    }

    pub(crate) fn problems(&self) -> Problems {
        let mut out = self.specs().err().unwrap_or_default();
        for (key, value) in [
            ("own_database_interval", self.own_database_interval),
            ("raw_retention", self.raw_retention),
            ("sample_bucket", self.sample_bucket),
            ("sample_retention", self.sample_retention),
        ] {
            if value.is_zero() {
                out.push((key.to_owned(), "must be greater than zero".to_owned()));
            }
        }
        if self.sample_retention < self.raw_retention {
            out.push((
                "sample_retention".to_owned(),
                "must be at least raw_retention: samples are downsampled before they expire"
                    .to_owned(),
            ));
        }
        out
    }
}

impl CheckConfig {
    /// This entry as a spec, or its problems as (key, message).
    pub fn spec(&self) -> Result<CheckSpec, Problems> {
        let mut problems = Problems::new();
        let name = CheckName::parse(&self.name)
            .map_err(|err| problems.push(("name".to_owned(), err.to_string())))
            .ok();
        let interval = self.interval.unwrap_or(DEFAULT_INTERVAL);
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if interval < Duration::from_secs(1) {
            problems.push(("interval".to_owned(), "must be at least 1s".to_owned()));
        }
        if timeout.is_zero() {
            problems.push(("timeout".to_owned(), "must be greater than zero".to_owned()));
        }
        let probe = match self.probe.probe() {
            Ok(probe) => Some(probe.clone()),
            Err(found) => {
                problems.extend(found.iter().cloned());
                None
            }
        };
        match (name, probe) {
            (Some(name), Some(probe)) if problems.is_empty() => Ok(CheckSpec {
                name,
                interval,
                timeout,
                critical: self.critical.unwrap_or(true),
                warn_latency: self.warn_latency,
                probe,
            }),
            _ => Err(problems),
        }
    }
}
