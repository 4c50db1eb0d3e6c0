//! Recently resolved credentials, so a busy caller does not cost a database lookup per
//! request: personal tokens and ingest keys by the SHA-256 of their text, dashboard sessions by
//! the hash of their cookie. An entry is trusted for at most [`TTL`] after it was read from the
//! store.
//!
//! What this does and does not change:
//! - **Only successes are kept.** An unknown, revoked, expired or malformed credential is
//!   looked up in the store every time it is presented, after the failed-authentication rate
//!   limit has had its say, so guessing gains nothing from the cache.
//! - **Expiry is exact.** Every hit checks the token's `expires_at` and the session's idle and
//!   absolute deadlines (and the deadline of the token a session was opened with) against the
//!   clock; a cached session that looks over is read again from the store rather than refused,
//!   since another replica may have moved its idle deadline.
//! - **Revocation in this process is immediate.** `DELETE /ops/tokens/{id}` drops the token and
//!   every session opened with it; a response that clears the session cookie (logout) drops
//!   that session.
//! - **Revocation elsewhere takes up to [`TTL`].** A token revoked with `opsdeck token revoke`
//!   or through another replica, or a session ended there, keeps working on this replica until
//!   its entry is [`TTL`] old.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_core::session::SessionRecord;
use opsdeck_core::token::TokenRecord;
use uuid::Uuid;

/// How long a credential read from the store is trusted without reading it again: the longest
/// a revocation made by another process (CLI, another replica) takes to reach this one. Short
/// enough for an emergency revocation, long enough that a busy caller costs one lookup per
/// few seconds instead of one per request.
pub const TTL: Duration = Duration::from_secs(5);

/// Entries kept per kind at most. A full cache first drops stale entries; if every entry is
/// fresh (more live callers than this within [`TTL`]), new credentials are simply not cached.
const CAPACITY: usize = 10_000;

#[derive(Debug)]
struct Entry<T> {
    value: Arc<T>,
    read_at: Instant,
}

/// A session as read from the store, with the expiry of the token it was opened with.
#[derive(Debug)]
pub struct CachedSession {
    pub record: SessionRecord,
    /// `expires_at` of the session's token (`None`: no token, or one that never expires).
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl CachedSession {
    /// Whether the session may be used at `now` by what is known of it.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.record.is_live(now) && self.token_expires_at.is_none_or(|at| now < at)
    }
}

/// The cache of one process; see the module documentation.
#[derive(Debug, Default)]
pub struct CredentialCache {
    tokens: Mutex<HashMap<String, Entry<TokenRecord>>>,
    sessions: Mutex<HashMap<String, Entry<CachedSession>>>,
    /// Moves on every revocation in this process. A store read that began before one is not
    /// cached: it may have seen the credential just before it was revoked.
    generation: AtomicU64,
}

/// When a store read began, by the cache's revocation count: see
/// [`CredentialCache::before_read`].
#[derive(Debug, Clone, Copy)]
pub struct ReadStart(u64);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent whatever panicked while holding the lock.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn get<T>(map: &Mutex<HashMap<String, Entry<T>>>, key: &str) -> Option<Arc<T>> {
    let mut map = lock(map);
    match map.get(key) {
        Some(entry) if entry.read_at.elapsed() < TTL => Some(entry.value.clone()),
        Some(_) => {
            map.remove(key);
            None
        }
        None => None,
    }
}

fn put<T>(
    map: &Mutex<HashMap<String, Entry<T>>>,
    generation: &AtomicU64,
    start: ReadStart,
    key: &str,
    value: T,
) -> Arc<T> {
    let value = Arc::new(value);
    let mut map = lock(map);
    // Compared under the map's lock, which a revocation takes after moving the generation:
    // either the revocation's removal runs after this insert, or this sees the new generation.
    if generation.load(Ordering::SeqCst) != start.0 {
        return value;
    }
    if map.len() >= CAPACITY && !map.contains_key(key) {
        map.retain(|_, entry| entry.read_at.elapsed() < TTL);
        if map.len() >= CAPACITY {
            return value;
        }
    }
    map.insert(
        key.to_owned(),
        Entry {
            value: value.clone(),
            read_at: Instant::now(),
        },
    );
    value
}

impl CredentialCache {
    /// Taken before reading a credential from the store, handed to `put_…` with the result.
    pub fn before_read(&self) -> ReadStart {
        ReadStart(self.generation.load(Ordering::SeqCst))
    }

    fn revoked(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The token with this hash (hex), if it was read from the store less than [`TTL`] ago
    /// and was active then. The caller still checks expiry against its clock.
    pub fn token(&self, hash: &str) -> Option<Arc<TokenRecord>> {
        get(&self.tokens, hash)
    }

    /// Keeps a token that was just found active in the store; a revoked one is only handed
    /// back.
    pub fn put_token(&self, start: ReadStart, hash: &str, record: TokenRecord) -> Arc<TokenRecord> {
        if record.revoked_at.is_some() {
            return Arc::new(record);
        }
        put(&self.tokens, &self.generation, start, hash, record)
    }

    /// The session with this hash (hex), if it was read from the store less than [`TTL`]
    /// ago; the caller checks [`CachedSession::is_live`].
    pub fn session(&self, hash: &str) -> Option<Arc<CachedSession>> {
        get(&self.sessions, hash)
    }

    /// Keeps a session that was just found live in the store; an ended one is only handed
    /// back.
    pub fn put_session(
        &self,
        start: ReadStart,
        hash: &str,
        session: CachedSession,
    ) -> Arc<CachedSession> {
        if session.record.ended_at.is_some() {
            return Arc::new(session);
        }
        put(&self.sessions, &self.generation, start, hash, session)
    }

    /// Records that a cached session's last-seen time was written as `at`, so the next
    /// requests neither write it again nor compute its idle deadline from the older time.
    /// Its age is kept: the entry is still read again within [`TTL`] of the first read.
    pub fn session_touched(&self, hash: &str, at: DateTime<Utc>) {
        let mut sessions = lock(&self.sessions);
        let Some(entry) = sessions.get_mut(hash) else {
            return;
        };
        let mut record = entry.value.record.clone();
        record.last_seen_at = at;
        if let Some(idle) = opsdeck_core::session::idle_deadline(
            at,
            i64::try_from(record.idle_timeout.as_secs()).unwrap_or(i64::MAX),
        ) {
            record.idle_expires_at = idle;
        }
        entry.value = Arc::new(CachedSession {
            record,
            token_expires_at: entry.value.token_expires_at,
        });
    }

    /// Drops a session, e.g. one that was found over or was just ended.
    pub fn forget_session(&self, hash: &str) {
        lock(&self.sessions).remove(hash);
    }

    /// Drops a session by id: ended by logout in this process.
    pub fn forget_session_id(&self, id: Uuid) {
        self.revoked();
        lock(&self.sessions).retain(|_, entry| entry.value.record.id != id);
    }

    /// Drops a token and every session opened with it: revoked in this process.
    pub fn forget_token(&self, id: Uuid) {
        self.revoked();
        lock(&self.tokens).retain(|_, entry| entry.value.id != id);
        lock(&self.sessions).retain(|_, entry| entry.value.record.token_id != Some(id));
    }
}
