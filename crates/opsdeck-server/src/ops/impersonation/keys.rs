//! The key ring: which key signs now, the key set every replica publishes (read from the
//! database, so all serve the same), and rotation, which the leader runs on a schedule
//! ([`RotateSigningKeysJob`]) and which issuing a token also runs when no key exists yet.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::impersonation::{
    EncryptionKey, Jwk, JwkSet, SigningKey, StoredKey, publish_window,
};
use opsdeck_core::{Clock, Store, StoreResult};

use crate::background::Job;
use crate::config::ImpersonationConfig;

/// How long after it is made a new key starts signing. The key set is cached for
/// [`KEY_SET_MAX_AGE`]; by the time the first token names the new key, every cache that
/// followed its `max-age` has it.
pub const ACTIVATION_DELAY: Duration = Duration::from_secs(120);

/// The `max-age` of the key set.
pub const KEY_SET_MAX_AGE: Duration = Duration::from_secs(60);

/// Makes a key unless one was made within `rotate_every` of `now`; concurrent callers make
/// one between them. The first key signs at once; later ones after [`ACTIVATION_DELAY`].
/// Returns whether this call made it.
pub async fn rotate(
    store: &Arc<dyn Store>,
    seal: &EncryptionKey,
    rotate_every: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let every = chrono::Duration::from_std(rotate_every).context("rotate_every is too long")?;
    let newest = store.newest_signing_key_at().await?;
    if newest.is_some_and(|at| at > now - every) {
        return Ok(false);
    }
    let active_from = match newest {
        None => now,
        Some(_) => now + chrono::Duration::from_std(ACTIVATION_DELAY)?,
    };
    add_key(store, seal, now, active_from, now - every).await
}

/// Makes a key signing from `active_from`, unless a key newer than `unless_since` exists.
async fn add_key(
    store: &Arc<dyn Store>,
    seal: &EncryptionKey,
    now: DateTime<Utc>,
    active_from: DateTime<Utc>,
    unless_since: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let (key, pkcs8) = SigningKey::generate()?;
    let stored = StoredKey {
        kid: key.kid().to_owned(),
        public_key: key.jwk().x.clone(),
        private_key: seal.seal(&pkcs8, key.kid())?,
        created_at: now,
        active_from,
    };
    let added = store.add_signing_key(&stored, unless_since).await?;
    if added {
        tracing::info!(kid = key.kid(), %active_from, "made a new impersonation signing key");
    }
    Ok(added)
}

/// The key that signs at `now`, made first if there is none. A key that does not open
/// with the configured sealing key (it was changed) is replaced at once by one that does,
/// rather than leaving impersonation broken until the next rotation.
pub async fn signing_key(
    store: &Arc<dyn Store>,
    config: &ImpersonationConfig,
    seal: &EncryptionKey,
    now: DateTime<Utc>,
) -> anyhow::Result<SigningKey> {
    let stored = match store.signing_key(now).await? {
        Some(stored) => stored,
        None => {
            rotate(store, seal, config.rotate_every, now).await?;
            store
                .signing_key(now)
                .await?
                .context("no signing key is active yet")?
        }
    };
    match open(seal, &stored) {
        Ok(key) => Ok(key),
        Err(error) => {
            tracing::warn!(
                kid = stored.kid,
                error = format!("{error:#}"),
                "the signing key does not open with impersonation.encryption_key; making a new one"
            );
            // Unless another replica already replaced it.
            add_key(store, seal, now, now, stored.created_at).await?;
            let replacement = store
                .signing_key(now)
                .await?
                .context("no signing key is active")?;
            open(seal, &replacement)
        }
    }
}

fn open(seal: &EncryptionKey, stored: &StoredKey) -> anyhow::Result<SigningKey> {
    let pkcs8 = seal.open(&stored.private_key, &stored.kid)?;
    let key = SigningKey::from_pkcs8(&pkcs8)?;
    anyhow::ensure!(
        key.kid() == stored.kid,
        "the stored signing key does not match its key id"
    );
    Ok(key)
}

/// Every key whose tokens may still be alive at `now`, and the next key before it signs.
pub async fn key_set(store: &Arc<dyn Store>, now: DateTime<Utc>) -> StoreResult<JwkSet> {
    let keys = store.published_keys(now - publish_window()).await?;
    Ok(JwkSet {
        keys: keys
            .into_iter()
            .map(|key| Jwk::from_x(key.public_key))
            .collect(),
    })
}

/// The leader's rotation: a new key every `rotate_every`, and keys whose every token has
/// expired deleted (their private halves with them).
#[derive(Debug)]
pub struct RotateSigningKeysJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: ImpersonationConfig,
}

impl RotateSigningKeysJob {
    /// How often the job looks: a tenth of the rotation period, at most every 5 minutes
    /// and at least every second.
    pub fn interval(config: &ImpersonationConfig) -> Duration {
        (config.rotate_every / 10).clamp(Duration::from_secs(1), Duration::from_secs(300))
    }

    /// One rotation at the clock's now.
    pub async fn run_once(&self) -> anyhow::Result<()> {
        let seal = self
            .config
            .sealing_key()
            .context("impersonation.encryption_key is not usable")?;
        let now = self.clock.now();
        rotate(&self.store, &seal, self.config.rotate_every, now).await?;
        let pruned = self
            .store
            .prune_signing_keys(now - publish_window())
            .await?;
        if pruned > 0 {
            tracing::info!(
                pruned,
                "deleted impersonation signing keys past publication"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl Job for RotateSigningKeysJob {
    async fn tick(&self) -> anyhow::Result<()> {
        self.run_once().await
    }
}
