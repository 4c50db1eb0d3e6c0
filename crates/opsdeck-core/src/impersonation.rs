//! Impersonation (SPEC §6): a support engineer acts as one of a tenant's users through a
//! short-lived token that the application verifies. This module owns what such a token says
//! ([`Claims`]), the values a request for one must respect ([`UserId`], [`Ttl`]), the
//! signing keys ([`keys`]: Ed25519, published as a JWK set; [`seal`]: their private halves
//! encrypted at rest) and the compact JWS that carries the claims ([`jws`]).
//!
//! Keys rotate: a key becomes active some time after it is created (so replicas' cached key
//! sets learn it before any token names it), signs until the next one becomes active, and
//! stays published until every token it signed has expired ([`publish_window`]).

pub mod jws;
pub mod keys;
pub mod seal;

#[cfg(test)]
mod tests;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{InvalidField, TenantId};

pub use keys::{Jwk, JwkSet, KeyError, PublishedKey, SigningKey, StoredKey};
pub use seal::{EncryptionKey, SealError};

/// The shortest impersonation: less is useless to a person.
pub const MIN_TTL: Duration = Duration::from_secs(60);

/// The longest impersonation SPEC §6 allows; configuration may only lower it.
pub const MAX_TTL: Duration = Duration::from_secs(60 * 60);

/// How long past `exp` the applications may still accept a token (clock skew), and so how
/// long past its last possible expiry a key stays published and a revocation stays in the
/// feed.
pub const LEEWAY: Duration = Duration::from_secs(5 * 60);

/// How long after a retired key's successor became active the retired key is still
/// published: the longest token it could have signed, plus [`LEEWAY`]. It uses [`MAX_TTL`],
/// not the configured maximum, so lowering the configuration never unpublishes a key while
/// tokens signed under the old maximum are alive.
pub fn publish_window() -> chrono::Duration {
    chrono::Duration::from_std(MAX_TTL + LEEWAY).unwrap_or(chrono::Duration::MAX)
}

/// The longest a user id may be.
pub const USER_ID_MAX_CHARS: usize = 256;

/// The application's id of the user to act as: 1–256 printable characters, no surrounding
/// whitespace. Whatever the application calls its users (a number, a UUID, an e-mail) fits.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Errors say what is wrong, never the value: a user id is tenant data.
    pub fn parse(text: &str) -> Result<Self, InvalidField> {
        let problem = |p: &str| Err(InvalidField::new("user_id", p));
        if text.is_empty() {
            return problem("must not be empty");
        }
        if text.chars().count() > USER_ID_MAX_CHARS {
            return problem("must be at most 256 characters");
        }
        if text.trim() != text {
            return problem("must not start or end with whitespace");
        }
        if text.chars().any(char::is_control) {
            return problem("must not contain control characters");
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidField;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

impl std::fmt::Debug for UserId {
    /// Kept out of `Debug` output, which reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserId(..)")
    }
}

/// How long an impersonation lasts: at least [`MIN_TTL`], at most the configured maximum
/// (itself at most [`MAX_TTL`]), in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl(Duration);

impl Ttl {
    pub fn new(ttl: Duration, max: Duration) -> Result<Self, InvalidField> {
        let max = max.min(MAX_TTL);
        let human = |d: Duration| format!("{}m", d.as_secs() / 60);
        if ttl < MIN_TTL || ttl > max {
            return Err(InvalidField::new(
                "ttl",
                format!("must be between {} and {}", human(MIN_TTL), human(max)),
            ));
        }
        Ok(Self(Duration::from_secs(ttl.as_secs())))
    }

    pub fn get(self) -> Duration {
        self.0
    }

    /// When a token issued at `issued_at` expires.
    pub fn expiry(self, issued_at: DateTime<Utc>) -> DateTime<Utc> {
        issued_at + chrono::Duration::seconds(self.0.as_secs() as i64)
    }
}

/// The `act` claim (RFC 8693 §4.1): who is really acting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActingParty {
    /// The operator's principal id in opsdeck.
    pub sub: String,
}

/// What an impersonation token says, in the order it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user to act as.
    pub sub: String,
    /// The operator acting.
    pub act: ActingParty,
    /// The tenant the user belongs to.
    pub tenant: String,
    /// The token's id: what the revocation feed names.
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// The application the token is for (`impersonation.audience`).
    pub aud: String,
}

impl Claims {
    pub fn of(impersonation: &Impersonation, audience: &str) -> Self {
        Self {
            sub: impersonation.user_id.as_str().to_owned(),
            act: ActingParty {
                sub: impersonation.operator_id.clone(),
            },
            tenant: impersonation.tenant.as_str().to_owned(),
            jti: impersonation.jti.to_string(),
            iat: impersonation.issued_at.timestamp(),
            exp: impersonation.expires_at.timestamp(),
            aud: audience.to_owned(),
        }
    }
}

/// One impersonation, as opsdeck keeps it: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impersonation {
    pub jti: Uuid,
    pub tenant: TenantId,
    pub user_id: UserId,
    pub operator_id: String,
    pub operator_name: String,
    /// The operator's reason, redacted.
    pub reason: String,
    /// The key that signed the token.
    pub kid: String,
    /// Whole seconds, as the token says.
    pub issued_at: DateTime<Utc>,
    /// Whole seconds, as the token says.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The principal id of who revoked it.
    pub revoked_by: Option<String>,
}

impl Impersonation {
    /// Neither revoked nor expired at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// What revoking an impersonation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked now.
    Now(Impersonation),
    /// Revoked before; as it was then.
    Already(Impersonation),
    /// No impersonation of this tenant has this id.
    Unknown,
}

/// One entry of the revocation feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub jti: Uuid,
    pub tenant: TenantId,
    pub revoked_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Which revocations the feed returns, oldest revocation first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationQuery {
    /// Revocations at or after this time (all when `None`)…
    pub since: Option<DateTime<Utc>>,
    /// …except, at exactly `since`, those whose jti is not above this one: the cursor of
    /// the page before.
    pub after: Option<Uuid>,
    /// Only tokens expiring after this time: older ones are refused by their `exp` anyway.
    pub expiring_after: DateTime<Utc>,
    pub limit: u32,
}
