//! `serve --demo`: a separate embedded database so demo data never mixes with real data, and
//! a scrape token so a newcomer can read `/metrics` at once. Each area seeds its own demo
//! data here as it arrives: health probes, an HTTP cron job and a `push` queue source in
//! the configuration ([`prepare`]), cron monitors with their history in the store, the
//! made-up application that feeds the queue source and answers its retry webhook, that
//! application's events about its tenants, and its own database (SQLite) which `[tenants]`
//! reads for the directory and the tenant pages ([`seed`], once the application is built
//! and before it serves).
//!
//! A probe and the HTTP job call the demo's own `/livez`, so [`prepare`] must know the
//! address it really listens on: the demo binds first and is built on that listener
//! ([`crate::Application::build_on`]), because with `--listen 127.0.0.1:0` only binding
//! picks the port.

mod app_database;
mod cron;
mod queues;
mod tenants;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use opsdeck_connectors::health::disk::Disk;
use opsdeck_connectors::health::filesystem::Filesystem;
use opsdeck_connectors::health::http::Http;
use opsdeck_connectors::health::sqlite::Sqlite;
use opsdeck_connectors::health::tcp::Tcp;
use opsdeck_core::secret::Secret;

pub use app_database::path_for as app_database_path;

use crate::config::{CheckConfig, Config, JobDefinition};
use crate::state::AppState;

/// The database a demo uses when none was configured explicitly.
pub const DEMO_DATABASE_URL: &str = "sqlite://opsdeck-demo.db";

/// What the demo set up that the user needs to know.
#[derive(Debug)]
pub struct DemoNotes {
    pub metrics_token: Option<String>,
    /// Whether [`seed`] adds cron monitors: the configuration declares none.
    seed_cron: bool,
    /// Whether the database is the demo's own, so [`seed`] may replace what an earlier
    /// demo left there.
    own_database: bool,
    /// The demo's queue source, unless the configuration declares sources of its own.
    queues: Option<queues::DemoQueues>,
    /// The made-up shop's own database, which `[tenants]` reads, unless the configuration
    /// declares tenant sources of its own.
    app_database: Option<PathBuf>,
}

/// Adjusts the configuration for a demo: its own database file unless one was given, and
/// a fresh scrape token unless one was configured. `server.listen` must be the address
/// bound already (see the module docs): the demo's probe and job call it.
pub fn prepare(config: &mut Config, database_given: bool) -> DemoNotes {
    if !database_given {
        config.database.url = Secret::new(DEMO_DATABASE_URL.to_owned());
    }
    let mut notes = DemoNotes {
        metrics_token: None,
        seed_cron: config.cron.monitors.is_empty(),
        own_database: !database_given,
        queues: None,
        app_database: None,
    };
    if config.metrics.token.is_none() {
        let token = format!("demo-{}", uuid::Uuid::new_v4().simple());
        config.metrics.token = Some(Secret::new(token.clone()));
        notes.metrics_token = Some(token);
    }
    if config.health.checks.is_empty() {
        config.health.checks = demo_checks(config);
    }
    if config.cron.jobs.is_empty() {
        config.cron.jobs = demo_jobs(config);
    }
    notes.queues = queues::prepare(config);
    let tenants = &config.tenants;
    if tenants.url.is_none() && tenants.directory.is_none() && tenants.queries.is_empty() {
        let path = app_database::path_for(config.database.url.expose());
        app_database::configure(config, &path);
        notes.app_database = Some(path);
    }
    // The demo is served over plain HTTP on this machine; a `Secure` cookie would not be
    // sent back by every browser there.
    if config.server.listen.ip().is_loopback() {
        config.session.secure_cookie = false;
    }
    notes
}

/// Starts the demo's queues (see `queues`) and writes its cron monitors and their history
/// (see `cron`), unless the configuration declares monitors of its own. Call it after
/// [`crate::Application::build`] and before the application runs, so no background loop
/// writes the monitors meanwhile.
pub async fn seed(state: &AppState, notes: &DemoNotes) -> anyhow::Result<()> {
    if let Some(demo) = &notes.queues
        && let Err(err) = queues::start(state, demo).await
    {
        tracing::error!(
            error = format!("{err:#}"),
            "could not start the demo queues"
        );
    }
    if let Some(path) = &notes.app_database
        && let Err(err) = app_database::write(path, state.clock().now()).await
    {
        tracing::error!(
            error = format!("{err:#}"),
            path = %path.display(),
            "could not write the demo's application database"
        );
    }
    if let Err(err) = tenants::seed(state.store().as_ref(), state.clock().now()).await {
        tracing::error!(
            error = format!("{err:#}"),
            "could not write the demo's application events"
        );
    }
    if !notes.seed_cron {
        return Ok(());
    }
    cron::seed(
        state.store().as_ref(),
        state.clock().now(),
        notes.own_database,
    )
    .await
}

/// The URL of this server's own `/livez`. A wildcard address (`0.0.0.0`, `::`) is where
/// the server listens, not an address to call: the loopback one of its family is.
fn own_livez(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/livez", SocketAddr::new(ip, listen.port()))
}

/// An HTTP job the scheduler fires every minute against this server's own `/livez`, so
/// the scheduler's runs appear without any application to call.
fn demo_jobs(config: &Config) -> Vec<JobDefinition> {
    // Parsed like a `[[cron.jobs]]` table, so it takes whatever keys a job takes.
    let table = format!(
        "slug = \"warm-cache\"\nname = \"Warm the page cache\"\nschedule = \"* * * * *\"\n\
         url = \"{}\"\nmethod = \"GET\"\ntimeout = \"5s\"\n\
         expect_status = 200\ntags = [\"demo\"]\n",
        own_livez(config.server.listen)
    );
    match toml::from_str::<JobDefinition>(&table) {
        Ok(job) => vec![job],
        Err(err) => {
            tracing::warn!(error = %err, "the demo HTTP cron job is invalid; left out");
            Vec::new()
        }
    }
}

/// Probes that work on any fresh machine, so the overview is alive at once: the demo's own
/// database file, a scratch directory, the disk, this server's own `/livez`, and one
/// non-critical probe of a port nothing listens on, so a failing tile can be seen.
fn demo_checks(config: &Config) -> Vec<CheckConfig> {
    let mut checks = Vec::new();
    if let Some(file) = config
        .database
        .url
        .expose()
        .strip_prefix("sqlite://")
        .filter(|file| !file.is_empty() && !file.starts_with(':'))
    {
        let path = file.split('?').next().unwrap_or(file).into();
        checks.push(CheckConfig::new("demo-sqlite", Sqlite { path }));
    }
    checks.push(CheckConfig::new(
        "scratch-dir",
        Filesystem {
            path: std::env::temp_dir(),
        },
    ));
    checks.push(CheckConfig::new("disk", Disk::new(".")));
    checks.push(CheckConfig {
        warn_latency: Some(Duration::from_millis(250)),
        ..CheckConfig::new(
            "self-livez",
            Http::get(Secret::new(own_livez(config.server.listen))),
        )
    });
    checks.push(CheckConfig {
        critical: Some(false),
        timeout: Some(Duration::from_secs(1)),
        ..CheckConfig::new(
            "legacy-billing",
            Tcp {
                address: "127.0.0.1:9".to_owned(),
            },
        )
    });
    for check in &mut checks {
        check.interval = Some(Duration::from_secs(10));
    }
    checks
}
