//! `opsdeck exec <slug> -- <command…>`: the flags, then [`opsdeck_client::exec::run`].
//!
//! Nothing here may keep the command from running: a missing URL or key, a slug opsdeck
//! would refuse or a URL that does not parse each get a warning on stderr, and the
//! command runs unmonitored. The wrapper exits with the command's status, so cron, CI or
//! Kubernetes see what they would have seen without it.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use opsdeck_client::exec::{Exec, TAIL_BYTES, run};
use opsdeck_client::ping::{Pinger, RetryPolicy};
use opsdeck_core::ids::Slug;

#[derive(clap::Args)]
pub struct ExecArgs {
    /// The monitor's slug (a-z, 0-9, '_' and '-').
    slug: String,

    /// opsdeck's base URL, such as https://ops.example.com.
    #[arg(long, env = "OPSDECK_URL", value_name = "URL")]
    url: Option<String>,

    /// Ingest key with the checkins scope (opsdeck_key_…). Prefer the environment
    /// variable: a flag is visible to every user in the process list.
    #[arg(
        long,
        env = "OPSDECK_PING_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    key: Option<String>,

    /// The longest each ping may take, retries included, such as 4s or 1500ms.
    #[arg(long, default_value = "4s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Duration,

    /// Create the monitor on its first ping if it does not exist (`?create=1`).
    #[arg(long)]
    create: bool,

    /// The command to run and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

pub async fn exec(args: ExecArgs) -> anyhow::Result<ExitCode> {
    let pinger = pinger(&args).map_err(|why| {
        eprintln!("opsdeck exec: warning: {why}; the command runs without monitoring");
    });
    let code = run(Exec {
        command: args.command,
        pinger: pinger.ok(),
        tail_bytes: TAIL_BYTES,
    })
    .await;
    Ok(ExitCode::from(code))
}

fn pinger(args: &ExecArgs) -> Result<Pinger, String> {
    let url = args
        .url
        .as_deref()
        .ok_or("no opsdeck URL: pass --url or set OPSDECK_URL")?;
    let key = args
        .key
        .as_deref()
        .filter(|k| !k.trim().is_empty())
        .ok_or("no ping key: set OPSDECK_PING_KEY (or pass --key)")?;
    let slug = Slug::parse(&args.slug).map_err(|e| e.to_string())?;
    let policy = RetryPolicy {
        budget: args.timeout,
        ..RetryPolicy::default()
    };
    Pinger::new(url, key.trim(), slug.as_str())
        .map(|p| p.create(args.create).with_policy(policy))
        .map_err(|e| e.to_string())
}
