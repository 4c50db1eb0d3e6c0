//! `opsdeck check-config`: validating a file as `serve` would load it, and a short redacted
//! summary of the result.

use std::fmt::Write as _;
use std::path::Path;

use super::env::Env;
use super::error::ConfigErrors;
use super::model::Config;
use super::tenants::TenantsConfig;
use super::{LoadOptions, Overrides, bytes, load_layers};

/// Validates `file` with the process environment; see [`check_file_with_env`].
pub fn check_file(file: &Path) -> Result<String, ConfigErrors> {
    check_file_with_env(file, &Env::from_process())
}

/// Loads `file` exactly as `opsdeck serve --config FILE` would (`OPSDECK_*` variables and
/// `env:` references included, no flags) and returns a summary of the result, or every
/// problem found.
pub fn check_file_with_env(file: &Path, env: &Env) -> Result<String, ConfigErrors> {
    let loaded = load_layers(&LoadOptions {
        file: Some(file),
        env,
        overrides: Overrides::default(),
    })?;
    let mut summary = loaded.config.summary();
    if !loaded.env_vars.is_empty() {
        let _ = write!(
            summary,
            "\n  overridden by environment: {}",
            loaded.env_vars.join(", ")
        );
    }
    Ok(summary)
}

/// What `check-config --connect` found for one statement: its key path and whether it
/// prepared on its database (the message is safe to show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheck {
    pub key: String,
    pub outcome: Result<(), String>,
}

/// Connects to every tenant source of `config` and prepares each statement there without
/// running it: the directory, then each `[[tenants.queries]]` entry.
pub async fn check_connections(config: &Config) -> Vec<ConnectionCheck> {
    let sources = config.tenants.sources();
    sources
        .prepare_all()
        .await
        .into_iter()
        .map(|(target, outcome)| ConnectionCheck {
            key: TenantsConfig::key_of(&target),
            outcome: outcome.map_err(|e| e.to_string()),
        })
        .collect()
}

impl Config {
    /// A few lines describing the configuration, without secrets (the database is named by
    /// its scheme only), for `check-config` and start-up logs.
    pub fn summary(&self) -> String {
        let human = |d| humantime::format_duration(d).to_string();
        let server = &self.server;
        let proxies = if server.trusted_proxies.is_empty() {
            "none".to_owned()
        } else {
            let ranges: Vec<String> = server
                .trusted_proxies
                .ranges()
                .iter()
                .map(ToString::to_string)
                .collect();
            ranges.join(", ")
        };
        let database = &self.database;
        let scheme = database.url.expose().split(':').next().unwrap_or_default();
        let metrics = match &self.metrics.token {
            Some(_) => "token set, /metrics enabled",
            None => "no token, /metrics answers 404",
        };
        let background = &self.background;
        [
            format!(
                "  server      listen {}, request timeout {}, body limit {}, shutdown grace {}, trusted proxies: {proxies}",
                server.listen,
                human(server.request_timeout),
                bytes::format(server.body_limit),
                human(server.shutdown_grace),
            ),
            format!(
                "  database    {scheme}, up to {} connections, acquire timeout {}",
                database.max_connections,
                human(database.acquire_timeout),
            ),
            format!("  log         format {}, level {}", self.log.format, self.log.level),
            format!("  metrics     {metrics}"),
            format!(
                "  background  leader lease {}, heartbeat {}, replica retention {}",
                human(background.leader_lease),
                human(background.heartbeat_interval),
                human(background.instance_retention),
            ),
            self.audit.summary(),
            self.impersonation.summary(),
            self.tenants.summary(),
        ]
        .join("\n")
    }
}
