//! `opsdeck cron import --apply`: creates each monitor through `POST /ops/cron` and says
//! what became of it. A 409 means the slug exists and is left as it is, so running the
//! import again after fixing a file creates only what is new. A refused token or an
//! unreachable opsdeck stops at the first monitor rather than failing every one alike.

use std::io::Write;

use opsdeck_client::{Client, Created, Error, NewCronMonitor};
use opsdeck_core::cron::import::ImportedMonitor;

/// Where to create the monitors.
pub struct Target {
    pub url: String,
    pub token: String,
}

/// The longest audit reason opsdeck accepts.
const REASON_MAX_CHARS: usize = 500;

/// Creates the monitors; true when every one was created or existed already.
pub async fn apply(target: &Target, monitors: &[ImportedMonitor]) -> anyhow::Result<bool> {
    let client = Client::new(&target.url)?.with_token(target.token.clone());
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nApplying to {}:", target.url)?;
    let (mut created, mut existing, mut failed) = (0, 0, 0);
    for (index, monitor) in monitors.iter().enumerate() {
        let slug = monitor.spec.slug().as_str();
        let request = NewCronMonitor {
            slug: slug.to_owned(),
            name: monitor.spec.name().to_string(),
            schedule: monitor.expr().to_owned(),
            tz: monitor.tz().to_owned(),
            paused: monitor.spec.is_paused(),
            reason: reason(monitor),
        };
        match client.create_cron_monitor(&request).await {
            Ok(Created::Created) => {
                created += 1;
                let paused = if request.paused { " (paused)" } else { "" };
                writeln!(out, "  created  {slug}{paused}")?;
            }
            Ok(Created::AlreadyExists) => {
                existing += 1;
                writeln!(out, "  exists   {slug} (left as it is)")?;
            }
            Err(error) if stops_everything(&error) => {
                let left = monitors.len() - index;
                failed += left;
                writeln!(out, "  failed   {slug}: {error}")?;
                writeln!(out, "Stopped: {}; {left} not created.", advice(&error))?;
                break;
            }
            Err(error) => {
                failed += 1;
                writeln!(out, "  failed   {slug}: {error}")?;
            }
        }
    }
    writeln!(
        out,
        "Applied: {created} created, {existing} already existed, {failed} failed."
    )?;
    Ok(failed == 0)
}

/// `"imported from {file}:{line}"`, within the audit log's limit.
fn reason(monitor: &ImportedMonitor) -> String {
    format!("imported from {}", monitor.origin)
        .chars()
        .take(REASON_MAX_CHARS)
        .collect()
}

/// Errors every further request would get too.
fn stops_everything(error: &Error) -> bool {
    match error {
        Error::Transport(_) | Error::InvalidUrl { .. } => true,
        Error::Api { status, .. } => matches!(status, 401 | 403 | 404 | 405),
    }
}

fn advice(error: &Error) -> &'static str {
    match error {
        Error::Api {
            status: 401 | 403, ..
        } => "the token was refused: OPSDECK_TOKEN must be an admin's personal token",
        Error::Api { .. } => "this opsdeck has no POST /ops/cron: check --url, or upgrade it",
        _ => "opsdeck could not be reached: check --url and that it is running",
    }
}
