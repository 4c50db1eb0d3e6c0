//! The subcommands, each a thin call into the library crates.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use opsdeck_server::config::Overrides;
use opsdeck_server::{Application, BuildOptions, demo, telemetry};
use opsdeck_store::{DatabaseUrl, PoolSettings};
use tracing::{error, info};

use crate::{DatabaseArgs, ServeArgs, TokenCommand, load_config};

pub mod audit;
pub mod cron;
pub mod exec;
mod token;

pub async fn serve(config_file: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = load_config(
        config_file,
        Overrides {
            listen: args.listen,
            database_url: args.database.database_url,
            log_format: args.log_format,
        },
    )?;
    // A demo gets its own database file unless the user named a database explicitly.
    let database_given =
        config.database.url.expose() != opsdeck_server::config::DEFAULT_DATABASE_URL;
    telemetry::init(config.log.format, &config.log.level)?;
    let (app, notes) = if args.demo {
        // The demo calls itself: it binds first, so the URLs it configures name the port
        // it really got (`--listen 127.0.0.1:0` picks one only when binding).
        let listener = Application::bind(config.server.listen).await?;
        config.server.listen = listener.local_addr()?;
        let notes = demo::prepare(&mut config, database_given);
        let app = Application::build_on(config, listener, BuildOptions::default()).await?;
        (app, Some(notes))
    } else {
        (
            Application::build(config, BuildOptions::default()).await?,
            None,
        )
    };
    let addr = app.local_addr()?;
    let state = app.state();
    if let Some(token) =
        opsdeck_server::auth::ensure_bootstrap_admin(state.store().as_ref(), state.clock().as_ref())
            .await?
    {
        let database = database_flag(state.config());
        eprintln!(
            "\nNo admin token existed, so opsdeck created one. It is shown only now:\n\n    {token}\n\n\
             Sign in at http://{addr}/login with it, or send it as `Authorization: Bearer <token>`.\n\
             Create personal tokens (on this database), then revoke this one:\n\n    \
             opsdeck token create{database} --name jane --role operator --reason \"on-call access\"\n    \
             opsdeck token list{database}\n\n\
             (Before installing opsdeck, run these as `cargo run -- token …`.)\n"
        );
    }
    if let Some(notes) = &notes
        && let Err(err) = demo::seed(state, notes).await
    {
        error!(
            error = format!("{err:#}"),
            "could not add the demo cron monitors"
        );
    }
    info!(address = %addr, url = %format!("http://{addr}/"), "listening");
    if let Some(notes) = notes {
        eprintln!("opsdeck demo is running at http://{addr}/ (sign in at http://{addr}/login)");
        eprintln!("  readiness: http://{addr}/readyz");
        if let Some(token) = notes.metrics_token {
            eprintln!("  metrics:   curl -H 'Authorization: Bearer {token}' http://{addr}/metrics");
        }
    }
    app.run_until(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(config_file: Option<PathBuf>, args: DatabaseArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(
        config_file,
        Overrides {
            database_url: args.database_url,
            ..Overrides::default()
        },
    )?;
    let url = DatabaseUrl::parse(config.database.url.expose())?;
    let pool = PoolSettings {
        max_connections: 2,
        acquire_timeout: config.database.acquire_timeout,
    };
    let report = opsdeck_store::migrate(&url, &pool).await?;
    let version = report
        .current_version
        .map_or_else(|| "none".to_owned(), |v| v.to_string());
    eprintln!(
        "{url}: schema at version {version} ({} migration(s) applied now)",
        report.applied.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `check-config FILE [--connect]`: exit code 2 for an invalid file, 1 when `--connect`
/// finds a statement that does not prepare on its database.
pub async fn check_config(file: &Path, connect: bool) -> anyhow::Result<ExitCode> {
    match opsdeck_server::config::check_file(file) {
        Ok(summary) => {
            eprintln!("{}: valid", file.display());
            eprintln!("{summary}");
            if !connect {
                return Ok(ExitCode::SUCCESS);
            }
            let config = load_config(Some(file.to_owned()), Overrides::default())?;
            let checks = opsdeck_server::config::check_connections(&config).await;
            if checks.is_empty() {
                eprintln!("--connect: no tenant source to connect to");
            }
            let mut failed = 0;
            for check in &checks {
                match &check.outcome {
                    Ok(()) => eprintln!("  {}: ok", check.key),
                    Err(message) => {
                        failed += 1;
                        eprintln!("  {}: {message}", check.key);
                    }
                }
            }
            if failed > 0 {
                eprintln!(
                    "{}: {failed} statement(s) failed to prepare",
                    file.display()
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{}: invalid configuration", file.display());
            eprintln!("{errors}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            error!(error = %err, "could not listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                error!(error = %err, "could not listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("received SIGINT"),
        () = terminate => info!("received SIGTERM"),
    }
}

/// The `--database-url …` flag that points a command at the database this server uses:
/// empty for the default database; the URL itself when it holds no password; else the
/// variable it should come from, so the banner never prints a password.
fn database_flag(config: &opsdeck_server::config::Config) -> String {
    let url = config.database.url.expose();
    if url == opsdeck_server::config::DEFAULT_DATABASE_URL {
        return String::new();
    }
    match DatabaseUrl::parse(url) {
        Ok(parsed) if parsed.to_string() == url => format!(" --database-url {url}"),
        _ => " --database-url \"$OPSDECK_DATABASE_URL\"".to_owned(),
    }
}

/// A database opened for a one-off command, and how to name it to the user (credentials
/// hidden).
pub struct OpenedStore {
    pub store: std::sync::Arc<dyn opsdeck_core::Store>,
    pub url: String,
}

/// Opens (and migrates) the configured database for a one-off command.
pub async fn open_store(
    config_file: Option<PathBuf>,
    args: DatabaseArgs,
) -> anyhow::Result<OpenedStore> {
    let config = load_config(
        config_file,
        Overrides {
            database_url: args.database_url,
            ..Overrides::default()
        },
    )?;
    let url = DatabaseUrl::parse(config.database.url.expose())?;
    let pool = PoolSettings {
        max_connections: 2,
        acquire_timeout: config.database.acquire_timeout,
    };
    Ok(OpenedStore {
        store: opsdeck_store::connect(&url, &pool).await?,
        url: url.to_string(),
    })
}

pub async fn token_command(
    config_file: Option<PathBuf>,
    command: TokenCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create {
            name,
            role,
            scopes,
            expires_in,
            reason,
            database,
        } => {
            let opened = open_store(config_file, database).await?;
            let args = token::CreateArgs {
                name,
                role,
                scopes,
                expires_in,
                reason,
            };
            token::create(opened, args).await
        }
        TokenCommand::List { database } => {
            token::list(open_store(config_file, database).await?).await
        }
        TokenCommand::Revoke {
            id,
            reason,
            database,
        } => token::revoke(open_store(config_file, database).await?, id, &reason).await,
    }
}
