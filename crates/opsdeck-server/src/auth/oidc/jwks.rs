//! The identity provider's signing keys: where they come from ([`JwksSource`], a file or a
//! URL fetched with a timeout and a size cap) and the usable ones among them ([`KeySet`]).
//! Encryption keys, symmetric (`oct`) keys and keys we cannot parse are left out, one by
//! one, so a single odd key does not take the whole set down.

use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::config::OidcConfig;

/// Longest a key-set fetch may take: a token check may wait on it.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest key set accepted; real ones are a few KiB.
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// Why the key set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("reading the JWKS file: {0}")]
    Read(#[from] std::io::Error),
    #[error("fetching the JWKS: {0}")]
    Fetch(#[from] reqwest::Error),
    #[error("the JWKS is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("the JWKS is not a JSON key set: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the JWKS holds no usable signing key")]
    NoUsableKeys,
}

/// Where the key set is loaded from.
#[derive(Debug)]
pub(super) enum JwksSource {
    File(PathBuf),
    Url {
        client: reqwest::Client,
        url: reqwest::Url,
    },
}

impl JwksSource {
    pub(super) fn from_config(config: &OidcConfig) -> anyhow::Result<Self> {
        if let Some(path) = &config.jwks_file {
            return Ok(Self::File(path.clone()));
        }
        let Some(url) = &config.jwks_url else {
            anyhow::bail!("auth.oidc needs jwks_url or jwks_file");
        };
        let url = reqwest::Url::parse(url)
            .map_err(|err| anyhow::anyhow!("auth.oidc.jwks_url is not a URL: {err}"))?;
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(Self::Url { client, url })
    }

    pub(super) fn is_remote(&self) -> bool {
        matches!(self, Self::Url { .. })
    }

    pub(super) async fn load(&self) -> Result<KeySet, JwksError> {
        let bytes = match self {
            Self::File(path) => {
                let bytes = tokio::fs::read(path).await?;
                if bytes.len() > MAX_JWKS_BYTES {
                    return Err(JwksError::TooLarge);
                }
                bytes
            }
            Self::Url { client, url } => {
                let mut response = client.get(url.clone()).send().await?.error_for_status()?;
                let mut bytes = Vec::new();
                while let Some(chunk) = response.chunk().await? {
                    if bytes.len() + chunk.len() > MAX_JWKS_BYTES {
                        return Err(JwksError::TooLarge);
                    }
                    bytes.extend_from_slice(&chunk);
                }
                bytes
            }
        };
        KeySet::parse(&bytes)
    }
}

/// One usable verification key.
#[derive(Debug)]
struct Entry {
    kid: Option<String>,
    /// The `alg` the key set pins the key to, if it does.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// The usable keys of a key set.
#[derive(Debug, Default)]
pub(super) struct KeySet {
    keys: Vec<Entry>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    fn parse(bytes: &[u8]) -> Result<Self, JwksError> {
        let raw: RawSet = serde_json::from_slice(bytes)?;
        let keys: Vec<Entry> = raw.keys.into_iter().filter_map(usable).collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(Self { keys })
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key for a token's `kid` and `alg`: it must be of the algorithm's family and, if
    /// the set pins an algorithm, that one. A token without `kid` is accepted only when
    /// exactly one key fits.
    pub(super) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let mut fitting = self.keys.iter().filter(|entry| {
            entry.key.family() == alg.family() && entry.alg.is_none_or(|pinned| pinned == alg)
        });
        let entry = match kid {
            Some(kid) => fitting.find(|entry| entry.kid.as_deref() == Some(kid)),
            None => match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            },
        };
        entry.map(|entry| entry.key.clone())
    }
}

/// A key from the set if it can verify signatures; `None` to leave it out.
fn usable(value: serde_json::Value) -> Option<Entry> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    // A shared secret has no place in a public key set; never verify with one.
    if matches!(
        jwk.algorithm,
        AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_)
    ) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        // A key pinned to something that is not a signature algorithm (RSA-OAEP…) is unusable.
        Some(pinned) => Some(pinned.to_string().parse::<Algorithm>().ok()?),
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Entry {
        kid: jwk.common.key_id,
        alg,
        key,
    })
}
