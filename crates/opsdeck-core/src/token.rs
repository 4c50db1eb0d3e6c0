//! Personal tokens (for people and automation; carry a [`Role`]) and ingest keys (for the
//! application's own processes; carry [`Scope`]s): what they grant, the validated input that
//! creates one ([`NewToken`]) and the record the store keeps ([`TokenRecord`]). The token text
//! itself — generation, offline parsing, hashing — is in `format`.

mod format;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Role;
use crate::ids::TokenName;

pub use format::{
    CHECKSUM_LEN, NewSecret, ParsedToken, RANDOM_LEN, TokenFormatError, TokenHash, TokenSecret,
    generate, parse,
};

/// Which principal a token makes its bearer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Personal,
    IngestKey,
}

impl TokenKind {
    pub const ALL: [TokenKind; 2] = [TokenKind::Personal, TokenKind::IngestKey];

    /// The fixed start of every token of this kind; it makes leaked tokens easy to scan for.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Personal => "opsdeck_pat_",
            TokenKind::IngestKey => "opsdeck_key_",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::IngestKey => "ingest_key",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token kind {0:?}: expected personal or ingest_key")]
pub struct UnknownTokenKind(pub String);

impl FromStr for TokenKind {
    type Err = UnknownTokenKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TokenKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownTokenKind(s.to_owned()))
    }
}

/// What an ingest key may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Checkins,
    Jobs,
    Events,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Checkins, Scope::Jobs, Scope::Events];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Checkins => "checkins",
            Scope::Jobs => "jobs",
            Scope::Events => "events",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("unknown scope {0:?}: expected checkins, jobs or events")]
    Unknown(String),
    #[error("an ingest key needs at least one scope: checkins, jobs or events")]
    Empty,
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ScopeError::Unknown(s.trim().to_owned()))
    }
}

/// The scopes of an ingest key: at least one, each once, in [`Scope::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Result<Self, ScopeError> {
        let mut scopes: Vec<Scope> = scopes.into_iter().collect();
        scopes.sort_unstable();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(Scopes(scopes))
    }

    /// Comma-separated names, e.g. `checkins, jobs`; empty items are ignored.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let scopes = text
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Scope>, _>>()?;
        Scopes::new(scopes)
    }

    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }
}

/// `checkins,jobs`: the form [`Scopes::parse`] reads and the stores keep.
impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

/// What a token grants; its variant decides the token's kind, so a personal token without a
/// role or an ingest key with one cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Role(Role),
    Scopes(Scopes),
}

impl Grant {
    pub fn kind(&self) -> TokenKind {
        match self {
            Grant::Role(_) => TokenKind::Personal,
            Grant::Scopes(_) => TokenKind::IngestKey,
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Grant::Role(role) => Some(*role),
            Grant::Scopes(_) => None,
        }
    }

    /// Empty for a personal token.
    pub fn scopes(&self) -> &[Scope] {
        match self {
            Grant::Role(_) => &[],
            Grant::Scopes(scopes) => scopes.as_slice(),
        }
    }
}

/// Everything needed to create a token except its secret, each part already valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: TokenName,
    pub grant: Grant,
    /// The principal id of whoever created it; `None` for the first-start bootstrap token.
    pub created_by: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewToken {
    pub fn kind(&self) -> TokenKind {
        self.grant.kind()
    }
}

/// A stored token or key, as listed and shown. Never holds the secret or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: Uuid,
    pub kind: TokenKind,
    pub name: String,
    /// Set for personal tokens only.
    pub role: Option<Role>,
    /// Non-empty for ingest keys only.
    pub scopes: Vec<Scope>,
    /// The non-secret start of the token, e.g. `opsdeck_pat_AbC4…`.
    pub display: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Not revoked, and not expired: a token stops working at the instant of `expires_at`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && !self.is_expired(now)
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests;
