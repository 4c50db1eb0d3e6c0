//! Probes: what each `[[health.checks]]` type does to find out whether its dependency is
//! healthy. A probe only looks; the monitor around it times it, bounds it with the check's
//! timeout, scrubs its output and decides what the result means over time.
//!
//! Each type lives in its own file. A probe returns an [`Observation`]: pass, warn or fail,
//! an optional measurement (free disk percent, days until a certificate expires) and, when
//! not passing, what went wrong in words an on-call engineer can act on.

mod disk;
mod filesystem;
mod http;
mod postgres;
mod redis;
mod s3;
mod sqlite;
mod tcp;
mod tls;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::Store;
use opsdeck_core::health::Status;
use opsdeck_core::ids::CheckName;
use serde::Serialize;

use opsdeck_core::secret::Secret;

/// One configured check, validated.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub name: CheckName,
    pub interval: Duration,
    pub timeout: Duration,
    /// A failing critical check fails the service; a failing non-critical one only warns.
    pub critical: bool,
    /// A pass slower than this is reported as warn.
    pub warn_latency: Option<Duration>,
    pub probe: ProbeSpec,
}

/// What a probe connects to, per type (SPEC §3 config keys).
#[derive(Debug, Clone)]
pub enum ProbeSpec {
    /// opsdeck's own database, through the store: always present.
    OwnDatabase,
    Postgres {
        url: Secret,
    },
    Sqlite {
        path: PathBuf,
    },
    Redis {
        url: Secret,
    },
    Http {
        url: Secret,
        method: HttpMethod,
        expect_status: u16,
        expect_body: Option<String>,
        headers: Vec<(String, Secret)>,
    },
    Tcp {
        address: String,
    },
    S3 {
        endpoint: Option<String>,
        bucket: String,
        region: String,
        access_key_id: Option<Secret>,
        secret_access_key: Option<Secret>,
    },
    Filesystem {
        path: PathBuf,
    },
    Disk {
        path: PathBuf,
        warn_free_percent: f64,
        fail_free_percent: f64,
    },
    Tls {
        address: String,
        server_name: Option<String>,
        /// Extra trust roots (PEM), for a certificate issued by a private CA.
        ca_file: Option<PathBuf>,
        warn_days: f64,
        fail_days: f64,
    },
}

/// The methods an `http` check may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Head,
    Post,
}

impl HttpMethod {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Ok(Self::Get),
            "HEAD" => Ok(Self::Head),
            "POST" => Ok(Self::Post),
            _ => Err(format!(
                "unsupported method \"{text}\"; expected GET, HEAD or POST"
            )),
        }
    }

    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Head => reqwest::Method::HEAD,
            Self::Post => reqwest::Method::POST,
        }
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

impl ProbeSpec {
    /// The type name as configured (`own` for opsdeck's own database).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OwnDatabase => "database",
            Self::Postgres { .. } => "postgres",
            Self::Sqlite { .. } => "sqlite",
            Self::Redis { .. } => "redis",
            Self::Http { .. } => "http",
            Self::Tcp { .. } => "tcp",
            Self::S3 { .. } => "s3",
            Self::Filesystem { .. } => "filesystem",
            Self::Disk { .. } => "disk",
            Self::Tls { .. } => "tls",
        }
    }

    pub fn component_type(&self) -> ComponentType {
        match self {
            Self::OwnDatabase
            | Self::Postgres { .. }
            | Self::Sqlite { .. }
            | Self::Redis { .. }
            | Self::S3 { .. } => ComponentType::Datastore,
            Self::Http { .. } | Self::Tcp { .. } => ComponentType::Component,
            Self::Filesystem { .. } | Self::Disk { .. } | Self::Tls { .. } => ComponentType::System,
        }
    }

    /// The health+json measurement name this check reports under (`name:measurement`).
    pub fn measurement(&self) -> &'static str {
        match self {
            Self::Disk { .. } => "freeSpace",
            Self::Tls { .. } => "certificateExpiry",
            _ => "responseTime",
        }
    }

    /// Every secret value of the spec, so the monitor can mask them in probe output even
    /// where an error message quotes them whole.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Self::Postgres { url } | Self::Redis { url } => vec![url.expose()],
            Self::Http { url, headers, .. } => std::iter::once(url.expose())
                .chain(headers.iter().map(|(_, value)| value.expose()))
                .collect(),
            Self::S3 {
                access_key_id,
                secret_access_key,
                ..
            } => [access_key_id, secret_access_key]
                .into_iter()
                .flatten()
                .map(Secret::expose)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A short description of the target without credentials, for the dashboard.
    pub fn target(&self) -> String {
        match self {
            Self::OwnDatabase => "opsdeck's own database".to_owned(),
            Self::Postgres { url } | Self::Redis { url } | Self::Http { url, .. } => {
                opsdeck_core::redact::redact_text(&strip_credentials(url.expose())).into_owned()
            }
            Self::Sqlite { path } | Self::Filesystem { path } | Self::Disk { path, .. } => {
                path.display().to_string()
            }
            Self::Tcp { address } | Self::Tls { address, .. } => address.clone(),
            Self::S3 {
                endpoint, bucket, ..
            } => match endpoint {
                Some(endpoint) => format!("{}/{bucket}", strip_credentials(endpoint)),
                None => format!("s3://{bucket}"),
            },
        }
    }
}

/// A URL without its user-info part; text that does not parse is returned as it is (the
/// redactor still runs over it).
pub fn strip_credentials(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

/// What a probe needs besides its spec.
#[derive(Clone)]
pub struct ProbeContext {
    /// opsdeck's own store, for [`ProbeSpec::OwnDatabase`].
    pub store: Arc<dyn Store>,
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

/// What one probe run found, before timing and scrubbing.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub status: Status,
    /// A measurement other than latency (latency is the monitor's).
    pub observed_value: Option<f64>,
    pub observed_unit: Option<&'static str>,
    /// What is wrong, for warn and fail.
    pub output: Option<String>,
}

impl Observation {
    pub fn pass() -> Self {
        Self {
            status: Status::Pass,
            observed_value: None,
            observed_unit: None,
            output: None,
        }
    }

    pub fn warn(output: impl Into<String>) -> Self {
        Self {
            status: Status::Warn,
            output: Some(output.into()),
            ..Self::pass()
        }
    }

    pub fn fail(output: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            output: Some(output.into()),
            ..Self::pass()
        }
    }

    pub fn with_value(mut self, value: f64, unit: &'static str) -> Self {
        self.observed_value = Some(value);
        self.observed_unit = Some(unit);
        self
    }
}

/// Runs the probe once. Never bounded here: the monitor applies the check's timeout.
pub async fn observe(spec: &ProbeSpec, ctx: &ProbeContext) -> Observation {
    match spec {
        ProbeSpec::OwnDatabase => match ctx.store.ping().await {
            Ok(()) => Observation::pass(),
            Err(err) => Observation::fail(format!("opsdeck's database did not answer: {err}")),
        },
        ProbeSpec::Postgres { url } => postgres::observe(url).await,
        ProbeSpec::Sqlite { path } => sqlite::observe(path).await,
        ProbeSpec::Redis { url } => redis::observe(url).await,
        ProbeSpec::Http {
            url,
            method,
            expect_status,
            expect_body,
            headers,
        } => {
            http::observe(
                &ctx.http,
                url,
                *method,
                *expect_status,
                expect_body.as_deref(),
                headers,
            )
            .await
        }
        ProbeSpec::Tcp { address } => tcp::observe(address).await,
        ProbeSpec::S3 { .. } => s3::observe(spec, ctx).await,
        ProbeSpec::Filesystem { path } => filesystem::observe(path, ctx.instance_id).await,
        ProbeSpec::Disk {
            path,
            warn_free_percent,
            fail_free_percent,
        } => disk::observe(path, *warn_free_percent, *fail_free_percent).await,
        ProbeSpec::Tls {
            address,
            server_name,
            ca_file,
            warn_days,
            fail_days,
        } => {
            tls::observe(
                address,
                server_name.as_deref(),
                ca_file.as_deref(),
                *warn_days,
                *fail_days,
            )
            .await
        }
    }
}
