//! Contract tests for the impersonation store, on both backends: signing keys added at most
//! once per rotation even by racing replicas, the signing key and the published set as keys
//! rotate, impersonations listed, revoked once, and the revocation feed in order.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsdeck_core::ids::TenantId;
use opsdeck_core::impersonation::{
    Impersonation, RevocationQuery, Revoked, StoredKey, UserId, publish_window,
};
use opsdeck_core::{Store, StoreError};
use opsdeck_store::{DatabaseUrl, PoolSettings};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::contract::contract;
use crate::support::db::TestDb;

contract! {
    store: [
        the_first_key_is_added_and_signs_at_once,
        a_recent_key_keeps_another_out,
        racing_rotations_on_one_store_add_one_key,
        a_rotated_key_signs_once_active_and_the_old_one_leaves_the_set_after_the_window,
        active_impersonations_are_listed_per_tenant_newest_first,
        revocation_happens_once_and_only_for_the_tenant,
        concurrent_revocations_have_one_winner,
        the_revocation_feed_pages_in_order_and_forgets_expired_tokens,
        a_jti_is_stored_once,
    ],
    db: [
        racing_replicas_add_one_key,
    ],
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn week() -> Duration {
    Duration::days(7)
}

fn key(kid: &str, created_at: DateTime<Utc>, active_from: DateTime<Utc>) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        public_key: format!("x-of-{kid}"),
        private_key: format!("sealed-{kid}"),
        created_at,
        active_from,
    }
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

fn impersonation(tenant_id: &str, issued: i64, ttl_seconds: i64) -> Impersonation {
    Impersonation {
        jti: Uuid::new_v4(),
        tenant: tenant(tenant_id),
        user_id: UserId::parse("user 7").unwrap(),
        operator_id: "op-1".into(),
        operator_name: "jane".into(),
        reason: "ticket 42".into(),
        kid: "kid-a".into(),
        issued_at: at(issued),
        expires_at: at(issued + ttl_seconds),
        revoked_at: None,
        revoked_by: None,
    }
}

fn kids(keys: &[opsdeck_core::impersonation::PublishedKey]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

async fn the_first_key_is_added_and_signs_at_once(store: Arc<dyn Store>) {
    assert_eq!(store.signing_key(t0()).await.unwrap(), None);
    assert_eq!(store.newest_signing_key_at().await.unwrap(), None);
    let a = key("kid-a", t0(), t0());
    assert!(store.add_signing_key(&a, t0() - week()).await.unwrap());
    assert_eq!(store.signing_key(t0()).await.unwrap(), Some(a.clone()));
    assert_eq!(store.signing_key(at(-1)).await.unwrap(), None, "not before");
    assert_eq!(store.newest_signing_key_at().await.unwrap(), Some(t0()));
    let published = store.published_keys(t0() - publish_window()).await.unwrap();
    assert_eq!(kids(&published), ["kid-a"]);
    assert_eq!(published[0].public_key, "x-of-kid-a");
}

async fn a_recent_key_keeps_another_out(store: Arc<dyn Store>) {
    assert!(
        store
            .add_signing_key(&key("kid-a", t0(), t0()), t0() - week())
            .await
            .unwrap()
    );
    let later = at(3600);
    assert!(
        !store
            .add_signing_key(&key("kid-b", later, later), later - week())
            .await
            .unwrap(),
        "kid-a is younger than a week"
    );
    let week_later = t0() + week();
    assert!(
        store
            .add_signing_key(&key("kid-c", week_later, week_later), week_later - week())
            .await
            .unwrap(),
        "kid-a is older than a week"
    );
    let published = store.published_keys(t0() - publish_window()).await.unwrap();
    assert_eq!(kids(&published), ["kid-a", "kid-c"]);
}

async fn race(stores: Vec<Arc<dyn Store>>, per_store: usize) -> usize {
    let barrier = Arc::new(Barrier::new(stores.len() * per_store));
    let mut tasks = Vec::new();
    for (s, store) in stores.into_iter().enumerate() {
        for i in 0..per_store {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let now = at((s * per_store + i) as i64);
                let key = key(&format!("kid-{s}-{i}"), now, now);
                barrier.wait().await;
                store.add_signing_key(&key, t0() - week()).await.unwrap()
            }));
        }
    }
    let mut added = 0;
    for task in tasks {
        added += usize::from(task.await.unwrap());
    }
    added
}

async fn racing_rotations_on_one_store_add_one_key(store: Arc<dyn Store>) {
    assert_eq!(race(vec![store.clone(); 1], 8).await, 1);
    let published = store.published_keys(t0() - publish_window()).await.unwrap();
    assert_eq!(published.len(), 1);
}

async fn racing_replicas_add_one_key(db: &TestDb) {
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(
            opsdeck_store::connect(&url, &PoolSettings::default())
                .await
                .unwrap(),
        );
    }
    assert_eq!(race(stores.clone(), 4).await, 1);
    let published = stores[0]
        .published_keys(t0() - publish_window())
        .await
        .unwrap();
    assert_eq!(published.len(), 1, "{published:?}");
}

async fn a_rotated_key_signs_once_active_and_the_old_one_leaves_the_set_after_the_window(
    store: Arc<dyn Store>,
) {
    let a = key("kid-a", t0(), t0());
    assert!(store.add_signing_key(&a, t0() - week()).await.unwrap());
    let rotated = t0() + week();
    let b_active = rotated + Duration::minutes(2);
    let b = key("kid-b", rotated, b_active);
    assert!(store.add_signing_key(&b, rotated - week()).await.unwrap());
    assert_eq!(store.newest_signing_key_at().await.unwrap(), Some(rotated));
    // Published before it signs; the old key signs until then.
    assert_eq!(
        store.signing_key(rotated).await.unwrap().unwrap().kid,
        "kid-a"
    );
    let published_at = |now: DateTime<Utc>| {
        let store = store.clone();
        async move { store.published_keys(now - publish_window()).await.unwrap() }
    };
    assert_eq!(kids(&published_at(rotated).await), ["kid-a", "kid-b"]);
    assert_eq!(
        store.signing_key(b_active).await.unwrap().unwrap().kid,
        "kid-b"
    );
    // kid-a retired at b_active: its tokens live at most the window longer.
    let last = b_active + publish_window() - Duration::milliseconds(1);
    assert_eq!(kids(&published_at(last).await), ["kid-a", "kid-b"]);
    assert_eq!(
        store
            .prune_signing_keys(last - publish_window())
            .await
            .unwrap(),
        0
    );
    let gone = b_active + publish_window() + Duration::milliseconds(1);
    assert_eq!(kids(&published_at(gone).await), ["kid-b"]);
    assert_eq!(
        store
            .prune_signing_keys(gone - publish_window())
            .await
            .unwrap(),
        1
    );
    assert_eq!(kids(&published_at(t0()).await), ["kid-b"], "deleted");
    assert_eq!(store.signing_key(gone).await.unwrap(), Some(b));
}

async fn active_impersonations_are_listed_per_tenant_newest_first(store: Arc<dyn Store>) {
    let first = impersonation("acme", 0, 900);
    let second = impersonation("acme", 60, 900);
    let short = impersonation("acme", 120, 60);
    let elsewhere = impersonation("globex", 0, 900);
    for i in [&first, &second, &short, &elsewhere] {
        store.record_impersonation(i).await.unwrap();
    }
    let listed = store
        .list_active_impersonations(&tenant("acme"), at(130))
        .await
        .unwrap();
    assert_eq!(listed, vec![short.clone(), second.clone(), first.clone()]);
    let later = store
        .list_active_impersonations(&tenant("acme"), at(180))
        .await
        .unwrap();
    assert_eq!(later, vec![second.clone(), first.clone()], "short expired");
    assert!(
        store
            .list_active_impersonations(&tenant("initech"), at(0))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn revocation_happens_once_and_only_for_the_tenant(store: Arc<dyn Store>) {
    let one = impersonation("acme", 0, 900);
    store.record_impersonation(&one).await.unwrap();
    assert_eq!(
        store
            .revoke_impersonation(&tenant("globex"), one.jti, "op-2", at(10))
            .await
            .unwrap(),
        Revoked::Unknown,
        "another tenant's impersonation is not found through this one"
    );
    assert_eq!(
        store
            .revoke_impersonation(&tenant("acme"), Uuid::new_v4(), "op-2", at(10))
            .await
            .unwrap(),
        Revoked::Unknown
    );
    let Revoked::Now(revoked) = store
        .revoke_impersonation(&tenant("acme"), one.jti, "op-2", at(10))
        .await
        .unwrap()
    else {
        panic!("revoked now");
    };
    assert_eq!(revoked.revoked_at, Some(at(10)));
    assert_eq!(revoked.revoked_by.as_deref(), Some("op-2"));
    assert_eq!(
        store
            .revoke_impersonation(&tenant("acme"), one.jti, "op-3", at(20))
            .await
            .unwrap(),
        Revoked::Already(revoked),
        "the first revocation stands"
    );
    assert!(
        store
            .list_active_impersonations(&tenant("acme"), at(20))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_revocations_have_one_winner(store: Arc<dyn Store>) {
    let one = impersonation("acme", 0, 900);
    store.record_impersonation(&one).await.unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .revoke_impersonation(&tenant("acme"), one.jti, &format!("op-{i}"), at(i))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut now = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Revoked::Now(_)) {
            now += 1;
        }
    }
    assert_eq!(now, 1);
}

async fn the_revocation_feed_pages_in_order_and_forgets_expired_tokens(store: Arc<dyn Store>) {
    let mut all = Vec::new();
    for (issued, ttl) in [(0, 900), (0, 900), (0, 900), (0, 900), (0, 120)] {
        let i = impersonation("acme", issued, ttl);
        store.record_impersonation(&i).await.unwrap();
        all.push(i);
    }
    let never_revoked = impersonation("acme", 0, 900);
    store.record_impersonation(&never_revoked).await.unwrap();
    // Two revoked in the same millisecond, so a page boundary falls between equal times.
    let times = [at(30), at(10), at(10), at(20), at(15)];
    for (i, when) in all.iter().zip(times) {
        assert!(matches!(
            store
                .revoke_impersonation(&i.tenant, i.jti, "op", when)
                .await
                .unwrap(),
            Revoked::Now(_)
        ));
    }
    let query = |since, after, expiring_after, limit| RevocationQuery {
        since,
        after,
        expiring_after,
        limit,
    };
    let everything = store
        .revoked_impersonations(&query(None, None, at(0), 100))
        .await
        .unwrap();
    let mut expected: Vec<(DateTime<Utc>, Uuid)> =
        all.iter().zip(times).map(|(i, t)| (t, i.jti)).collect();
    expected.sort();
    let got: Vec<(DateTime<Utc>, Uuid)> =
        everything.iter().map(|r| (r.revoked_at, r.jti)).collect();
    assert_eq!(got, expected, "oldest revocation first, then by jti");
    assert!(everything.iter().all(|r| r.tenant.as_str() == "acme"));
    assert_eq!(everything.last().unwrap().expires_at, at(900));

    // Paging two at a time with the cursor visits each once.
    let mut paged = Vec::new();
    let (mut since, mut after) = (None, None);
    loop {
        let page = store
            .revoked_impersonations(&query(since, after, at(0), 2))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        (since, after) = (Some(last.revoked_at), Some(last.jti));
        paged.extend(page.iter().map(|r| (r.revoked_at, r.jti)));
    }
    assert_eq!(paged, expected);

    // `since` alone is inclusive.
    let from = store
        .revoked_impersonations(&query(Some(at(15)), None, at(0), 100))
        .await
        .unwrap();
    assert_eq!(from.len(), 3);
    // The 120-second token expired: past its expiry it leaves the feed.
    let later = store
        .revoked_impersonations(&query(None, None, at(121), 100))
        .await
        .unwrap();
    assert_eq!(later.len(), 4);
    assert!(later.iter().all(|r| r.expires_at > at(121)));
}

async fn a_jti_is_stored_once(store: Arc<dyn Store>) {
    let one = impersonation("acme", 0, 900);
    store.record_impersonation(&one).await.unwrap();
    let again = store.record_impersonation(&one).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
}
