//! `[audit]`: signed checkpoints of the audit log's head (see
//! [`opsdeck_core::audit::checkpoint`]): how often they are made, the key that signs them
//! (never stored in opsdeck's database, whose owner must not be able to forge one), and
//! where copies go besides the log.

use std::path::PathBuf;
use std::time::Duration;

use opsdeck_core::audit::checkpoint::CheckpointKey;
use serde::{Deserialize, Serialize};

use super::duration;
use opsdeck_core::secret::Secret;

/// The shortest checkpoint interval: each one reads the head and writes to every
/// destination, so a shorter one only makes noise.
const MIN_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// `[audit]`: checkpoints of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// How often the leader signs a checkpoint of the log's head, if the head moved since
    /// the last one. Every replica also signs one when it shuts down.
    #[serde(with = "duration")]
    pub checkpoint_interval: Duration,
    /// The Ed25519 private key that signs checkpoints: PKCS#8 (PEM or base64 DER) or base64
    /// of a 32-byte seed. Unset: `checkpoint_key_file` is used.
    pub checkpoint_key: Option<Secret>,
    /// Where the signing key is read from when `checkpoint_key` is unset; generated there
    /// (PKCS#8 PEM, mode 0600) on first start if missing.
    pub checkpoint_key_file: PathBuf,
    /// A file each checkpoint is appended to, one JSON object per line.
    pub checkpoint_file: Option<PathBuf>,
    /// A URL each checkpoint is POSTed to as JSON.
    pub checkpoint_webhook: Option<Secret>,
    /// Where audit records wait, fsynced and chained, while opsdeck's database is
    /// unreachable; appended to the log when it answers again. Each replica needs its own.
    pub spool_file: PathBuf,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval: Duration::from_secs(5 * 60),
            checkpoint_key: None,
            checkpoint_key_file: PathBuf::from("opsdeck-audit-key.pem"),
            checkpoint_file: None,
            checkpoint_webhook: None,
            spool_file: PathBuf::from("opsdeck-audit-spool.jsonl"),
        }
    }
}

impl AuditConfig {
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut problem = |key: &str, message: String| out.push((key.to_owned(), message));
        if self.checkpoint_interval < MIN_CHECKPOINT_INTERVAL {
            problem(
                "checkpoint_interval",
                format!(
                    "must be at least {}",
                    humantime::format_duration(MIN_CHECKPOINT_INTERVAL)
                ),
            );
        }
        // The error names what was expected, never the value: it is a private key.
        if let Some(Err(error)) = self
            .checkpoint_key
            .as_ref()
            .map(|key| CheckpointKey::parse(key.expose()))
        {
            problem("checkpoint_key", error.to_string());
        }
        if self.checkpoint_key.is_none() && self.checkpoint_key_file.as_os_str().is_empty() {
            problem(
                "checkpoint_key_file",
                "must not be empty unless audit.checkpoint_key is set".to_owned(),
            );
        }
        if self
            .checkpoint_file
            .as_ref()
            .is_some_and(|file| file.as_os_str().is_empty())
        {
            problem(
                "checkpoint_file",
                "must not be empty; leave it unset to write checkpoints to the log only".to_owned(),
            );
        }
        if self.spool_file.as_os_str().is_empty() {
            problem(
                "spool_file",
                "must name a file: audit records wait there while the database is unreachable"
                    .to_owned(),
            );
        }
        if let Some(webhook) = &self.checkpoint_webhook {
            match url::Url::parse(webhook.expose()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                // The URL is a secret: say what is wrong without repeating it.
                _ => problem(
                    "checkpoint_webhook",
                    "must be an absolute http:// or https:// URL".to_owned(),
                ),
            }
        }
        out
    }

    /// One line for `check-config`.
    pub(crate) fn summary(&self) -> String {
        let key = match &self.checkpoint_key {
            Some(_) => "key from configuration".to_owned(),
            None => format!("key file {}", self.checkpoint_key_file.display()),
        };
        let mut copies = vec!["log".to_owned()];
        if let Some(file) = &self.checkpoint_file {
            copies.push(format!("file {}", file.display()));
        }
        if self.checkpoint_webhook.is_some() {
            copies.push("webhook".to_owned());
        }
        format!(
            "  audit       checkpoint every {} ({key}), copies to: {}",
            humantime::format_duration(self.checkpoint_interval),
            copies.join(", ")
        )
    }
}
