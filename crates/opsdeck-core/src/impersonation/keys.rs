//! The Ed25519 keys that sign impersonation tokens: made here, stored with their private
//! half sealed ([`super::seal`]), published as an RFC 8037 JWK set. A key's id is its
//! RFC 7638 thumbprint, so it follows from the public key alone and any party can check it.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a key could not be made or read. Never repeats key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the stored signing key is not an Ed25519 PKCS#8 document")]
    Unreadable,
    #[error("the cryptographic library could not {0}")]
    Crypto(&'static str),
}

/// A private signing key and its key id.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    jwk: Jwk,
}

impl SigningKey {
    /// A new random key, and its PKCS#8 document (to seal and store).
    pub fn generate() -> Result<(Self, Vec<u8>), KeyError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| KeyError::Crypto("generate a key"))?;
        let key = Self::from_pkcs8(document.as_ref())?;
        Ok((key, document.as_ref().to_vec()))
    }

    /// Reads a PKCS#8 document made by [`SigningKey::generate`].
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::Unreadable)?;
        let jwk = Jwk::ed25519(pair.public_key().as_ref());
        Ok(Self { pair, jwk })
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    /// The public half, as published.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .try_sign(message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| KeyError::Crypto("sign"))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

/// A public key as RFC 8037 writes it (`kty` OKP, `crv` Ed25519), with what a verifier
/// needs to pick it: `kid`, `alg` and `use`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

impl Jwk {
    /// The JWK of the raw public key `public`, its `kid` the RFC 7638 thumbprint.
    pub fn ed25519(public: &[u8]) -> Self {
        Self::from_x(URL_SAFE_NO_PAD.encode(public))
    }

    /// The JWK of a stored public key (`x`, base64url).
    pub fn from_x(x: String) -> Self {
        // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Self {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x,
            kid,
            alg: "EdDSA".to_owned(),
            use_: "sig".to_owned(),
        }
    }
}

/// What `/ops/impersonation/jwks.json` serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// A signing key as stored: the public key in the clear, the private key sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    /// `x` of the JWK: base64url of the 32-byte public key.
    pub public_key: String,
    /// The PKCS#8 document, sealed by [`super::EncryptionKey::seal`] with the kid as
    /// associated data.
    pub private_key: String,
    pub created_at: DateTime<Utc>,
    /// When it starts signing; the key it follows retires then.
    pub active_from: DateTime<Utc>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("active_from", &self.active_from)
            .finish_non_exhaustive()
    }
}

/// The public half of a stored key, as the key set lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    pub public_key: String,
    pub created_at: DateTime<Utc>,
    pub active_from: DateTime<Utc>,
}
