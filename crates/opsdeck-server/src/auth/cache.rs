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
//! - **During an outage of the store** (SPEC §8) a credential found active within the outage
//!   grace (`auth.outage_grace`) keeps serving reads: entries stay that long, are read again
//!   after [`TTL`] while the store answers, and are dropped when the store no longer knows
//!   them as active. One revoked in this process stays refused; one never seen is refused.

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
#[derive(Debug)]
pub struct CredentialCache {
    tokens: Mutex<HashMap<String, Entry<TokenRecord>>>,
    sessions: Mutex<HashMap<String, Entry<CachedSession>>>,
    /// Hashes of tokens revoked in this process while cached: refused by name even when the
    /// store cannot be asked.
    revoked: Mutex<std::collections::HashSet<String>>,
    /// How long after it was last read from the store a credential still lets its holder
    /// read while the store is unreachable (`auth.outage_grace`).
    grace: Duration,
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

/// The entry under `key` if it was read from the store less than `max_age` ago. An older
/// one stays (for an outage of the store, up to the grace) until a read replaces or drops it.
fn get<T>(map: &Mutex<HashMap<String, Entry<T>>>, key: &str, max_age: Duration) -> Option<Arc<T>> {
    let map = lock(map);
    map.get(key)
        .filter(|entry| entry.read_at.elapsed() < max_age)
        .map(|entry| entry.value.clone())
}

fn put<T>(
    map: &Mutex<HashMap<String, Entry<T>>>,
    grace: Duration,
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
        // Room is made from what an outage could no longer use, then from what is stale.
        map.retain(|_, entry| entry.read_at.elapsed() < grace);
        if map.len() >= CAPACITY {
            map.retain(|_, entry| entry.read_at.elapsed() < TTL);
        }
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

/// `auth.outage_grace` when not configured.
pub const DEFAULT_OUTAGE_GRACE: Duration = Duration::from_secs(15 * 60);

impl Default for CredentialCache {
    fn default() -> Self {
        Self::with_outage_grace(DEFAULT_OUTAGE_GRACE)
    }
}

impl CredentialCache {
    /// A cache whose credentials serve reads during an outage of the store for `grace`
    /// after they were last read from it.
    pub fn with_outage_grace(grace: Duration) -> Self {
        Self {
            tokens: Mutex::default(),
            sessions: Mutex::default(),
            revoked: Mutex::default(),
            grace: grace.max(TTL),
            generation: AtomicU64::new(0),
        }
    }

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
        get(&self.tokens, hash, TTL)
    }

    /// The token with this hash if it was found active in the store within the outage
    /// grace and not revoked in this process since: for reads while the store is down.
    pub fn token_in_outage(&self, hash: &str) -> Option<Arc<TokenRecord>> {
        get(&self.tokens, hash, self.grace)
    }

    /// Whether the token with this hash was revoked in this process.
    pub fn was_revoked(&self, hash: &str) -> bool {
        lock(&self.revoked).contains(hash)
    }

    /// Drops the token with this hash: the store no longer knows it as active.
    pub fn forget_token_hash(&self, hash: &str) {
        lock(&self.tokens).remove(hash);
    }

    /// Keeps a token that was just found active in the store; a revoked one is only handed
    /// back.
    pub fn put_token(&self, start: ReadStart, hash: &str, record: TokenRecord) -> Arc<TokenRecord> {
        if record.revoked_at.is_some() {
            return Arc::new(record);
        }
        put(
            &self.tokens,
            self.grace,
            &self.generation,
            start,
            hash,
            record,
        )
    }

    /// The session with this hash (hex), if it was read from the store less than [`TTL`]
    /// ago; the caller checks [`CachedSession::is_live`].
    pub fn session(&self, hash: &str) -> Option<Arc<CachedSession>> {
        get(&self.sessions, hash, TTL)
    }

    /// The session with this hash if it was found live in the store within the outage
    /// grace and not ended in this process since: for reads while the store is down.
    pub fn session_in_outage(&self, hash: &str) -> Option<Arc<CachedSession>> {
        get(&self.sessions, hash, self.grace)
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
        put(
            &self.sessions,
            self.grace,
            &self.generation,
            start,
            hash,
            session,
        )
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
        let mut revoked = Vec::new();
        lock(&self.tokens).retain(|hash, entry| {
            let keep = entry.value.id != id;
            if !keep {
                revoked.push(hash.clone());
            }
            keep
        });
        let mut known = lock(&self.revoked);
        if known.len() >= CAPACITY {
            known.clear();
        }
        known.extend(revoked);
        drop(known);
        lock(&self.sessions).retain(|_, entry| entry.value.record.token_id != Some(id));
    }
}
