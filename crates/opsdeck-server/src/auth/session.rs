//! Dashboard sessions: the `opsdeck_session` cookie names a server-side session opened by
//! signing in with a personal token. The cookie holds 256 random bits; the database holds
//! only their hash. A session ends on logout, after its idle or absolute timeout, or when the
//! token it was opened with is revoked. State-changing requests from a session must come
//! from our own origin and carry the session's CSRF token.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use chrono::{DateTime, Utc};
use opsdeck_core::StoreError;
use opsdeck_core::auth::{AuthMethod, Principal};
use opsdeck_core::session::{SessionHash, SessionRecord};
use uuid::Uuid;

use super::cache::CachedSession;
use crate::state::AppState;

pub const COOKIE: &str = "opsdeck_session";
/// The header a script sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How often a busy session's last-seen time is written: idle expiry needs no finer grain.
const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The session a request came with; attached next to its [`super::Authenticated`].
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub id: Uuid,
    csrf: String,
}

impl SessionContext {
    pub fn new(record: &SessionRecord) -> Self {
        Self {
            id: record.id,
            csrf: record.csrf.clone(),
        }
    }

    /// The token forms and scripts must send back.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    pub fn csrf_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(self.csrf.as_bytes()))
    }
}

/// The session cookie's value, if the request has one.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// The principal of a live session, or `None` (no such session, ended, expired, or its
/// token revoked or expired): the caller is then treated as anonymous. A session found live
/// is served from the [`super::cache`] for a few seconds; its deadlines are checked on every
/// request all the same.
pub async fn resolve(
    state: &AppState,
    value: &str,
) -> Result<Option<(Principal, SessionContext)>, StoreError> {
    let Some(hash) = SessionHash::of(value) else {
        return Ok(None);
    };
    let store = state.store();
    let cache = state.token_usage().credentials();
    let now = state.clock().now();
    let session = match cache.session(hash.as_hex()) {
        Some(session) if session.is_live(now) => session,
        cached => {
            // Over by what the cache knows: ask the store, which may know a later idle
            // deadline (another replica touched the session) or that it really ended.
            if cached.is_some() {
                cache.forget_session(hash.as_hex());
            }
            let start = cache.before_read();
            match read_session(store.as_ref(), &hash, now).await {
                Ok(Some(session)) => cache.put_session(start, hash.as_hex(), session),
                Ok(None) => {
                    cache.forget_session(hash.as_hex());
                    return Ok(None);
                }
                // The store is down: a session it found live within the grace still reads.
                Err(StoreError::Unavailable(cause)) => match cache.session_in_outage(hash.as_hex())
                {
                    Some(kept) if kept.is_live(now) => kept,
                    _ => return Err(StoreError::Unavailable(cause)),
                },
                Err(other) => return Err(other),
            }
        }
    };
    let record = &session.record;
    // Not during an outage: the session is only being read, and the write would fail.
    if record.touch_due(now, TOUCH_EVERY) && !store.availability().is_down() {
        store.touch_session(record.id, now).await?;
        cache.session_touched(hash.as_hex(), now);
    }
    let principal = Principal {
        id: record.principal_id.clone(),
        name: record.principal_name.clone(),
        role: record.role,
        method: AuthMethod::Session,
    };
    Ok(Some((principal, SessionContext::new(record))))
}

/// The session with this hash as the store has it, if it is live at `now` and so is the
/// token it was opened with.
async fn read_session(
    store: &dyn opsdeck_core::Store,
    hash: &SessionHash,
    now: DateTime<Utc>,
) -> Result<Option<CachedSession>, StoreError> {
    let Some(record) = store.find_session(hash).await? else {
        return Ok(None);
    };
    if !record.is_live(now) {
        return Ok(None);
    }
    let token_expires_at = match record.token_id {
        None => None,
        Some(token_id) => match store.get_token(token_id).await? {
            Some(token) if token.is_active(now) => token.expires_at,
            _ => return Ok(None),
        },
    };
    Ok(Some(CachedSession {
        record,
        token_expires_at,
    }))
}

/// Whether a response tells the browser to drop the session cookie: the session it came with
/// is over (logout), so this process stops serving it from its cache at once.
pub fn clears_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && value.is_empty())
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("opsdeck_session=; Max-Age=0"))
}

/// `Set-Cookie` for a new session, living at most `max_age`.
pub fn set_cookie(secret: &str, max_age: std::time::Duration, secure: bool) -> HeaderValue {
    cookie(
        secret,
        i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        secure,
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    cookie("", 0, secure)
}

/// Whether a state-changing request comes from our own pages: Fetch Metadata when the
/// browser sends it, else the `Origin` header against `Host`. Neither → refused.
pub fn same_origin(method: &Method, headers: &HeaderMap) -> bool {
    if method.is_safe() {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        _ => false,
    }
}
