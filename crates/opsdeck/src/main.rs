//! The `opsdeck` binary: parses flags and calls into the server and store crates.
//! The flag structs deliberately have no `Debug`: `--database-url` may hold a password.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use opsdeck_server::config::{Config, LogFormat};

mod commands;

#[derive(Parser)]
#[command(
    name = "opsdeck",
    version,
    about = "Health, cron monitoring, queues and tenant diagnostics for on-call engineers"
)]
struct Cli {
    /// Configuration file (TOML). Environment variables OPSDECK_* override it.
    #[arg(long, global = true, env = "OPSDECK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server and the background loops.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Validate a configuration file and explain every error with its key path.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
        /// Also connect to each tenant database and prepare every tenant statement there
        /// (none is run); without it nothing connects.
        #[arg(long)]
        connect: bool,
    },
    /// Manage personal tokens and ingest keys.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run a command as a monitored cron job: start ping, output passed through, finish
    /// ping with its exit status and output tail; exits with the command's status.
    Exec(commands::exec::ExecArgs),
    /// Cron monitoring: import monitors from crontabs, Kubernetes CronJobs, vercel.json.
    #[command(subcommand)]
    Cron(commands::cron::CronCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a personal token (--role) or an ingest key (--scopes); prints only the token on stdout.
    Create {
        /// A name that says who or what uses it.
        #[arg(long)]
        name: String,
        /// viewer, operator, support or admin (personal token).
        #[arg(long, conflicts_with = "scopes", required_unless_present = "scopes")]
        role: Option<opsdeck_core::auth::Role>,
        /// Comma-separated: checkins, jobs, events (ingest key).
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<opsdeck_core::token::Scope>>,
        /// Lifetime such as 30d or 12h; without it the token does not expire.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
        /// Why it is created (1–500 characters); kept in the audit log.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List tokens and keys (never their secrets).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token or key by id.
    Revoke {
        id: uuid::Uuid,
        /// Why it is revoked (1–500 characters); kept in the audit log.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; exit code 1 and the first broken entry if it was tampered with.
    /// With --checkpoint, also prove the chain still reaches a signed checkpoint, so deleted
    /// newest entries are caught too.
    Verify {
        /// A signed checkpoint: a file of them, one JSON object per line (the last is
        /// used), or one checkpoint as JSON.
        #[arg(long, value_name = "FILE|JSON")]
        checkpoint: Option<String>,
        /// A public key the checkpoint must be signed with: base64, as opsdeck logs it and
        /// `opsdeck audit public-key` prints it, or a PEM file. Repeat it for the keys of
        /// several replicas. Without it the key the checkpoint carries is used, with a
        /// warning.
        #[arg(long = "public-key", value_name = "KEY", requires = "checkpoint")]
        public_keys: Vec<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print the public key of the configured audit checkpoint key (the only line on
    /// stdout) and its key id, for verifiers to pin.
    PublicKey,
}

#[derive(clap::Args)]
struct DatabaseArgs {
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB (overrides OPSDECK_DATABASE_URL).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (overrides OPSDECK_LISTEN).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    #[command(flatten)]
    database: DatabaseArgs,

    /// Log format: auto (text on a terminal, JSON otherwise), json or text.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<LogFormat>,

    /// Start with demo data in its own embedded database (opsdeck-demo.db).
    #[arg(long)]
    demo: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve(cli.config, args).await,
            Command::Migrate(args) => commands::migrate(cli.config, args).await,
            Command::CheckConfig { file, connect } => commands::check_config(&file, connect).await,
            Command::Token(command) => commands::token_command(cli.config, command).await,
            Command::Audit(AuditCommand::Verify {
                checkpoint,
                public_keys,
                database,
            }) => {
                let opened = commands::open_store(cli.config, database).await?;
                let args = commands::audit::VerifyArgs {
                    checkpoint,
                    public_keys,
                };
                commands::audit::verify(opened.store.as_ref(), args).await
            }
            Command::Audit(AuditCommand::PublicKey) => {
                let config = load_config(cli.config, Default::default())?;
                commands::audit::public_key(&config)
            }
            Command::Exec(args) => commands::exec::exec(args).await,
            Command::Cron(command) => commands::cron::run(command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the configuration from file, environment and flags.
fn load_config(
    file: Option<PathBuf>,
    overrides: opsdeck_server::config::Overrides,
) -> anyhow::Result<Config> {
    Config::load_from_process(file.as_deref(), overrides)
        .map_err(|errors| anyhow::anyhow!("invalid configuration:\n{errors}"))
}
