//! Dashboard sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::session::{NewSession, SessionHash, SessionRecord};

/// Dashboard sessions (see [`crate::session`]), stored by the hash of their cookie secret.
#[async_trait]
pub trait SessionStore {
    /// Opens a session at `now` with a fresh id; its deadlines follow from
    /// [`NewSession::deadlines`] (timeouts out of range are [`StoreError::Other`]) and its
    /// user agent is clipped. A `hash` already stored is a [`StoreError::Conflict`].
    async fn create_session(
        &self,
        new: &NewSession,
        hash: &SessionHash,
        csrf: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<SessionRecord>;

    /// The session for a cookie, live or not: the caller checks [`SessionRecord::is_live`],
    /// and that the token it was opened with is still active.
    async fn find_session(&self, hash: &SessionHash) -> StoreResult<Option<SessionRecord>>;

    /// Moves `last_seen_at` forward to `now`, and so the idle deadline. Never backwards, and
    /// never for a session that is not live at `now`, so a late touch cannot revive one.
    /// Callers throttle it ([`SessionRecord::touch_due`]), so the request path rarely writes.
    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;

    /// Marks the session ended at `now`; `false` if it is unknown or already ended.
    async fn end_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Ends every session opened with this token and not ended yet (called when the token
    /// is revoked); returns how many.
    async fn end_sessions_for_token(&self, token_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Sessions live at `now`, of one principal or of all, newest first.
    async fn list_sessions(
        &self,
        principal_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>>;

    /// Deletes sessions that ended, or reached either deadline, before `cutoff`; returns
    /// how many.
    async fn prune_sessions(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}
