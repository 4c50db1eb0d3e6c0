//! `[health]`: the probes run in the background and served at `/ops/health` (SPEC §3).
//!
//! Every `[[health.checks]]` entry is one flat table whose `type` says which keys apply;
//! a key that the type does not use is reported, not silently ignored, so a `path` written
//! on an `http` check does not look configured when it is not. Validation turns each entry
//! into a [`CheckSpec`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use opsdeck_core::health::Retention;
use opsdeck_core::ids::CheckName;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::duration;
use crate::health::probe::{CheckSpec, HttpMethod, ProbeSpec};

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

/// The probe types of `[[health.checks]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckType {
    Postgres,
    Sqlite,
    Redis,
    Http,
    Tcp,
    S3,
    Filesystem,
    Disk,
    Tls,
}

impl CheckType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
            Self::Redis => "redis",
            Self::Http => "http",
            Self::Tcp => "tcp",
            Self::S3 => "s3",
            Self::Filesystem => "filesystem",
            Self::Disk => "disk",
            Self::Tls => "tls",
        }
    }

    /// The type-specific keys this type reads; any other type-specific key is an error.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Postgres | Self::Redis => &["url"],
            Self::Sqlite | Self::Filesystem => &["path"],
            Self::Http => &["url", "method", "expect_status", "expect_body", "headers"],
            Self::Tcp => &["address"],
            Self::S3 => &[
                "endpoint",
                "bucket",
                "region",
                "access_key_id",
                "secret_access_key",
            ],
            Self::Disk => &["path", "warn_free_percent", "fail_free_percent"],
            Self::Tls => &[
                "address",
                "server_name",
                "ca_file",
                "warn_days",
                "fail_days",
            ],
        }
    }
}

/// One `[[health.checks]]` entry as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Unique; 1–64 of `a-z 0-9 _ . -`. Keys the check in `/ops/health` and its URL.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: CheckType,
    /// How often the probe runs (default 15s).
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// Longest a probe run may take before it counts as failed (default 3s).
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Whether a failure fails the whole service (default true) or only warns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
    /// A pass slower than this is reported as warn.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub warn_latency: Option<Duration>,
    /// `postgres`, `redis`, `http`: where to connect; may hold credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// `sqlite`: the database file; `filesystem`: a directory to write a probe file in;
    /// `disk`: any path on the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `http`: GET (default), HEAD or POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `http`: the status that passes (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// `http`: text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body: Option<String>,
    /// `http`: request headers; values may be `env:NAME` secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// `tcp`, `tls`: `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `s3`: the endpoint of an S3-compatible store; unset means AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `s3`: the bucket to probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// `s3`: the region (default `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `s3`: credentials; unset uses none (anonymous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    /// `disk`: warn below this free space, in percent (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_free_percent: Option<f64>,
    /// `disk`: fail below this free space, in percent (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_free_percent: Option<f64>,
    /// `tls`: the name to verify the certificate for (default: the host of `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// `tls`: a PEM file of CA certificates trusted besides the public web roots, for a
    /// certificate issued by a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// `tls`: warn when the certificate expires within this many days (default 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_days: Option<f64>,
    /// `tls`: fail when it expires within this many days (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_days: Option<f64>,
}

impl CheckConfig {
    /// An entry with only its name and type set (for configurations built in code: the
    /// demo, tests).
    pub fn new(name: &str, kind: CheckType) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            interval: None,
            timeout: None,
            critical: None,
            warn_latency: None,
            url: None,
            path: None,
            method: None,
            expect_status: None,
            expect_body: None,
            headers: BTreeMap::new(),
            address: None,
            endpoint: None,
            bucket: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            warn_free_percent: None,
            fail_free_percent: None,
            server_name: None,
            ca_file: None,
            warn_days: None,
            fail_days: None,
        }
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
    /// The keys set on this entry that are specific to some type.
    fn typed_keys_set(&self) -> Vec<&'static str> {
        let set = [
            ("url", self.url.is_some()),
            ("path", self.path.is_some()),
            ("method", self.method.is_some()),
            ("expect_status", self.expect_status.is_some()),
            ("expect_body", self.expect_body.is_some()),
            ("headers", !self.headers.is_empty()),
            ("address", self.address.is_some()),
            ("endpoint", self.endpoint.is_some()),
            ("bucket", self.bucket.is_some()),
            ("region", self.region.is_some()),
            ("access_key_id", self.access_key_id.is_some()),
            ("secret_access_key", self.secret_access_key.is_some()),
            ("warn_free_percent", self.warn_free_percent.is_some()),
            ("fail_free_percent", self.fail_free_percent.is_some()),
            ("server_name", self.server_name.is_some()),
            ("ca_file", self.ca_file.is_some()),
            ("warn_days", self.warn_days.is_some()),
            ("fail_days", self.fail_days.is_some()),
        ];
        set.into_iter()
            .filter_map(|(key, present)| present.then_some(key))
            .collect()
    }

    /// This entry as a spec, or its problems as (key, message).
    pub fn spec(&self) -> Result<CheckSpec, Problems> {
        let mut problems = Problems::new();
        let kind = self.kind;
        for key in self.typed_keys_set() {
            if !kind.keys().contains(&key) {
                problems.push((
                    key.to_owned(),
                    format!(
                        "not used by a {} check; it takes {}",
                        kind.as_str(),
                        kind.keys().join(", ")
                    ),
                ));
            }
        }
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
        let mut need = |key: &str, present: bool| {
            if !present {
                problems.push((
                    key.to_owned(),
                    format!("required for a {} check", kind.as_str()),
                ));
            }
        };
        let probe = match kind {
            CheckType::Postgres | CheckType::Redis => {
                need("url", self.url.is_some());
                self.url.clone().map(|url| {
                    if kind == CheckType::Postgres {
                        ProbeSpec::Postgres { url }
                    } else {
                        ProbeSpec::Redis { url }
                    }
                })
            }
            CheckType::Sqlite | CheckType::Filesystem => {
                need("path", self.path.is_some());
                self.path.clone().map(|path| {
                    if kind == CheckType::Sqlite {
                        ProbeSpec::Sqlite { path }
                    } else {
                        ProbeSpec::Filesystem { path }
                    }
                })
            }
            CheckType::Http => {
                need("url", self.url.is_some());
                let method = match self.method.as_deref().map(HttpMethod::parse) {
                    None => Some(HttpMethod::Get),
                    Some(Ok(method)) => Some(method),
                    Some(Err(message)) => {
                        problems.push(("method".to_owned(), message));
                        None
                    }
                };
                let expect_status = self.expect_status.unwrap_or(200);
                if !(100..=599).contains(&expect_status) {
                    problems.push((
                        "expect_status".to_owned(),
                        "must be an HTTP status between 100 and 599".to_owned(),
                    ));
                }
                for name in self.headers.keys() {
                    if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        problems.push((
                            format!("headers.{name}"),
                            "is not a valid HTTP header name".to_owned(),
                        ));
                    }
                }
                match (self.url.clone(), method) {
                    (Some(url), Some(method)) => Some(ProbeSpec::Http {
                        url,
                        method,
                        expect_status,
                        expect_body: self.expect_body.clone(),
                        headers: self
                            .headers
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    }),
                    _ => None,
                }
            }
            CheckType::Tcp => {
                need("address", self.address.is_some());
                self.address
                    .clone()
                    .map(|address| ProbeSpec::Tcp { address })
            }
            CheckType::S3 => {
                need("bucket", self.bucket.is_some());
                if self.access_key_id.is_some() != self.secret_access_key.is_some() {
                    problems.push((
                        "secret_access_key".to_owned(),
                        "access_key_id and secret_access_key go together".to_owned(),
                    ));
                }
                self.bucket.clone().map(|bucket| ProbeSpec::S3 {
                    endpoint: self.endpoint.clone(),
                    bucket,
                    region: self
                        .region
                        .clone()
                        .unwrap_or_else(|| "us-east-1".to_owned()),
                    access_key_id: self.access_key_id.clone(),
                    secret_access_key: self.secret_access_key.clone(),
                })
            }
            CheckType::Disk => {
                need("path", self.path.is_some());
                let warn = self.warn_free_percent.unwrap_or(10.0);
                let fail = self.fail_free_percent.unwrap_or(5.0);
                for (key, value) in [("warn_free_percent", warn), ("fail_free_percent", fail)] {
                    if !(0.0..=100.0).contains(&value) {
                        problems.push((key.to_owned(), "must be between 0 and 100".to_owned()));
                    }
                }
                if fail > warn {
                    problems.push((
                        "fail_free_percent".to_owned(),
                        "must not be above warn_free_percent".to_owned(),
                    ));
                }
                self.path.clone().map(|path| ProbeSpec::Disk {
                    path,
                    warn_free_percent: warn,
                    fail_free_percent: fail,
                })
            }
            CheckType::Tls => {
                need("address", self.address.is_some());
                let warn = self.warn_days.unwrap_or(14.0);
                let fail = self.fail_days.unwrap_or(3.0);
                if fail > warn {
                    problems.push((
                        "fail_days".to_owned(),
                        "must not be above warn_days".to_owned(),
                    ));
                }
                if let Some(address) = &self.address
                    && !address.contains(':')
                {
                    problems.push((
                        "address".to_owned(),
                        format!("\"{address}\" needs a port, e.g. \"{address}:443\""),
                    ));
                }
                self.address.clone().map(|address| ProbeSpec::Tls {
                    address,
                    server_name: self.server_name.clone(),
                    ca_file: self.ca_file.clone(),
                    warn_days: warn,
                    fail_days: fail,
                })
            }
        };
        if let Some(address) = self.address.as_ref().filter(|_| kind == CheckType::Tcp)
            && !address.contains(':')
        {
            problems.push((
                "address".to_owned(),
                format!("\"{address}\" needs a port, e.g. \"{address}:5432\""),
            ));
        }
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
