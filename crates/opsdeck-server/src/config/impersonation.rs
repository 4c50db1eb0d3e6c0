//! `[impersonation]` (SPEC §6): whether support may issue impersonation tokens, the
//! audience they are for, the key that seals the signing keys in the database, how often
//! those rotate and how long a token may live.

use std::time::Duration;

use opsdeck_core::impersonation::{self, EncryptionKey};
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::duration;

/// The shortest rotation period: a key is published for an hour past its retirement, so
/// rotating faster only piles keys up in the key set.
const MIN_ROTATE_EVERY: Duration = Duration::from_secs(3600);

/// `[impersonation]`: audited impersonation tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImpersonationConfig {
    /// Off: the impersonation routes answer 404 saying how to turn them on, and the key
    /// set is empty.
    pub enabled: bool,
    /// The `aud` claim: the application that accepts the tokens (its URL, say). Required
    /// when enabled.
    pub audience: String,
    /// 32 random bytes (base64 or hex) sealing the signing keys' private halves in the
    /// database. Required when enabled; usually `env:NAME` or `file:/path`.
    pub encryption_key: Option<Secret>,
    /// How often the leader makes a new signing key.
    #[serde(with = "duration")]
    pub rotate_every: Duration,
    /// The longest `ttl` a request may ask for, at most 60m.
    #[serde(with = "duration")]
    pub max_ttl: Duration,
    /// The `ttl` of a request that gives none.
    #[serde(with = "duration")]
    pub default_ttl: Duration,
}

impl Default for ImpersonationConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            audience: String::new(),
            encryption_key: None,
            rotate_every: Duration::from_secs(7 * 24 * 3600),
            max_ttl: impersonation::MAX_TTL,
            default_ttl: Duration::from_secs(15 * 60),
        }
    }
}

impl ImpersonationConfig {
    /// The sealing key, when enabled and readable (loading has checked both).
    pub fn sealing_key(&self) -> Option<EncryptionKey> {
        let key = self.encryption_key.as_ref()?;
        EncryptionKey::parse(key.expose()).ok()
    }

    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut problem = |key: &str, message: String| out.push((key.to_owned(), message));
        let minutes = |d: Duration| format!("{}m", d.as_secs() / 60);
        if self.max_ttl < impersonation::MIN_TTL || self.max_ttl > impersonation::MAX_TTL {
            problem(
                "max_ttl",
                format!(
                    "must be between {} and {}",
                    minutes(impersonation::MIN_TTL),
                    minutes(impersonation::MAX_TTL)
                ),
            );
        }
        if self.default_ttl < impersonation::MIN_TTL || self.default_ttl > self.max_ttl {
            problem(
                "default_ttl",
                format!(
                    "must be between {} and impersonation.max_ttl",
                    minutes(impersonation::MIN_TTL)
                ),
            );
        }
        if self.rotate_every < MIN_ROTATE_EVERY {
            problem(
                "rotate_every",
                format!(
                    "must be at least {}",
                    humantime::format_duration(MIN_ROTATE_EVERY)
                ),
            );
        }
        // The error names what was expected, never the value: it is a key.
        if let Some(Err(error)) = self
            .encryption_key
            .as_ref()
            .map(|key| EncryptionKey::parse(key.expose()))
        {
            problem("encryption_key", error.to_string());
        }
        if self.enabled {
            if self.audience.trim().is_empty() {
                problem(
                    "audience",
                    "must be set when impersonation is enabled: the application's identifier \
                     (its URL, say), which it checks in the token's `aud` claim"
                        .to_owned(),
                );
            }
            if self.encryption_key.is_none() {
                problem(
                    "encryption_key",
                    "must be set when impersonation is enabled: 32 random bytes as base64 or \
                     hex, e.g. \"env:OPSDECK_IMPERSONATION_KEY\" holding the output of \
                     `openssl rand -base64 32`"
                        .to_owned(),
                );
            }
        }
        out
    }

    /// One line for `check-config`.
    pub(crate) fn summary(&self) -> String {
        if !self.enabled {
            return "  impersonation off".to_owned();
        }
        format!(
            "  impersonation  audience {}, tokens up to {} (default {}), keys rotated every {}",
            self.audience,
            humantime::format_duration(self.max_ttl),
            humantime::format_duration(self.default_ttl),
            humantime::format_duration(self.rotate_every),
        )
    }
}
