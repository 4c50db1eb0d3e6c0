//! Signed checkpoints of the audit log's head. A chain proves every entry up to its newest
//! one, but not that nothing came after: deleting the newest entries leaves a valid, shorter
//! chain. A checkpoint is the head as it was (its seq and hash), signed with an Ed25519 key
//! kept outside the database and copied where the database's owner cannot reach (logs, a
//! file, a webhook), so the chain can later be proven to still reach it.
//!
//! # What is signed
//!
//! The signature covers these UTF-8 lines, each ended by `\n`:
//!
//! ```text
//! opsdeck-audit-checkpoint-v1
//! seq=<the entry's seq, decimal>
//! hash=<the entry's hash, 64 lowercase hex digits>
//! at=<when the checkpoint was made, unix milliseconds, decimal>
//! key_id=<the signing key's id, 16 lowercase hex digits>
//! ```
//!
//! Each value has a fixed alphabet without line breaks, so the text is unambiguous, and a
//! checkpoint can be checked with standard tools (`openssl pkeyutl -verify -rawin`). The
//! first line versions the form: a change of it is a new version, never an edit of this one.
//! A key's id is the first 8 bytes of the SHA-256 of its raw 32-byte public key, in hex.
//!
//! # The JSON form
//!
//! One object, the form written to a checkpoint file (one per line) and sent to a webhook:
//! `seq`, `hash`, `at` (RFC 3339 in UTC with milliseconds), `key_id`, `public_key` (base64
//! of the raw 32 bytes) and `signature` (base64 of the 64-byte Ed25519 signature). The
//! embedded public key lets anyone check the signature; only a key pinned by the verifier
//! proves who made it.

mod key;

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use key::{CheckpointKey, KeyError, PublicKey};

/// The first line of the signed text: what is signed, and the version of its form.
const DOMAIN: &str = "opsdeck-audit-checkpoint-v1";

/// What a checkpoint asserts: entry `seq` of the log had hash `hash` at `at`, as seen by the
/// holder of key `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    /// The entry's hash, lowercase hex.
    pub hash: String,
    /// When the checkpoint was made, to the millisecond.
    #[serde(serialize_with = "rfc3339_millis", deserialize_with = "from_rfc3339")]
    pub at: DateTime<Utc>,
    pub key_id: String,
}

impl Checkpoint {
    /// The exact text the signature covers (see the module documentation).
    pub fn signed_text(&self) -> String {
        format!(
            "{DOMAIN}\nseq={}\nhash={}\nat={}\nkey_id={}\n",
            self.seq,
            self.hash,
            self.at.timestamp_millis(),
            self.key_id
        )
    }

    /// Why the values cannot be a checkpoint, if they cannot: the signed text is unambiguous
    /// only for values of the documented alphabets.
    fn malformation(&self) -> Option<String> {
        if self.seq < 1 {
            return Some(format!(
                "seq {} is not an entry's (they start at 1)",
                self.seq
            ));
        }
        if !is_lower_hex(&self.hash, 64) {
            return Some("hash is not 64 lowercase hex digits".to_owned());
        }
        if !is_lower_hex(&self.key_id, 16) {
            return Some("key_id is not 16 lowercase hex digits".to_owned());
        }
        None
    }
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A checkpoint with its signature and the public key that verifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    #[serde(flatten)]
    pub checkpoint: Checkpoint,
    /// Base64 of the signer's raw 32-byte Ed25519 public key.
    pub public_key: String,
    /// Base64 of the Ed25519 signature of [`Checkpoint::signed_text`].
    pub signature: String,
}

/// Why a checkpoint's signature can be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Made with one of the keys the verifier pinned.
    Pinned,
    /// Made with the key the checkpoint carries: it is intact, but anyone holding some key
    /// could have made it.
    Embedded,
}

/// Why a checkpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a valid audit checkpoint: {0}")]
    Malformed(String),
    #[error(
        "the checkpoint's signature does not verify with key {key_id}: the checkpoint was \
         altered, or not made with that key"
    )]
    BadSignature { key_id: String },
    #[error("the checkpoint was signed with key {key_id}, which is not one of the pinned keys")]
    NotPinned { key_id: String },
}

impl SignedCheckpoint {
    /// Reads the JSON form. The signature is not checked: see [`SignedCheckpoint::verify`].
    pub fn from_json(text: &str) -> Result<Self, CheckpointError> {
        serde_json::from_str(text.trim()).map_err(|e| CheckpointError::Malformed(e.to_string()))
    }

    /// The JSON form, on one line.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks that the values are well formed, that the embedded public key has the key id
    /// the checkpoint names, that it is one of `pinned` (unless none are), and that the
    /// signature is that key's over [`Checkpoint::signed_text`].
    pub fn verify(&self, pinned: &[PublicKey]) -> Result<Trust, CheckpointError> {
        let checkpoint = &self.checkpoint;
        if let Some(problem) = checkpoint.malformation() {
            return Err(CheckpointError::Malformed(problem));
        }
        let public_key = PublicKey::parse(&self.public_key)
            .map_err(|e| CheckpointError::Malformed(format!("public_key: {e}")))?;
        if public_key.id() != checkpoint.key_id {
            return Err(CheckpointError::Malformed(format!(
                "key_id {} is not the id of the embedded public key ({})",
                checkpoint.key_id,
                public_key.id()
            )));
        }
        let trust = if pinned.is_empty() {
            Trust::Embedded
        } else if pinned.contains(&public_key) {
            Trust::Pinned
        } else {
            return Err(CheckpointError::NotPinned {
                key_id: checkpoint.key_id.clone(),
            });
        };
        if !public_key.verifies(checkpoint.signed_text().as_bytes(), &self.signature) {
            return Err(CheckpointError::BadSignature {
                key_id: checkpoint.key_id.clone(),
            });
        }
        Ok(trust)
    }
}

impl fmt::Display for SignedCheckpoint {
    /// One line for people: which entry, when, and by which key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.checkpoint;
        write!(
            f,
            "seq {} (hash {}) at {} by key {}",
            c.seq,
            c.hash,
            c.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            c.key_id
        )
    }
}

fn rfc3339_millis<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn from_rfc3339<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| serde::de::Error::custom(format!("`at` is not an RFC 3339 time: {e}")))
}

#[cfg(test)]
mod tests;
