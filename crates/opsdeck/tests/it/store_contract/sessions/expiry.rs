//! Session deadlines, on both backends: idle and absolute expiry seen by moving `now`,
//! touching (forward only, never reviving), listing live sessions, pruning dead ones.

use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::Store;
use opsdeck_core::session::{NewSession, SessionHash};
use uuid::Uuid;

use super::{at, get, listed, new_session, open, t0};
use crate::support::contract::contract;

contract! {
    store: [
        idle_session_expires_at_its_idle_deadline,
        absolute_deadline_holds_however_often_it_is_touched,
        touch_extends_the_idle_deadline_and_never_moves_back,
        touch_does_not_revive_an_expired_or_ended_session,
        list_shows_live_sessions_newest_first_by_principal,
        prune_removes_sessions_ended_or_expired_before_cutoff,
    ],
    db: [],
}

async fn idle_session_expires_at_its_idle_deadline(store: Arc<dyn Store>) {
    let (secret, _) = open(&store, &new_session("token:1", None), t0()).await;
    let found = get(&store, &secret).await;
    assert!(found.is_live(at(59) + chrono::Duration::milliseconds(999)));
    assert!(!found.is_live(at(60)), "dead at the idle deadline");
    assert!(!found.is_live(at(61)));
    assert_eq!(found.ended_at, None, "expiry is not an end");
}

async fn absolute_deadline_holds_however_often_it_is_touched(store: Arc<dyn Store>) {
    let (secret, created) = open(&store, &new_session("token:1", None), t0()).await;
    // Every 30 s: well within the 60 s idle timeout, up to past the absolute deadline.
    for second in (30..=3_630).step_by(30) {
        store.touch_session(created.id, at(second)).await.unwrap();
    }
    let found = get(&store, &secret).await;
    assert_eq!(
        found.last_seen_at,
        at(3_570),
        "no touch after the absolute deadline"
    );
    assert!(found.idle_expires_at > at(3_600));
    assert!(found.is_live(at(3_599)));
    assert!(!found.is_live(at(3_600)), "dead at the absolute deadline");
}

async fn touch_extends_the_idle_deadline_and_never_moves_back(store: Arc<dyn Store>) {
    let (secret, created) = open(&store, &new_session("token:1", None), t0()).await;
    let stamp = at(50) + chrono::Duration::milliseconds(7);
    store.touch_session(created.id, stamp).await.unwrap();
    let found = get(&store, &secret).await;
    assert_eq!(found.last_seen_at, stamp);
    assert_eq!(found.idle_expires_at, stamp + chrono::Duration::seconds(60));
    assert!(found.is_live(at(100)), "alive past the first idle deadline");

    store.touch_session(created.id, at(20)).await.unwrap();
    assert_eq!(
        get(&store, &secret).await.last_seen_at,
        stamp,
        "never backwards"
    );
    store.touch_session(Uuid::now_v7(), at(60)).await.unwrap();
}

async fn touch_does_not_revive_an_expired_or_ended_session(store: Arc<dyn Store>) {
    let (idle, idle_record) = open(&store, &new_session("token:1", None), t0()).await;
    store.touch_session(idle_record.id, at(60)).await.unwrap();
    let found = get(&store, &idle).await;
    assert_eq!(found.last_seen_at, t0(), "touched at its idle deadline");
    assert!(!found.is_live(at(60)));

    let (ended, ended_record) = open(&store, &new_session("token:1", None), t0()).await;
    assert!(store.end_session(ended_record.id, at(10)).await.unwrap());
    store.touch_session(ended_record.id, at(20)).await.unwrap();
    assert_eq!(get(&store, &ended).await.last_seen_at, t0());
}

async fn list_shows_live_sessions_newest_first_by_principal(store: Arc<dyn Store>) {
    let (_, a1) = open(&store, &new_session("a", None), at(1)).await;
    let (_, b) = open(&store, &new_session("b", None), at(2)).await;
    let (_, a3) = open(&store, &new_session("a", None), at(3)).await;
    let (_, ended) = open(&store, &new_session("a", None), at(4)).await;
    store.end_session(ended.id, at(5)).await.unwrap();
    let short = NewSession {
        absolute_timeout: Duration::from_secs(10),
        ..new_session("a", None)
    };
    let (_, expired) = open(&store, &short, at(0)).await;

    assert_eq!(
        listed(&store, None, at(9)).await,
        [a3.id, b.id, a1.id, expired.id]
    );
    assert_eq!(listed(&store, None, at(10)).await, [a3.id, b.id, a1.id]);
    assert_eq!(listed(&store, Some("a"), at(10)).await, [a3.id, a1.id]);
    assert!(listed(&store, Some("nobody"), at(10)).await.is_empty());

    store.touch_session(a3.id, at(50)).await.unwrap();
    assert_eq!(
        listed(&store, None, at(61)).await,
        [a3.id, b.id],
        "a1 idle at 61, b at 62"
    );
    assert!(listed(&store, None, at(110)).await.is_empty());
}

async fn prune_removes_sessions_ended_or_expired_before_cutoff(store: Arc<dyn Store>) {
    let (ended, ended_record) = open(&store, &new_session("a", None), t0()).await;
    store.end_session(ended_record.id, at(10)).await.unwrap();
    let (idle, _) = open(&store, &new_session("a", None), at(-50)).await; // idle at 10
    let short = NewSession {
        absolute_timeout: Duration::from_secs(10),
        ..new_session("a", None)
    };
    let (absolute, absolute_record) = open(&store, &short, t0()).await; // expires at 10
    store
        .touch_session(absolute_record.id, at(9))
        .await
        .unwrap();
    let (live, _) = open(&store, &new_session("a", None), t0()).await; // idle at 60

    assert_eq!(
        store.prune_sessions(at(10)).await.unwrap(),
        0,
        "exactly at the cutoff is kept"
    );
    assert_eq!(store.prune_sessions(at(11)).await.unwrap(), 3);
    for gone in [&ended, &idle, &absolute] {
        let hash = SessionHash::of(gone.expose()).unwrap();
        assert_eq!(store.find_session(&hash).await.unwrap(), None);
    }
    assert!(get(&store, &live).await.is_live(at(11)));
    assert_eq!(store.prune_sessions(at(11)).await.unwrap(), 0);
}
