//! `opsdeck cron …`: cron monitoring from the command line. `import` reads monitors from
//! crontabs, Kubernetes CronJobs and `vercel.json` ([`opsdeck_core::cron::import`]),
//! prints what it found and, with `--apply`, creates them through the admin API.

mod apply;
mod import;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use opsdeck_core::cron::import::Format;

#[derive(Subcommand)]
pub enum CronCommand {
    /// Read monitors from crontabs, Kubernetes CronJob manifests or vercel.json. A dry run
    /// unless --apply: prints each monitor and each line it could not read, with why.
    ///
    /// A crontab line can choose its slug with a comment directly above it:
    /// `# opsdeck: slug=nightly-backup name="Nightly backup"`.
    /// Exit status 0 when every job was read, 1 when some could not be (or, with --apply,
    /// could not be created), 2 for bad flags.
    Import(ImportArgs),
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Files to read; `-` reads standard input (such as `crontab -l | opsdeck cron import -`).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// crontab, system-crontab (/etc/crontab, /etc/cron.d: with a user column), k8s or
    /// vercel. Guessed from each file's name and content when not given.
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,

    /// The zone of jobs that name none (crontabs without CRON_TZ, CronJobs without
    /// timeZone): the zone of the machine they run on. UTC when not given.
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,

    /// Create the monitors (POST /ops/cron) instead of only showing them.
    #[arg(long)]
    apply: bool,

    /// opsdeck's base URL, for --apply.
    #[arg(long, env = "OPSDECK_URL", value_name = "URL")]
    url: Option<String>,

    /// An admin personal token, for --apply.
    #[arg(
        long,
        env = "OPSDECK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
}

fn parse_format(text: &str) -> Result<Format, String> {
    text.parse()
}

pub async fn run(command: CronCommand) -> anyhow::Result<ExitCode> {
    match command {
        CronCommand::Import(args) => import::import(args).await,
    }
}
