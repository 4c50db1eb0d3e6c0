//! `[cron]`: cron monitors declared in configuration, HTTP jobs opsdeck fires itself, how
//! long run history is kept, and the limits of ping ingest (SPEC §4).
//!
//! A `[[cron.monitors]]` entry and the JSON body of `POST /ops/cron` share one shape,
//! [`MonitorDefinition`], so a monitor reads the same wherever it is written.

use std::collections::BTreeMap;
use std::time::Duration;

use opsdeck_core::cron::{
    LOG_MAX_BYTES, MaintenanceWindow, MonitorSettings, MonitorSpec, Schedule,
};
use opsdeck_core::ids::{MonitorName, Slug, Tags, TenantId};
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bytes, duration};

/// `[cron]`: monitors, HTTP jobs and history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CronConfig {
    /// Finished runs older than this are deleted (a monitor's latest run is always kept).
    #[serde(with = "duration")]
    pub run_retention: Duration,
    /// How often the leader looks for monitors whose next deadline has passed: late,
    /// missed and timed-out runs are flagged within about this long.
    #[serde(with = "duration")]
    pub evaluate_interval: Duration,
    /// `[[cron.monitors]]`: monitors of jobs that ping opsdeck.
    pub monitors: Vec<MonitorDefinition>,
    /// `[[cron.jobs]]`: HTTP cron jobs opsdeck fires (and monitors) itself.
    pub jobs: Vec<JobDefinition>,
    /// The most of a ping body kept as the run's log (its tail; a longer body is cut, never
    /// refused), announced in the `Ping-Body-Limit` header of every ping answer.
    #[serde(with = "bytes")]
    pub ping_body_limit: usize,
    /// Pings committed at most in one transaction by the ingest writer.
    pub ingest_batch: usize,
    /// Pings waiting for the ingest writer at most; further pings wait for room.
    pub ingest_queue: usize,
}

/// The largest `cron.ping_body_limit`: a run's log keeps no more, so more would be read
/// only to be dropped.
pub const PING_BODY_LIMIT_MAX: usize = LOG_MAX_BYTES;
/// The largest `cron.ingest_batch`: one transaction holds the database's write lock (on
/// SQLite, for every writer) while it runs, so it must stay short.
pub const INGEST_BATCH_MAX: usize = 10_000;
/// The largest `cron.ingest_queue`: each queued ping holds its body in memory.
pub const INGEST_QUEUE_MAX: usize = 1_000_000;

impl Default for CronConfig {
    fn default() -> Self {
        Self {
            run_retention: Duration::from_secs(90 * 24 * 3600),
            evaluate_interval: Duration::from_secs(1),
            monitors: Vec::new(),
            jobs: Vec::new(),
            ping_body_limit: LOG_MAX_BYTES,
            ingest_batch: 256,
            ingest_queue: 8192,
        }
    }
}

/// One maintenance window: opens on a cron schedule, lasts `duration`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowDefinition {
    /// Five-field cron expression of when the window opens.
    pub schedule: String,
    /// IANA time zone of `schedule` (default: the monitor's `tz`, else UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// How long it stays open, e.g. `"2h"`.
    #[serde(with = "duration")]
    #[schema(value_type = String, example = "2h")]
    pub duration: Duration,
}

/// A monitor as written in `[[cron.monitors]]` or sent to `POST /ops/cron`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorDefinition {
    /// `a-z 0-9 _ -`, unique; the ping URL names it.
    pub slug: String,
    /// Shown on the dashboard; the slug when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Five-field cron expression or `@hourly`-style alias; give this or `interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// IANA time zone of `schedule` (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// A fixed period between runs, e.g. `"10m"`; give this or `schedule`.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "10m")]
    pub interval: Option<Duration>,
    /// How late a run may start before it counts as missed (default 5m).
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "5m")]
    pub grace: Option<Duration>,
    /// How long a started run may last before it is timed out.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "1h")]
    pub max_runtime: Option<Duration>,
    /// A successful run faster than this is flagged as suspicious.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "5s")]
    pub min_runtime: Option<Duration>,
    /// Consecutive failed, missed or timed-out runs before the monitor is down (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Consecutive successful runs before it is up again (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_threshold: Option<u32>,
    /// Recurring windows during which misses and failures do not alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<WindowDefinition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Start paused: runs are recorded, nothing is expected or alerted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

/// An HTTP cron job opsdeck fires: a monitor plus the request to make.
/// An HTTP cron job opsdeck fires: a monitor plus the request to make.
#[derive(Debug, Clone, Serialize)]
pub struct JobDefinition {
    #[serde(flatten)]
    pub monitor: MonitorDefinition,
    #[serde(flatten)]
    pub request: JobRequest,
}

/// The request part of a `[[cron.jobs]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The endpoint to call; may hold a secret (`env:NAME`).
    pub url: Secret,
    /// GET, POST (default), PUT, PATCH or DELETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request headers; values may be `env:NAME` secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// Longest the call may take (default 30s); a slower call is a failed run.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// The status that counts as success; unset, any 2xx does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
}

/// The keys of [`JobRequest`]; every other key of a job belongs to its monitor.
const REQUEST_KEYS: [&str; 5] = ["url", "method", "headers", "timeout", "expect_status"];

/// Split by hand: serde's `flatten` cannot deny unknown keys, and a misspelt `methd` must
/// be an error, not a silently ignored line.
impl<'de> Deserialize<'de> for JobDefinition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut monitor = toml::Table::deserialize(deserializer)?;
        let mut request = toml::Table::new();
        for key in REQUEST_KEYS {
            if let Some(value) = monitor.remove(key) {
                request.insert(key.to_owned(), value);
            }
        }
        Ok(Self {
            request: JobRequest::deserialize(toml::Value::Table(request))
                .map_err(D::Error::custom)?,
            monitor: MonitorDefinition::deserialize(toml::Value::Table(monitor)).map_err(
                |err| {
                    // The loader reports unknown keys by their path, which a hand-split
                    // table loses: name the key in the message instead.
                    let text = err.to_string();
                    match text
                        .strip_prefix("unknown field `")
                        .and_then(|rest| rest.split_once("`, expected one of "))
                    {
                        Some((key, expected)) => D::Error::custom(format!(
                            "`{key}` is not a key of a cron job; it takes {}, {}",
                            expected.trim().replace('`', ""),
                            REQUEST_KEYS.join(", ")
                        )),
                        None => D::Error::custom(text),
                    }
                },
            )?,
        })
    }
}

/// Problems as (key within the entry, message).
pub type Problems = Vec<(String, String)>;

impl MonitorDefinition {
    /// The validated monitor, or every problem with its key.
    pub fn to_spec(&self) -> Result<MonitorSpec, Problems> {
        let mut problems = Problems::new();
        let mut field = |key: &str, message: String| problems.push((key.to_owned(), message));
        let slug = Slug::parse(&self.slug)
            .map_err(|e| field("slug", e.to_string()))
            .ok();
        let name = match (&self.name, &slug) {
            (Some(name), _) => MonitorName::parse(name)
                .map_err(|e| field("name", e.to_string()))
                .ok(),
            (None, Some(slug)) => Some(MonitorName::from(slug)),
            (None, None) => None,
        };
        let schedule = match (&self.schedule, self.interval) {
            (Some(expr), None) => Schedule::cron(expr, self.tz.as_deref())
                .map_err(|e| field("schedule", e.to_string()))
                .ok(),
            (None, Some(every)) => {
                if self.tz.is_some() {
                    field("tz", "applies to `schedule` only, not to `interval`".into());
                }
                Schedule::every(every)
                    .map_err(|e| field("interval", e.to_string()))
                    .ok()
            }
            (Some(_), Some(_)) => {
                field(
                    "interval",
                    "give either `schedule` or `interval`, not both".into(),
                );
                None
            }
            (None, None) => {
                field(
                    "schedule",
                    "required: a cron expression such as \"*/5 * * * *\", or set `interval`".into(),
                );
                None
            }
        };
        let mut maintenance = Vec::new();
        for (i, window) in self.maintenance.iter().enumerate() {
            let tz = window.tz.as_deref().or(self.tz.as_deref());
            match MaintenanceWindow::new(&window.schedule, tz, window.duration) {
                Ok(window) => maintenance.push(window),
                Err(e) => field(&format!("maintenance[{i}]"), e.to_string()),
            }
        }
        let tags = Tags::parse(&self.tags)
            .map_err(|e| field("tags", e.to_string()))
            .ok();
        let tenant_id = match &self.tenant_id {
            Some(id) => TenantId::parse(id)
                .map_err(|e| field("tenant_id", e.to_string()))
                .ok(),
            None => None,
        };
        let defaults = MonitorSettings::default();
        let settings = MonitorSettings {
            grace: self.grace.unwrap_or(defaults.grace),
            max_runtime: self.max_runtime,
            min_runtime: self.min_runtime,
            failure_threshold: self.failure_threshold.unwrap_or(defaults.failure_threshold),
            recovery_threshold: self
                .recovery_threshold
                .unwrap_or(defaults.recovery_threshold),
            maintenance,
            tags: tags.unwrap_or_default(),
            tenant_id,
            paused: self.paused.unwrap_or(false),
        };
        match (slug, name, schedule) {
            (Some(slug), Some(name), Some(schedule)) if problems.is_empty() => {
                MonitorSpec::new(slug, name, schedule, settings)
                    .map_err(|e| vec![(e.field.to_owned(), e.to_string())])
            }
            _ => Err(problems),
        }
    }
}

impl CronConfig {
    /// The limits of ping ingest: each within its range, and a queue that holds at least
    /// one full batch (the writer takes a batch from what is queued).
    fn ingest_problems(&self) -> Problems {
        let mut out = Problems::new();
        if !(1..=PING_BODY_LIMIT_MAX).contains(&self.ping_body_limit) {
            out.push((
                "ping_body_limit".to_owned(),
                format!(
                    "must be between 1B and {} (what a run's log keeps), got {}",
                    bytes::format(PING_BODY_LIMIT_MAX),
                    bytes::format(self.ping_body_limit)
                ),
            ));
        }
        if !(1..=INGEST_BATCH_MAX).contains(&self.ingest_batch) {
            out.push((
                "ingest_batch".to_owned(),
                format!(
                    "must be between 1 and {INGEST_BATCH_MAX} pings, got {}",
                    self.ingest_batch
                ),
            ));
        }
        if self.ingest_queue > INGEST_QUEUE_MAX {
            out.push((
                "ingest_queue".to_owned(),
                format!(
                    "must be at most {INGEST_QUEUE_MAX} pings, got {}",
                    self.ingest_queue
                ),
            ));
        } else if self.ingest_queue < self.ingest_batch {
            out.push((
                "ingest_queue".to_owned(),
                format!(
                    "must hold at least one batch: {} or more (cron.ingest_batch), got {}",
                    self.ingest_batch, self.ingest_queue
                ),
            ));
        }
        out
    }

    pub(crate) fn problems(&self) -> Problems {
        let mut out = Problems::new();
        for (key, value) in [
            ("run_retention", self.run_retention),
            ("evaluate_interval", self.evaluate_interval),
        ] {
            if value.is_zero() {
                out.push((key.to_owned(), "must be greater than zero".to_owned()));
            }
        }
        out.extend(self.ingest_problems());
        let mut seen = std::collections::BTreeSet::new();
        let entries = self
            .monitors
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("monitors[{i}]"), m, None))
            .chain(
                self.jobs
                    .iter()
                    .enumerate()
                    .map(|(i, j)| (format!("jobs[{i}]"), &j.monitor, Some(j))),
            );
        for (prefix, monitor, job) in entries {
            if !seen.insert(monitor.slug.clone()) {
                out.push((
                    format!("{prefix}.slug"),
                    format!("slug \"{}\" is used twice", monitor.slug),
                ));
            }
            if let Err(problems) = monitor.to_spec() {
                out.extend(
                    problems
                        .into_iter()
                        .map(|(key, message)| (format!("{prefix}.{key}"), message)),
                );
            }
            if let Some(job) = job {
                out.extend(
                    job.request
                        .problems()
                        .into_iter()
                        .map(|(key, message)| (format!("{prefix}.{key}"), message)),
                );
            }
        }
        out
    }
}

impl JobRequest {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        match url::Url::parse(self.url.expose()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => out.push((
                "url".to_owned(),
                "must be an absolute http:// or https:// URL".to_owned(),
            )),
        }
        if let Some(method) = &self.method
            && !matches!(
                method.to_ascii_uppercase().as_str(),
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
            )
        {
            out.push((
                "method".to_owned(),
                format!(
                    "unsupported method \"{method}\"; expected GET, POST, PUT, PATCH or DELETE"
                ),
            ));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            out.push(("timeout".to_owned(), "must be greater than zero".to_owned()));
        }
        if self
            .expect_status
            .is_some_and(|s| !(100..=599).contains(&s))
        {
            out.push((
                "expect_status".to_owned(),
                "must be an HTTP status between 100 and 599".to_owned(),
            ));
        }
        for name in self.headers.keys() {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                out.push((
                    format!("headers.{name}"),
                    "is not a valid HTTP header name".to_owned(),
                ));
            }
        }
        out
    }
}
