//! Configuration: the typed schema with its defaults, and loading it from layers.
//!
//! Precedence, lowest first: built-in defaults, a TOML file (`--config FILE`, or
//! `OPSDECK_CONFIG`), `OPSDECK_*` environment variables, command-line flags ([`Overrides`]).
//! Loading does not stop at the first problem: every unknown key, type error, unresolved
//! `env:` or `file:` secret and failed check is reported with its key path and the layer it
//! came from.
//!
//! Adding a section: a struct with `#[serde(default, deny_unknown_fields)]` and a `Default`
//! impl, a field in [`Config`], and, if it has rules serde cannot express, a `problems`
//! method listed in `validate.rs`. Environment variables, unknown-key reports, `env:` and
//! `file:` secrets (`opsdeck_core::secret`) and the example-file test follow from the struct.

mod alerts;
mod audit;
mod auth;
pub mod bytes;
mod check;
mod cron;
pub mod duration;
mod env;
mod error;
mod events;
mod health;
mod impersonation;
mod load;
mod model;
mod net;
mod path;
mod queues;
mod shape;
mod tenants;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use opsdeck_core::secret::REDACTED;

pub use alerts::{AlertsConfig, WebhookConfig, WebhookFormat};
pub use audit::AuditConfig;
pub use auth::{AuthConfig, OidcConfig, ProxyConfig, RoleMap, SUPPORTED_ALGORITHMS, same_header};
pub use check::{ConnectionCheck, check_connections, check_file, check_file_with_env};
pub use cron::{CronConfig, JobDefinition, JobRequest, MonitorDefinition, WindowDefinition};
pub use env::{Env, env_var_name};
pub use error::{ConfigErrors, ConfigIssue, Origin};
pub use events::EventsConfig;
pub use health::{CheckConfig, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, HealthConfig};
pub use impersonation::ImpersonationConfig;
pub use model::{
    BackgroundConfig, Config, DEFAULT_DATABASE_URL, DatabaseConfig, LogConfig, LogFormat,
    MetricsConfig, RateLimitConfig, ServerConfig, SessionConfig,
};
pub use net::{Cidr, TrustedProxies};
pub use queues::{PushKeys, QueuesConfig, SourceConfig, SourceKind, ThresholdConfig};
pub use tenants::{TenantQueryConfig, TenantsConfig};

use load::Builder;

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_FILE_VAR: &str = "OPSDECK_CONFIG";

/// Values from command-line flags, applied over every other layer.
#[derive(Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--database-url`; may be an `env:NAME` or `file:/path` reference.
    pub database_url: Option<String>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overrides")
            .field("listen", &self.listen)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| REDACTED),
            )
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// What [`Config::load`] reads.
#[derive(Debug, Clone)]
pub struct LoadOptions<'a> {
    /// The `--config` file; `None` falls back to `OPSDECK_CONFIG`, then to no file.
    pub file: Option<&'a Path>,
    /// The environment: `OPSDECK_*` keys and the targets of `env:` references.
    pub env: &'a Env,
    /// Command-line flags.
    pub overrides: Overrides,
}

impl Config {
    /// Loads defaults < file < environment < flags, or returns every problem found.
    pub fn load(options: &LoadOptions<'_>) -> Result<Self, ConfigErrors> {
        load_layers(options).map(|loaded| loaded.config)
    }

    /// [`Config::load`] with the process environment.
    pub fn load_from_process(
        file: Option<&Path>,
        overrides: Overrides,
    ) -> Result<Self, ConfigErrors> {
        Self::load(&LoadOptions {
            file,
            env: &Env::from_process(),
            overrides,
        })
    }

    /// Defaults < `text` (reported as coming from `origin`, e.g. a file name). `env` only
    /// serves `env:` references; `OPSDECK_*` variables are not applied.
    pub fn from_toml_str(text: &str, origin: &str, env: &Env) -> Result<Self, ConfigErrors> {
        let mut builder = Builder::new(env);
        builder.toml_text(text, Origin::File(origin.to_owned()));
        builder
            .finish(&Overrides::default())
            .map(|loaded| loaded.config)
    }

    /// Every key path of the schema (`server.listen`, `metrics.token`, …), secrets and
    /// optional keys included.
    pub fn key_paths() -> Vec<String> {
        shape::key_paths(&shape::default_shape())
    }
}

/// The full load, keeping what it was made of for summaries.
fn load_layers(options: &LoadOptions<'_>) -> Result<load::Loaded, ConfigErrors> {
    let mut builder = Builder::new(options.env);
    let from_env = options
        .env
        .get(CONFIG_FILE_VAR)
        .filter(|value| !value.is_empty())
        .map(Path::new);
    if let Some(file) = options.file.or(from_env) {
        builder.file(file);
    }
    builder.env_vars();
    builder.finish(&options.overrides)
}
