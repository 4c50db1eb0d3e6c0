//! `[queues]`: the application's queue systems opsdeck reads and acts on (SPEC §5).
//!
//! Every `[[queues.sources]]` entry is one flat table: the keys every source has (`name`,
//! `type`, `poll_interval`, `tenant_path`, `read_only`) are read here, the others by the
//! system's module in `opsdeck_connectors::queues` — or, for `type = "push"`, whose queues
//! the application reports itself, by [`PushKeys`] here. `[[queues.thresholds]]` turn a
//! queue's numbers into a health check of type `queue`.

use std::collections::BTreeSet;
use std::time::Duration;

use opsdeck_connectors::queues::{QueueType, SourceKeys};
use opsdeck_core::ids::{CheckName, QueueName, SourceName};
use opsdeck_core::queues::TenantPath;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::duration;

/// Problems of one section: (key within the section, message).
type Problems = Vec<(String, String)>;

/// `[queues]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueuesConfig {
    /// How often each source is polled unless it says otherwise.
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// The longest a single read of a source may take (statement or command timeout).
    #[serde(with = "duration")]
    pub read_timeout: Duration,
    /// How long queue history (the charts' points) is kept.
    #[serde(with = "duration")]
    pub history_retention: Duration,
    /// How long a bulk action's dry run stays valid for its real run.
    #[serde(with = "duration")]
    pub selection_ttl: Duration,
    /// The most jobs one bulk action may act on; a filter matching more is refused with the
    /// advice to narrow it.
    pub bulk_max: u64,
    /// `[[queues.sources]]`.
    pub sources: Vec<SourceConfig>,
    /// `[[queues.thresholds]]`.
    pub thresholds: Vec<ThresholdConfig>,
}

impl Default for QueuesConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(10),
            read_timeout: Duration::from_secs(2),
            history_retention: Duration::from_secs(7 * 86_400),
            selection_ttl: Duration::from_secs(600),
            bulk_max: 100_000,
            sources: Vec::new(),
            thresholds: Vec::new(),
        }
    }
}

/// What a source is: a system opsdeck connects to, or pushed snapshots.
#[derive(Debug, Clone)]
pub enum SourceKind {
    System(SourceKeys),
    Push(Result<PushKeys, Problems>),
}

/// One `[[queues.sources]]` entry.
#[derive(Debug, Clone, Serialize)]
pub struct SourceConfig {
    /// Unique; `a-z 0-9 _ -`. Names the source in URLs (`/ops/queues/{source}/…`).
    pub name: String,
    /// How often it is polled (default `queues.poll_interval`); for `push`, how often the
    /// application posts: three missed posts make the source stale.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<Duration>,
    /// Where a job's tenant id lives in the job, e.g. `data.tenantId`, `args[0].tenant_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_path: Option<String>,
    /// Turns off every action on this source: retry, discard, pause.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(flatten)]
    pub kind: SourceKind,
}

/// `type` and the keys of that type (secrets as `***`).
impl Serialize for SourceKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            SourceKind::System(keys) => keys.serialize(serializer),
            SourceKind::Push(keys) => {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("type", "push")?;
                if let Ok(keys) = keys {
                    if let Some(webhook) = &keys.retry_webhook {
                        map.serialize_entry("retry_webhook", webhook)?;
                    }
                    if let Some(secret) = &keys.webhook_secret {
                        map.serialize_entry("webhook_secret", secret)?;
                    }
                }
                map.end()
            }
        }
    }
}

impl SourceConfig {
    /// A source of a system built in code (tests, the benchmark).
    pub fn system<Q: QueueType>(name: &str, keys: Q) -> Self {
        Self {
            name: name.to_owned(),
            poll_interval: None,
            tenant_path: None,
            read_only: false,
            kind: SourceKind::System(SourceKeys::from_source(keys)),
        }
    }

    /// A push source built in code (the demo, tests).
    pub fn push(name: &str, keys: PushKeys) -> Self {
        Self {
            name: name.to_owned(),
            poll_interval: None,
            tenant_path: None,
            read_only: false,
            kind: SourceKind::Push(Ok(keys)),
        }
    }
}

/// The keys of a `push` source besides those of every source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// Called (POST, signed) to retry a job: the application retries it in its own queue.
    /// Without it, the source's jobs cannot be retried from opsdeck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_webhook: Option<Secret>,
    /// The shared secret of the webhook's HMAC-SHA256 signature; required with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
}

#[derive(Deserialize)]
struct Written {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, with = "duration::option")]
    poll_interval: Option<Duration>,
    #[serde(default)]
    tenant_path: Option<String>,
    #[serde(default)]
    read_only: bool,
    #[serde(flatten)]
    keys: Map<String, Value>,
}

/// The system's keys are parsed while the configuration loads, so secrets among them
/// resolve then; their problems wait for validation, to be reported with the others.
impl<'de> Deserialize<'de> for SourceConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = Written::deserialize(deserializer)?;
        let kind = if written.kind == "push" {
            SourceKind::Push(
                serde_json::from_value::<PushKeys>(Value::Object(written.keys))
                    .map_err(|e| vec![("type".to_owned(), format!("push source: {e}"))]),
            )
        } else {
            SourceKind::System(SourceKeys::parse(&written.kind, written.keys))
        };
        Ok(Self {
            name: written.name,
            poll_interval: written.poll_interval,
            tenant_path: written.tenant_path,
            read_only: written.read_only,
            kind,
        })
    }
}

/// One `[[queues.thresholds]]` entry: a health check of type `queue`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    /// The check's name in `/ops/health` (default `queue-<source>-<queue>`, made a valid
    /// check name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub source: String,
    pub queue: String,
    /// Fail when more jobs than this wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_waiting: Option<u64>,
    /// Fail when the oldest waiting job is older than this.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_oldest_age: Option<Duration>,
    /// Fail when more jobs than this failed in the last hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures_per_hour: Option<u64>,
    /// Whether a failure fails the whole service (default false: a queue falling behind
    /// warns).
    #[serde(default)]
    pub critical: bool,
}

impl ThresholdConfig {
    /// The check's name: as configured, or derived from the source and queue.
    pub fn check_name(&self) -> Result<CheckName, String> {
        match &self.name {
            Some(name) => CheckName::parse(name).map_err(|e| e.to_string()),
            None => {
                let derived: String = format!("queue-{}-{}", self.source, self.queue)
                    .chars()
                    .map(|c| {
                        let c = c.to_ascii_lowercase();
                        if c.is_ascii_lowercase()
                            || c.is_ascii_digit()
                            || matches!(c, '_' | '.' | '-')
                        {
                            c
                        } else {
                            '-'
                        }
                    })
                    .take(64)
                    .collect();
                CheckName::parse(&derived).map_err(|e| format!("{e}; give the check a `name`"))
            }
        }
    }
}

impl QueuesConfig {
    pub(crate) fn problems(&self) -> Problems {
        let mut out = Problems::new();
        for (key, value) in [
            ("poll_interval", self.poll_interval),
            ("read_timeout", self.read_timeout),
            ("history_retention", self.history_retention),
            ("selection_ttl", self.selection_ttl),
        ] {
            if value.is_zero() {
                out.push((key.to_owned(), "must be greater than zero".to_owned()));
            }
        }
        if self.bulk_max == 0 {
            out.push(("bulk_max".to_owned(), "must be at least 1".to_owned()));
        }
        let mut names = BTreeSet::new();
        for (index, source) in self.sources.iter().enumerate() {
            let at = |key: &str| format!("sources[{index}].{key}");
            match SourceName::parse(&source.name) {
                Ok(_) if !names.insert(source.name.as_str()) => out.push((
                    at("name"),
                    format!("source name \"{}\" is used twice", source.name),
                )),
                Ok(_) => {}
                Err(e) => out.push((at("name"), e.to_string())),
            }
            if source
                .poll_interval
                .is_some_and(|i| i < Duration::from_secs(1))
            {
                out.push((at("poll_interval"), "must be at least 1s".to_owned()));
            }
            if let Some(path) = &source.tenant_path
                && let Err(e) = TenantPath::parse(path)
            {
                out.push((at("tenant_path"), e.to_string()));
            }
            let problems = match &source.kind {
                SourceKind::System(keys) => keys.source().err().cloned().unwrap_or_default(),
                SourceKind::Push(Err(problems)) => problems.clone(),
                SourceKind::Push(Ok(keys)) => {
                    if keys.retry_webhook.is_some() != keys.webhook_secret.is_some() {
                        vec![(
                            "webhook_secret".to_owned(),
                            "give retry_webhook and webhook_secret together: calls are signed"
                                .to_owned(),
                        )]
                    } else {
                        Problems::new()
                    }
                }
            };
            out.extend(problems.into_iter().map(|(key, m)| (at(&key), m)));
        }
        let mut checks = BTreeSet::new();
        for (index, threshold) in self.thresholds.iter().enumerate() {
            let at = |key: &str| format!("thresholds[{index}].{key}");
            if !names.contains(threshold.source.as_str()) {
                out.push((
                    at("source"),
                    format!(
                        "no [[queues.sources]] entry is named \"{}\"",
                        threshold.source
                    ),
                ));
            }
            if let Err(e) = QueueName::parse(&threshold.queue) {
                out.push((at("queue"), e.to_string()));
            }
            match threshold.check_name() {
                Ok(name) if !checks.insert(name.clone()) => {
                    out.push((at("name"), format!("check name \"{name}\" is used twice")))
                }
                Ok(_) => {}
                Err(e) => out.push((at("name"), e)),
            }
            if threshold.max_waiting.is_none()
                && threshold.max_oldest_age.is_none()
                && threshold.max_failures_per_hour.is_none()
            {
                out.push((
                    at("max_waiting"),
                    "give at least one of max_waiting, max_oldest_age, max_failures_per_hour"
                        .to_owned(),
                ));
            }
        }
        out
    }
}
