//! The Ed25519 keys of checkpoints: the private key a replica signs with and the public key
//! verifiers pin, in the text forms people handle.
//!
//! A private key is read from PKCS#8, as PEM (what `openssl genpkey -algorithm ed25519`
//! writes, and what opsdeck writes when it generates one) or as base64 DER, or from base64
//! of the raw 32-byte seed. A public key is base64 of its raw 32 bytes (how opsdeck prints
//! it), or a SubjectPublicKeyInfo as PEM (what `openssl pkey -pubout` writes) or base64 DER.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Checkpoint, SignedCheckpoint};
use crate::audit::truncate_to_millis;

/// Standard base64, with or without padding: keys are pasted from many tools.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a key could not be read or made. Never repeats the text it was given: it may be a
/// private key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not an Ed25519 private key: expected PKCS#8 (PEM or base64 DER) or base64 of a \
         32-byte seed"
    )]
    UnreadablePrivate,
    #[error(
        "not an Ed25519 public key: expected base64 of its 32 bytes, or a PEM or base64 DER \
         SubjectPublicKeyInfo"
    )]
    UnreadablePublic,
    #[error("the cryptographic library could not {0}")]
    Crypto(&'static str),
}

/// An Ed25519 public key that verifies checkpoints, with its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    raw: [u8; 32],
    id: String,
}

impl PublicKey {
    pub fn from_raw(raw: [u8; 32]) -> Self {
        let id = hex::encode(&Sha256::digest(raw)[..8]);
        Self { raw, id }
    }

    /// Reads any of the forms in the module documentation.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let der = match pem_body(text, "PUBLIC KEY") {
            Some(der) => der,
            None => LENIENT
                .decode(text.trim())
                .map_err(|_| KeyError::UnreadablePublic)?,
        };
        let raw = match der.strip_prefix(&SPKI_PREFIX[..]) {
            Some(raw) => raw,
            None => &der[..],
        };
        raw.try_into()
            .map(Self::from_raw)
            .map_err(|_| KeyError::UnreadablePublic)
    }

    /// The first 8 bytes of the SHA-256 of the raw key, in hex: what checkpoints name.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Base64 of the raw 32 bytes: the form opsdeck prints and embeds in checkpoints.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.raw)
    }

    /// Whether `signature` (base64) is this key's Ed25519 signature of `message`.
    pub(super) fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(signature) = LENIENT.decode(signature.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, self.raw)
            .verify(message, &signature)
            .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.id, self.to_base64())
    }
}

/// The private key a replica signs checkpoints with. `Debug` shows only its key id.
pub struct CheckpointKey {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl CheckpointKey {
    /// Reads any of the forms in the module documentation.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let pair = if text.contains("-----BEGIN") {
            let der = pem_body(text, "PRIVATE KEY").ok_or(KeyError::UnreadablePrivate)?;
            Ed25519KeyPair::from_pkcs8(&der)
        } else {
            let bytes = LENIENT
                .decode(text.trim())
                .map_err(|_| KeyError::UnreadablePrivate)?;
            if bytes.len() == 32 {
                Ed25519KeyPair::from_seed_unchecked(&bytes)
            } else {
                Ed25519KeyPair::from_pkcs8(&bytes)
            }
        };
        pair.map(Self::of).map_err(|_| KeyError::UnreadablePrivate)
    }

    /// A new random key, and its PKCS#8 PEM (v1, as OpenSSL writes it) to keep.
    pub fn generate() -> Result<(Self, String), KeyError> {
        let document = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new())
            .map_err(|_| KeyError::Crypto("generate a key"))?;
        let pem = to_pem(document.as_ref(), "PRIVATE KEY");
        let pair = Ed25519KeyPair::from_pkcs8(document.as_ref())
            .map_err(|_| KeyError::Crypto("read the key it generated"))?;
        Ok((Self::of(pair), pem))
    }

    fn of(pair: Ed25519KeyPair) -> Self {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(pair.public_key().as_ref());
        Self {
            pair,
            public: PublicKey::from_raw(raw),
        }
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs that entry `seq` has hash `hash`, as of `at` (kept to the millisecond).
    pub fn sign(
        &self,
        seq: i64,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<SignedCheckpoint, KeyError> {
        let checkpoint = Checkpoint {
            seq,
            hash: hash.to_owned(),
            at: truncate_to_millis(at),
            key_id: self.public.id().to_owned(),
        };
        let signature = self
            .pair
            .try_sign(checkpoint.signed_text().as_bytes())
            .map_err(|_| KeyError::Crypto("sign"))?;
        Ok(SignedCheckpoint {
            checkpoint,
            public_key: self.public.to_base64(),
            signature: STANDARD.encode(signature.as_ref()),
        })
    }
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("key_id", &self.public.id())
            .finish_non_exhaustive()
    }
}

/// The decoded body of the first `label` block of a PEM text.
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let length = text[start..].find(&end)?;
    let body: String = text[start..start + length]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

fn to_pem(der: &[u8], label: &str) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    // Base64 is ASCII, so every 64-byte chunk is valid UTF-8.
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}
