//! Contract tests for the tokens store, on both backends. Times are whole milliseconds,
//! the precision both backends keep.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::TokenName;
use opsdeck_core::token::{
    self, Grant, NewSecret, NewToken, Scope, Scopes, TokenHash, TokenKind, TokenRecord,
};
use opsdeck_core::{Store, StoreError};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::contract::contract;
use crate::support::db::TestDb;

contract! {
    store: [
        personal_token_is_found_by_hash_and_by_id,
        ingest_key_keeps_its_scopes_and_no_role,
        tokens_are_listed_newest_first_without_secrets,
        revoke_is_once_and_keeps_the_token_findable,
        expired_token_is_found_but_inactive,
        token_use_only_moves_last_used_forward,
        active_admins_are_counted_without_revoked_expired_or_others,
        duplicate_hash_is_a_conflict,
        concurrent_revocations_have_one_winner,
    ],
    db: [
        concurrent_token_use_from_many_tasks_and_replicas_succeeds,
    ],
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn new_token(name: &str, grant: Grant) -> NewToken {
    NewToken {
        name: TokenName::parse(name).unwrap(),
        grant,
        created_by: Some("admin-1".into()),
        expires_at: None,
    }
}

fn personal(name: &str, role: Role) -> NewToken {
    new_token(name, Grant::Role(role))
}

fn ingest(name: &str, scopes: &[Scope]) -> NewToken {
    new_token(
        name,
        Grant::Scopes(Scopes::new(scopes.iter().copied()).unwrap()),
    )
}

async fn create(
    store: &Arc<dyn Store>,
    new: &NewToken,
    now: DateTime<Utc>,
) -> (NewSecret, TokenRecord) {
    let secret = token::generate(new.kind());
    let record = store
        .create_token(new, &secret.hash, &secret.display, now)
        .await
        .expect("create_token");
    (secret, record)
}

async fn find(store: &Arc<dyn Store>, hash: &TokenHash) -> Option<TokenRecord> {
    store
        .find_token_by_hash(hash)
        .await
        .expect("find_token_by_hash")
}

async fn last_used(store: &Arc<dyn Store>, id: Uuid) -> Option<DateTime<Utc>> {
    let token = store.get_token(id).await.unwrap();
    token.expect("token").last_used_at
}

async fn personal_token_is_found_by_hash_and_by_id(store: Arc<dyn Store>) {
    let now = t0() + Duration::milliseconds(123);
    let mut new = personal("  deploy bot ", Role::Operator);
    new.expires_at = Some(at(3600) + Duration::milliseconds(7));
    let (secret, created) = create(&store, &new, now).await;

    assert_eq!(created.kind, TokenKind::Personal);
    assert_eq!(created.name, "deploy bot");
    assert_eq!(created.role, Some(Role::Operator));
    assert!(created.scopes.is_empty());
    assert_eq!(created.display, secret.display);
    assert_eq!(created.created_by.as_deref(), Some("admin-1"));
    assert_eq!(created.created_at, now);
    assert_eq!(created.expires_at, new.expires_at);
    assert_eq!((created.revoked_at, created.last_used_at), (None, None));
    assert!(created.is_active(now));

    let parsed = token::parse(secret.secret.expose()).unwrap();
    let found = find(&store, &parsed.hash).await;
    assert_eq!(found.as_ref(), Some(&created));
    assert_eq!(store.get_token(created.id).await.unwrap(), Some(created));

    let stranger = token::generate(TokenKind::Personal);
    assert_eq!(find(&store, &stranger.hash).await, None);
    assert_eq!(store.get_token(Uuid::now_v7()).await.unwrap(), None);
}

async fn ingest_key_keeps_its_scopes_and_no_role(store: Arc<dyn Store>) {
    let new = ingest("worker", &[Scope::Events, Scope::Checkins]);
    let (secret, created) = create(&store, &new, t0()).await;
    assert_eq!(created.kind, TokenKind::IngestKey);
    assert_eq!(created.role, None);
    assert_eq!(created.scopes, [Scope::Checkins, Scope::Events]);
    assert!(created.display.starts_with("opsdeck_key_"));
    let found = find(&store, &secret.hash).await;
    assert_eq!(found, Some(created));
}

async fn tokens_are_listed_newest_first_without_secrets(store: Arc<dyn Store>) {
    let (a, _) = create(&store, &personal("a", Role::Viewer), at(1)).await;
    let (c, _) = create(&store, &ingest("c", &[Scope::Jobs]), at(3)).await;
    let (b, _) = create(&store, &personal("b", Role::Admin), at(2)).await;

    let listed = store.list_tokens().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["c", "b", "a"]);

    let shown = format!("{listed:?}");
    for secret in [&a, &b, &c] {
        assert!(!shown.contains(secret.hash.as_hex()), "{shown}");
        assert!(!shown.contains(secret.secret.expose()), "{shown}");
    }
}

async fn revoke_is_once_and_keeps_the_token_findable(store: Arc<dyn Store>) {
    let (secret, created) = create(&store, &personal("ci", Role::Admin), t0()).await;
    let (_, other) = create(&store, &personal("other", Role::Admin), t0()).await;

    assert!(store.revoke_token(created.id, at(10)).await.unwrap());
    assert!(
        !store.revoke_token(created.id, at(20)).await.unwrap(),
        "already revoked"
    );
    assert!(!store.revoke_token(Uuid::now_v7(), at(20)).await.unwrap());

    let found = find(&store, &secret.hash).await.unwrap();
    assert_eq!(found.revoked_at, Some(at(10)), "the first one stands");
    assert!(!found.is_active(at(11)));
    let other = store.get_token(other.id).await.unwrap().unwrap();
    assert!(other.is_active(at(11)), "revocation touches one token");
}

async fn expired_token_is_found_but_inactive(store: Arc<dyn Store>) {
    let mut new = ingest("short-lived", &[Scope::Checkins]);
    new.expires_at = Some(at(60));
    let (secret, _) = create(&store, &new, t0()).await;
    let found = find(&store, &secret.hash).await.unwrap();
    assert!(found.is_active(at(59)));
    assert!(!found.is_active(at(60)));
    assert_eq!(found.revoked_at, None);
}

async fn token_use_only_moves_last_used_forward(store: Arc<dyn Store>) {
    let (_, a) = create(&store, &personal("a", Role::Viewer), t0()).await;
    let (_, b) = create(&store, &ingest("b", &[Scope::Jobs]), t0()).await;
    store.record_token_use(&[]).await.unwrap();
    assert_eq!(last_used(&store, a.id).await, None);

    // Within a batch, the latest stamp of a token wins; unknown ids are ignored.
    let stamp = at(10) + Duration::milliseconds(5);
    store
        .record_token_use(&[
            (a.id, at(5)),
            (Uuid::now_v7(), at(50)),
            (a.id, stamp),
            (b.id, at(7)),
        ])
        .await
        .unwrap();
    assert_eq!(last_used(&store, a.id).await, Some(stamp));
    assert_eq!(last_used(&store, b.id).await, Some(at(7)));

    store
        .record_token_use(&[(a.id, at(9)), (b.id, at(8))])
        .await
        .unwrap();
    assert_eq!(
        last_used(&store, a.id).await,
        Some(stamp),
        "never backwards"
    );
    assert_eq!(last_used(&store, b.id).await, Some(at(8)));
}

async fn active_admins_are_counted_without_revoked_expired_or_others(store: Arc<dyn Store>) {
    assert_eq!(store.count_active_admin_tokens(t0()).await.unwrap(), 0);
    create(&store, &personal("admin", Role::Admin), t0()).await;
    let (_, revoked) = create(&store, &personal("revoked", Role::Admin), t0()).await;
    store.revoke_token(revoked.id, at(1)).await.unwrap();
    let mut expiring = personal("expiring", Role::Admin);
    expiring.expires_at = Some(at(100));
    create(&store, &expiring, t0()).await;
    for role in [Role::Viewer, Role::Operator, Role::Support] {
        create(&store, &personal(role.as_str(), role), t0()).await;
    }
    create(&store, &ingest("key", &Scope::ALL), t0()).await;

    assert_eq!(store.count_active_admin_tokens(at(99)).await.unwrap(), 2);
    assert_eq!(store.count_active_admin_tokens(at(100)).await.unwrap(), 1);
}

async fn duplicate_hash_is_a_conflict(store: Arc<dyn Store>) {
    let secret = token::generate(TokenKind::Personal);
    let new = personal("one", Role::Admin);
    store
        .create_token(&new, &secret.hash, &secret.display, t0())
        .await
        .unwrap();
    let again = store
        .create_token(
            &personal("two", Role::Viewer),
            &secret.hash,
            &secret.display,
            at(1),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let message = format!("{again:?}");
    assert!(!message.contains(secret.hash.as_hex()), "{message}");
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
}

async fn concurrent_revocations_have_one_winner(store: Arc<dyn Store>) {
    let (_, created) = create(&store, &personal("ci", Role::Admin), t0()).await;
    let start = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.revoke_token(created.id, at(i)).await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap().expect("revoke_token"));
    }
    assert_eq!(winners, 1);
}

/// Many tasks over two pools (two replicas) flush overlapping batches, in different orders,
/// at once: none fails (no deadlock, no busy database) and the latest stamp wins.
async fn concurrent_token_use_from_many_tasks_and_replicas_succeeds(db: &TestDb) {
    let replicas = [db.store().await, db.store().await];
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e", "f"] {
        let (_, record) = create(&replicas[0], &personal(name, Role::Viewer), t0()).await;
        ids.push(record.id);
    }
    let start = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16_usize)
        .map(|task| {
            let (store, start) = (replicas[task % 2].clone(), start.clone());
            let stamp = at(task as i64);
            let mut batch: Vec<_> = ids.iter().map(|id| (*id, stamp)).collect();
            batch.rotate_left(task % ids.len());
            if task % 2 == 1 {
                batch.reverse();
            }
            tokio::spawn(async move {
                start.wait().await;
                for _ in 0..5 {
                    store.record_token_use(&batch).await?;
                }
                Ok::<_, StoreError>(())
            })
        })
        .collect();
    for task in tasks {
        let flushed = task.await.unwrap();
        flushed.expect("record_token_use under contention");
    }
    for id in ids {
        assert_eq!(last_used(&replicas[1], id).await, Some(at(15)));
    }
}
