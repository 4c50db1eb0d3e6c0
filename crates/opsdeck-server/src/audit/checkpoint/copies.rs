//! Where copies of a checkpoint go, so they outlive anything the database's owner can do:
//! the log (always), a file of JSON lines and a webhook (when configured). A destination
//! that fails is logged and skipped: the others still get their copy, and the next
//! checkpoint, which covers this one's entries, is sent again.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use opsdeck_core::audit::SignedCheckpoint;
use tokio::io::AsyncWriteExt as _;

use opsdeck_core::secret::Secret;

use crate::config::AuditConfig;
use crate::error::chain;

/// How long a webhook may take to accept a checkpoint.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of the end of a checkpoint file is read to find its last line: a line is a few
/// hundred bytes.
const TAIL: u64 = 64 * 1024;

#[derive(Debug)]
pub(super) struct Copies {
    file: Option<PathBuf>,
    webhook: Option<(Secret, reqwest::Client)>,
}

impl Copies {
    pub(super) fn of(config: &AuditConfig) -> anyhow::Result<Self> {
        let webhook = match &config.checkpoint_webhook {
            None => None,
            Some(url) => {
                // Not following redirects: a redirected POST arrives as a GET.
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(WEBHOOK_TIMEOUT)
                    .build()
                    .context("building the HTTP client of the audit checkpoint webhook")?;
                Some((url.clone(), client))
            }
        };
        Ok(Self {
            file: config.checkpoint_file.clone(),
            webhook,
        })
    }

    pub(super) fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Logs `signed`, then appends it to the file and POSTs it to the webhook.
    pub(super) async fn send(&self, signed: &SignedCheckpoint) {
        let json = signed.to_json();
        let checkpoint = &signed.checkpoint;
        tracing::info!(
            seq = checkpoint.seq,
            hash = %checkpoint.hash,
            key_id = %checkpoint.key_id,
            checkpoint = %json,
            "audit checkpoint"
        );
        if let Some(path) = &self.file
            && let Err(err) = append_line(path, &json).await
        {
            tracing::warn!(
                file = %path.display(),
                error = format!("{err:#}"),
                "could not append the audit checkpoint to its file"
            );
        }
        if let Some((url, client)) = &self.webhook
            && let Err(err) = post(client, url, json).await
        {
            tracing::warn!(error = %err, "could not send the audit checkpoint to its webhook");
        }
    }
}

async fn append_line(path: &Path, json: &str) -> anyhow::Result<()> {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    // One write of the whole line, so concurrent writers never interleave within it.
    file.write_all(format!("{json}\n").as_bytes()).await?;
    file.sync_data().await?;
    Ok(())
}

/// The error names no URL: webhook URLs usually embed a secret.
async fn post(client: &reqwest::Client, url: &Secret, json: String) -> Result<(), String> {
    let response = client
        .post(url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(json)
        .send()
        .await
        .map_err(|err| chain(&err.without_url()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered {status}"))
    }
}

/// The last checkpoint in a file of JSON lines, `None` if the file does not exist or holds
/// none. Only the end of the file is read, however long it grew.
pub fn read_latest(path: &Path) -> anyhow::Result<Option<SignedCheckpoint>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("opening {}", path.display())),
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = length.saturating_sub(TAIL);
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_to_end(&mut tail))
        .with_context(|| format!("reading {}", path.display()))?;
    let tail = String::from_utf8_lossy(&tail);
    // Lines are far shorter than the tail, so the last one is whole.
    let Some(line) = tail.lines().map(str::trim).rfind(|line| !line.is_empty()) else {
        return Ok(None);
    };
    SignedCheckpoint::from_json(line)
        .map(Some)
        .with_context(|| format!("the last line of {}", path.display()))
}
