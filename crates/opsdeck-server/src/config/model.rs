//! The configuration schema: one struct per TOML section, each with its built-in defaults.
//!
//! Every section is `#[serde(default, deny_unknown_fields)]`: a missing key takes its default,
//! a misspelt one is an error. Semantic checks live in `validate.rs`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use opsdeck_core::secret::Secret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::alerts::AlertsConfig;
use super::audit::AuditConfig;
use super::auth::AuthConfig;
use super::cron::CronConfig;
use super::events::EventsConfig;
use super::health::HealthConfig;
use super::impersonation::ImpersonationConfig;
use super::net::{TrustedProxies, socket_addr};
use super::queues::QueuesConfig;
use super::tenants::TenantsConfig;
use super::{bytes, duration};

/// The database used when none is configured: an embedded SQLite file.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://opsdeck.db";

/// The whole configuration. `Debug` and `Serialize` show secrets as `***`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`: the HTTP listener.
    pub server: ServerConfig,
    /// `[database]`: where state lives.
    pub database: DatabaseConfig,
    /// `[log]`: log format and filter.
    pub log: LogConfig,
    /// `[metrics]`: the `/metrics` endpoint.
    pub metrics: MetricsConfig,
    /// `[background]`: leader election and replica bookkeeping.
    pub background: BackgroundConfig,
    /// `[auth]`: single sign-on (OIDC bearer tokens, trusted proxy headers).
    pub auth: AuthConfig,
    /// `[session]`: dashboard sign-in sessions.
    pub session: SessionConfig,
    /// `[rate_limit]`: per-principal, per-address and per-key request budgets.
    pub rate_limit: RateLimitConfig,
    /// `[audit]`: signed checkpoints of the audit log's head.
    pub audit: AuditConfig,
    /// `[health]`: background probes served at `/ops/health`.
    pub health: HealthConfig,
    /// `[alerts]`: webhooks told about status changes.
    pub alerts: AlertsConfig,
    /// `[cron]`: cron monitors and HTTP cron jobs.
    pub cron: CronConfig,
    /// `[queues]`: the application's queue systems.
    pub queues: QueuesConfig,
    /// `[impersonation]`: audited impersonation tokens for tenant users.
    pub impersonation: ImpersonationConfig,
    /// `[tenants]`: the application's database as a read-only source of tenant facts.
    pub tenants: TenantsConfig,
    /// `[events]`: application event ingest and retention.
    pub events: EventsConfig,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to bind (`OPSDECK_LISTEN`).
    #[serde(with = "socket_addr")]
    pub listen: SocketAddr,
    /// Longest a request may take before it is answered 503.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Largest accepted request body, in bytes.
    #[serde(with = "bytes")]
    pub body_limit: usize,
    /// How long in-flight requests and HTTP cron job calls may take to finish on SIGTERM;
    /// a job call still going then is recorded as failed.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// Peers whose `X-Forwarded-*` headers are honoured; exempt from the per-client
    /// connection limit.
    pub trusted_proxies: TrustedProxies,
    /// How long a client has to send a request's head; a partial one is then answered 408.
    #[serde(with = "duration")]
    pub header_timeout: Duration,
    /// How long a client has to send a request's body once its head arrived; then 408.
    #[serde(with = "duration")]
    pub body_timeout: Duration,
    /// Connections open at once at most; past it a new one is answered 503.
    pub max_connections: usize,
    /// Connections open at once from one address at most (trusted proxies excepted).
    pub max_connections_per_client: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            request_timeout: Duration::from_secs(30),
            body_limit: 1 << 20,
            shutdown_grace: Duration::from_secs(20),
            trusted_proxies: TrustedProxies::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_connections_per_client: 256,
        }
    }
}

/// `[database]`: where state lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` or `postgres://…` (`OPSDECK_DATABASE_URL`); may hold a password.
    pub url: Secret,
    /// Upper bound of the connection pool.
    pub max_connections: u32,
    /// Longest wait for a pooled connection.
    #[serde(with = "duration")]
    pub acquire_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new(DEFAULT_DATABASE_URL.to_owned()),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// `[log]`: log format and filter.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Line format (`OPSDECK_LOG_FORMAT`).
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info` or `opsdeck=debug,sqlx=warn` (`OPSDECK_LOG`).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

impl LogFormat {
    /// All formats, in the order the documentation lists them.
    pub const ALL: [Self; 3] = [Self::Auto, Self::Json, Self::Text];

    /// The name used in the file, the environment and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Json => "json",
            Self::Text => "text",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = String;

    /// Case-insensitive, so `OPSDECK_LOG_FORMAT=JSON` works as well as `json`.
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("unknown log format \"{text}\"; expected one of auto, json, text")
            })
    }
}

impl Serialize for LogFormat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `[metrics]`: the `/metrics` endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Bearer token a scraper must present (`OPSDECK_METRICS_TOKEN`). Unset: `/metrics`
    /// answers 404.
    pub token: Option<Secret>,
    /// The most cron monitors that get series of their own (the first by slug); the
    /// counts by status cover every monitor. Keeps a scrape small with many monitors.
    pub cron_monitor_series: u32,
}

/// Per-monitor cron series at most, by default: about 8 MB of text per scrape.
pub const DEFAULT_CRON_MONITOR_SERIES: u32 = 10_000;

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            token: None,
            cron_monitor_series: DEFAULT_CRON_MONITOR_SERIES,
        }
    }
}

/// `[background]`: leader election and replica bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackgroundConfig {
    /// Lease TTL of the leader; the leader renews it every third of it.
    #[serde(with = "duration")]
    pub leader_lease: Duration,
    /// How often each replica records that it is alive.
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// Replicas not seen for this long are pruned.
    #[serde(with = "duration")]
    pub instance_retention: Duration,
}

impl BackgroundConfig {
    /// How often the leader renews its lease: a third of it, so two renewals can fail
    /// before another replica may take over.
    pub fn leader_renew_interval(&self) -> Duration {
        self.leader_lease / 3
    }
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            leader_lease: Duration::from_secs(15),
            heartbeat_interval: Duration::from_secs(10),
            instance_retention: Duration::from_secs(600),
        }
    }
}

/// `[session]`: dashboard sign-in sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    #[serde(with = "duration")]
    pub absolute_timeout: Duration,
    /// Mark the cookie `Secure` (HTTPS only). Turn off only for plain-HTTP localhost.
    pub secure_cookie: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(8 * 3600),
            secure_cookie: true,
        }
    }
}

/// `[rate_limit]`: GCRA budgets, each a sustained rate per minute and a burst that may be
/// spent at once. Kept in this process's memory, so every replica enforces them on its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Off: no request is ever answered 429 (for load tests behind another limiter).
    pub enabled: bool,
    /// GET and HEAD requests per principal.
    pub reads_per_minute: u32,
    /// Reads a principal may make at once.
    pub read_burst: u32,
    /// Every other method per principal: tighter, writes change things.
    pub writes_per_minute: u32,
    /// Writes a principal may make at once.
    pub write_burst: u32,
    /// Refused credentials per client address; past the burst, credentials from that
    /// address are not even looked up until the budget refills.
    pub failed_auth_per_minute: u32,
    /// Refused credentials an address may present at once.
    pub failed_auth_burst: u32,
    /// Ingest API calls per ingest key: applications report far more than people read.
    pub ingest_per_minute: u32,
    /// Ingest calls a key may make at once.
    pub ingest_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reads_per_minute: 600,
            read_burst: 60,
            writes_per_minute: 30,
            write_burst: 10,
            failed_auth_per_minute: 10,
            failed_auth_burst: 5,
            ingest_per_minute: 6000,
            ingest_burst: 600,
        }
    }
}
