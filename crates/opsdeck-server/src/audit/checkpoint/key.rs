//! Where a replica's checkpoint key comes from: `audit.checkpoint_key`, or the key file,
//! generated on first start. Never the database: its owner must not be able to sign.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use opsdeck_core::audit::checkpoint::CheckpointKey;

use crate::config::AuditConfig;

/// Where the key in use was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `audit.checkpoint_key`.
    Config,
    /// The key file, which existed.
    File(PathBuf),
    /// The key file, written now with a new key.
    Generated(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Config => f.write_str("audit.checkpoint_key"),
            KeySource::File(path) => write!(f, "{}", path.display()),
            KeySource::Generated(path) => write!(f, "{} (generated now)", path.display()),
        }
    }
}

/// The configured key, or the key file's; with `generate`, a missing key file is created
/// with a new key (what `serve` does), otherwise it is an error (what a command that only
/// reports the key does).
pub fn load(config: &AuditConfig, generate: bool) -> anyhow::Result<(CheckpointKey, KeySource)> {
    if let Some(secret) = &config.checkpoint_key {
        let key = CheckpointKey::parse(secret.expose()).context("audit.checkpoint_key")?;
        return Ok((key, KeySource::Config));
    }
    let path = &config.checkpoint_key_file;
    match read(path) {
        Ok(Some(key)) => Ok((key, KeySource::File(path.clone()))),
        Ok(None) if generate => generate_into(path),
        Ok(None) => anyhow::bail!(
            "no audit checkpoint key: audit.checkpoint_key is unset and {} does not exist \
             (opsdeck serve generates it on first start)",
            path.display()
        ),
        Err(err) => Err(err),
    }
}

/// The key in `path`, or `None` if there is no such file.
fn read(path: &Path) -> anyhow::Result<Option<CheckpointKey>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| {
                format!("reading the audit checkpoint key file {}", path.display())
            });
        }
    };
    warn_if_readable_by_others(path);
    CheckpointKey::parse(&text)
        .with_context(|| format!("the audit checkpoint key file {}", path.display()))
        .map(Some)
}

/// Writes a new key to `path`, readable by its owner only. The key is written to a file of
/// its own first and then linked into place, which fails if `path` exists: two replicas
/// starting at once on one directory end up with one key, never with a half-written file.
fn generate_into(path: &Path) -> anyhow::Result<(CheckpointKey, KeySource)> {
    let (key, pem) = CheckpointKey::generate().context("generating an audit checkpoint key")?;
    let context = || format!("writing the audit checkpoint key file {}", path.display());
    let mut staged = path.as_os_str().to_owned();
    staged.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let staged = PathBuf::from(staged);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&staged).and_then(|mut file| {
        file.write_all(pem.as_bytes())?;
        file.sync_all()
    });
    if let Err(err) = written {
        let _ = std::fs::remove_file(&staged);
        return Err(err).with_context(context);
    }
    let linked = std::fs::hard_link(&staged, path);
    let _ = std::fs::remove_file(&staged);
    match linked {
        Ok(()) => Ok((key, KeySource::Generated(path.to_owned()))),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let key = read(path)?.with_context(context)?;
            Ok((key, KeySource::File(path.to_owned())))
        }
        Err(err) => Err(err).with_context(context),
    }
}

/// A private key others can read is no longer only this replica's.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{:o}", metadata.permissions().mode() & 0o777),
                "the audit checkpoint key file is readable by other users; make it 0600"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
