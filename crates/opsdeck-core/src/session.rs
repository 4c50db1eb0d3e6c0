//! Server-side dashboard sessions (SPEC §2): `/login` exchanges a token for one. The browser
//! holds only a random secret in a cookie ([`SessionSecret`]); the store keeps its hash
//! ([`SessionHash`]) with who the session is for ([`NewSession`]) and when it ends
//! ([`SessionRecord`]).
//!
//! A session ends at the first of: its idle deadline (`last_seen_at` + idle timeout, moved
//! forward by the store's `touch_session`), its absolute deadline (fixed at creation, never
//! extended), being ended (logout, revocation, or revocation of the token it was opened
//! with). Each session has its own CSRF token, required on every state-changing request.

mod secret;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::auth::{AuthMethod, Role};

pub use secret::{SECRET_LEN, SessionHash, SessionSecret, generate, generate_csrf};

/// The longest user agent kept; browsers send a few hundred characters at most, and the
/// start is what tells one device from another in a session list.
pub const USER_AGENT_MAX_CHARS: usize = 200;

/// Everything needed to open a session except its secret and CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub principal_id: String,
    pub principal_name: String,
    pub role: Role,
    /// How the principal proved who it is at login.
    pub method: AuthMethod,
    /// The personal token the session was opened with; revoking it ends the session.
    pub token_id: Option<Uuid>,
    pub client_addr: Option<String>,
    /// Stored clipped by [`clip_user_agent`].
    pub user_agent: Option<String>,
    /// Kept in whole seconds; at least one.
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
}

/// What a [`NewSession`]'s timeouts come to once it is opened at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// The idle timeout, as stored.
    pub idle_seconds: i64,
    pub expires_at: DateTime<Utc>,
}

impl NewSession {
    /// The stored idle timeout and the absolute deadline of a session opened at `now`;
    /// `None` when the idle timeout is under a second or either timeout is out of range.
    pub fn deadlines(&self, now: DateTime<Utc>) -> Option<Deadlines> {
        let idle_seconds = i64::try_from(self.idle_timeout.as_secs())
            .ok()
            .filter(|secs| *secs >= 1)?;
        let absolute = chrono::Duration::from_std(self.absolute_timeout).ok()?;
        Some(Deadlines {
            idle_seconds,
            expires_at: now.checked_add_signed(absolute)?,
        })
    }
}

/// A stored session, as found and listed. Never holds the secret or its hash; `Debug` and
/// serialisation leave out the CSRF token.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    /// Public: for listing and revoking, useless as a credential.
    pub id: Uuid,
    pub principal_id: String,
    pub principal_name: String,
    pub role: Role,
    pub method: AuthMethod,
    pub token_id: Option<Uuid>,
    #[serde(skip)]
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    #[serde(skip)]
    pub idle_timeout: Duration,
    /// `last_seen_at` + `idle_timeout`.
    pub idle_expires_at: DateTime<Utc>,
    /// The absolute deadline.
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
}

impl SessionRecord {
    /// Not ended, and neither deadline reached: a session stops working at the instant of
    /// either.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && now < self.expires_at && now < self.idle_expires_at
    }

    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        // An empty stored token would match an empty field; the stores never keep one.
        !self.csrf.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Whether a request at `now` should touch the session: only once `interval` has passed
    /// since the last touch, so the request path rarely writes. The idle deadline is thereby
    /// at most `interval` shorter than configured.
    pub fn touch_due(&self, now: DateTime<Utc>, interval: Duration) -> bool {
        chrono::Duration::from_std(interval)
            .ok()
            .and_then(|interval| self.last_seen_at.checked_add_signed(interval))
            .is_none_or(|due| now >= due)
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("principal_id", &self.principal_id)
            .field("principal_name", &self.principal_name)
            .field("role", &self.role)
            .field("method", &self.method)
            .field("token_id", &self.token_id)
            .field("csrf", &"***")
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("idle_timeout", &self.idle_timeout)
            .field("idle_expires_at", &self.idle_expires_at)
            .field("expires_at", &self.expires_at)
            .field("ended_at", &self.ended_at)
            .field("client_addr", &self.client_addr)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// `last_seen_at` + the stored idle timeout; `None` when out of range. Stores use it to
/// rebuild [`SessionRecord::idle_expires_at`].
pub fn idle_deadline(last_seen_at: DateTime<Utc>, idle_seconds: i64) -> Option<DateTime<Utc>> {
    last_seen_at.checked_add_signed(chrono::Duration::try_seconds(idle_seconds)?)
}

/// The first [`USER_AGENT_MAX_CHARS`] characters, control characters dropped (they have no
/// business in a header and would garble a listing).
pub fn clip_user_agent(user_agent: &str) -> String {
    user_agent
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_MAX_CHARS)
        .collect()
}

#[cfg(test)]
mod tests;
