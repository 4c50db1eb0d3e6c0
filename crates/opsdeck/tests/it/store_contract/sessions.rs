//! Contract tests for the sessions store, on both backends: opening, finding, ending one or
//! all of a token's sessions. Deadlines, touching, listing and pruning are in `expiry.rs`.
//! Times are whole milliseconds, the precision both backends keep.

mod expiry;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::auth::{AuthMethod, Role};
use opsdeck_core::session::{self, NewSession, SessionHash, SessionRecord, SessionSecret};
use opsdeck_core::{Store, StoreError};
use uuid::Uuid;

use crate::support::contract::contract;

contract! {
    store: [
        session_is_found_by_hash_as_it_was_opened,
        end_session_is_once,
        ending_a_tokens_sessions_leaves_the_others,
        duplicate_hash_is_a_conflict,
        out_of_range_timeouts_are_refused,
    ],
    db: [],
}

pub(super) const IDLE: Duration = Duration::from_secs(60);
pub(super) const ABSOLUTE: Duration = Duration::from_secs(3_600);

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

pub(super) fn at(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

pub(super) fn new_session(principal: &str, token_id: Option<Uuid>) -> NewSession {
    NewSession {
        principal_id: principal.into(),
        principal_name: format!("{principal} (name)"),
        role: Role::Operator,
        method: AuthMethod::Token,
        token_id,
        client_addr: None,
        user_agent: None,
        idle_timeout: IDLE,
        absolute_timeout: ABSOLUTE,
    }
}

pub(super) async fn open(
    store: &Arc<dyn Store>,
    new: &NewSession,
    now: DateTime<Utc>,
) -> (SessionSecret, SessionRecord) {
    let (secret, hash) = session::generate();
    let record = store
        .create_session(new, &hash, &session::generate_csrf(), now)
        .await
        .expect("create_session");
    (secret, record)
}

pub(super) async fn get(store: &Arc<dyn Store>, secret: &SessionSecret) -> SessionRecord {
    let hash = SessionHash::of(secret.expose()).expect("well-formed");
    let found = store.find_session(&hash).await.expect("find_session");
    found.expect("session")
}

pub(super) async fn listed(
    store: &Arc<dyn Store>,
    principal: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<Uuid> {
    let sessions = store.list_sessions(principal, now).await.unwrap();
    sessions.into_iter().map(|s| s.id).collect()
}

async fn session_is_found_by_hash_as_it_was_opened(store: Arc<dyn Store>) {
    let now = t0() + chrono::Duration::milliseconds(123);
    let token_id = Uuid::now_v7();
    let new = NewSession {
        role: Role::Admin,
        client_addr: Some("203.0.113.7".into()),
        user_agent: Some(format!("Mozilla/5.0 {}", "x".repeat(300))),
        ..new_session("token:1", Some(token_id))
    };
    let (secret, hash) = session::generate();
    let csrf = session::generate_csrf();
    let created = store.create_session(&new, &hash, &csrf, now).await.unwrap();

    assert_eq!(created.principal_id, "token:1");
    assert_eq!(created.principal_name, "token:1 (name)");
    assert_eq!(
        (created.role, created.method),
        (Role::Admin, AuthMethod::Token)
    );
    assert_eq!(created.token_id, Some(token_id));
    assert!(created.csrf_matches(&csrf));
    assert_eq!((created.created_at, created.last_seen_at), (now, now));
    assert_eq!(created.idle_timeout, IDLE);
    assert_eq!(created.idle_expires_at, now + chrono::Duration::seconds(60));
    assert_eq!(created.expires_at, now + chrono::Duration::seconds(3_600));
    assert_eq!(created.ended_at, None);
    assert_eq!(created.client_addr.as_deref(), Some("203.0.113.7"));
    let agent = created.user_agent.as_deref().unwrap();
    assert_eq!(agent.chars().count(), session::USER_AGENT_MAX_CHARS);
    assert!(agent.starts_with("Mozilla/5.0 xxx"), "{agent}");
    assert!(created.is_live(now));

    assert_eq!(get(&store, &secret).await, created);
    let shown = format!("{created:?}");
    for secret in [secret.expose(), hash.as_hex(), &csrf] {
        assert!(!shown.contains(secret), "{shown}");
    }

    let (_, stranger) = session::generate();
    assert_eq!(store.find_session(&stranger).await.unwrap(), None);

    let anonymous = NewSession {
        method: AuthMethod::Proxy,
        ..new_session("proxy:bob@example.com", None)
    };
    let (secret, created) = open(&store, &anonymous, now).await;
    assert_eq!((created.token_id, created.user_agent), (None, None));
    assert_eq!(get(&store, &secret).await.method, AuthMethod::Proxy);
}

async fn end_session_is_once(store: Arc<dyn Store>) {
    let (secret, created) = open(&store, &new_session("token:1", None), t0()).await;
    let (other, _) = open(&store, &new_session("token:1", None), t0()).await;
    assert!(store.end_session(created.id, at(10)).await.unwrap());
    assert!(
        !store.end_session(created.id, at(20)).await.unwrap(),
        "already ended"
    );
    assert!(!store.end_session(Uuid::now_v7(), at(20)).await.unwrap());

    let found = get(&store, &secret).await;
    assert_eq!(found.ended_at, Some(at(10)), "the first end stands");
    assert!(!found.is_live(at(10)));
    assert!(
        get(&store, &other).await.is_live(at(10)),
        "one session ended"
    );
}

async fn ending_a_tokens_sessions_leaves_the_others(store: Arc<dyn Store>) {
    let (revoked, kept) = (Uuid::now_v7(), Uuid::now_v7());
    let mut of_revoked = Vec::new();
    for _ in 0..3 {
        of_revoked.push(open(&store, &new_session("token:1", Some(revoked)), t0()).await);
    }
    let (other, _) = open(&store, &new_session("token:2", Some(kept)), t0()).await;
    let (tokenless, _) = open(&store, &new_session("proxy:x", None), t0()).await;
    store.end_session(of_revoked[0].1.id, at(5)).await.unwrap();

    assert_eq!(
        store.end_sessions_for_token(revoked, at(10)).await.unwrap(),
        2
    );
    assert_eq!(
        store.end_sessions_for_token(revoked, at(20)).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .end_sessions_for_token(Uuid::now_v7(), at(20))
            .await
            .unwrap(),
        0
    );

    for ((secret, _), ended_at) in of_revoked.iter().zip([at(5), at(10), at(10)]) {
        assert_eq!(get(&store, secret).await.ended_at, Some(ended_at));
    }
    assert!(get(&store, &other).await.is_live(at(10)));
    assert!(get(&store, &tokenless).await.is_live(at(10)));
}

async fn duplicate_hash_is_a_conflict(store: Arc<dyn Store>) {
    let (_, hash) = session::generate();
    let new = new_session("a", None);
    let csrf = session::generate_csrf();
    store
        .create_session(&new, &hash, &csrf, t0())
        .await
        .unwrap();
    let again = store.create_session(&new, &hash, &csrf, at(1)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let message = format!("{again:?}");
    assert!(!message.contains(hash.as_hex()), "{message}");
    assert_eq!(listed(&store, None, at(1)).await.len(), 1);
}

async fn out_of_range_timeouts_are_refused(store: Arc<dyn Store>) {
    for new in [
        NewSession {
            idle_timeout: Duration::from_millis(500),
            ..new_session("a", None)
        },
        NewSession {
            absolute_timeout: Duration::MAX,
            ..new_session("a", None)
        },
    ] {
        let (_, hash) = session::generate();
        let created = store
            .create_session(&new, &hash, &session::generate_csrf(), t0())
            .await;
        assert!(matches!(created, Err(StoreError::Other(_))), "{created:?}");
    }
    assert!(listed(&store, None, t0()).await.is_empty());
}
