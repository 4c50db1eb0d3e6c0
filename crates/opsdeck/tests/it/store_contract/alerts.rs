//! Contract tests for alert events and deliveries, on both backends: recording, claiming
//! with leases (and concurrent claimers never sharing a delivery), and finishing attempts
//! with the attempts fence; the delivery log and pruning are in `log.rs`. Times are whole
//! milliseconds, the precision both backends keep.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::Store;
use opsdeck_core::alert::{
    AlertEvent, AlertKind, AlertSource, Delivery, DeliveryFilter, DeliveryOutcome, DeliveryState,
};
use tokio::sync::Barrier;

use crate::support::contract::contract;

mod log;
use crate::support::db::TestDb;

contract! {
    store: [
        recorded_deliveries_read_back_as_returned,
        an_event_without_webhooks_has_no_deliveries,
        claims_take_due_deliveries_and_lease_them,
        claims_respect_the_limit_oldest_due_first,
        finishing_moves_the_delivery_and_counts_the_attempt,
        finishing_is_fenced_by_the_attempt_count,
    ],
    db: [
        concurrent_claimers_never_share_a_delivery,
    ],
}

const LEASE: Duration = Duration::from_secs(30);

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

fn event(subject: &str, seconds: i64) -> AlertEvent {
    AlertEvent::new(
        AlertSource::Health,
        subject,
        AlertKind::Down,
        "fail",
        &format!("health check {subject} is failing"),
        format!("/health/{subject}"),
        at(seconds),
    )
    .with_from("pass")
    .with_detail("connection refused")
}

fn hooks(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

async fn all(store: &Arc<dyn Store>) -> Vec<Delivery> {
    store
        .list_alert_deliveries(&DeliveryFilter {
            limit: 1000,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap()
}

async fn claim(store: &Arc<dyn Store>, seconds: i64, limit: u32) -> Vec<Delivery> {
    store
        .claim_alert_deliveries(at(seconds), LEASE, limit)
        .await
        .unwrap()
}

async fn recorded_deliveries_read_back_as_returned(store: Arc<dyn Store>) {
    let event = event("db", 0).with_detail("line one\nline two");
    let recorded = store
        .record_alert(&event, &hooks(&["ops", "slack"]), at(1))
        .await
        .unwrap();
    assert_eq!(recorded.len(), 2);
    for (delivery, hook) in recorded.iter().zip(["ops", "slack"]) {
        assert_eq!(delivery.webhook, hook);
        assert_eq!(delivery.event, event);
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!(delivery.attempts, 0);
        assert_eq!(
            (delivery.created_at, delivery.next_attempt_at),
            (at(1), at(1))
        );
        assert_eq!(
            (delivery.last_error.as_ref(), delivery.delivered_at),
            (None, None)
        );
    }
    let mut listed = all(&store).await;
    listed.sort_by_key(|d| d.webhook.clone());
    assert_eq!(listed, recorded, "read back exactly as returned");
}

async fn an_event_without_webhooks_has_no_deliveries(store: Arc<dyn Store>) {
    let recorded = store
        .record_alert(&event("db", 0), &[], at(0))
        .await
        .unwrap();
    assert!(recorded.is_empty());
    assert!(all(&store).await.is_empty());
    assert!(claim(&store, 100, 10).await.is_empty());
}

async fn claims_take_due_deliveries_and_lease_them(store: Arc<dyn Store>) {
    let recorded = store
        .record_alert(&event("db", 0), &hooks(&["a", "b"]), at(10))
        .await
        .unwrap();
    assert!(claim(&store, 9, 10).await.is_empty(), "not due yet");

    let claimed = claim(&store, 10, 10).await;
    assert_eq!(claimed.len(), 2, "due exactly at next_attempt_at");
    for recorded in &recorded {
        let claimed = claimed
            .iter()
            .find(|d| d.id == recorded.id)
            .expect("claimed");
        assert_eq!(claimed.id, recorded.id);
        assert_eq!(claimed.event, recorded.event);
        assert_eq!(claimed.attempts, 0, "a claim is not an attempt");
        assert_eq!(claimed.next_attempt_at, at(40), "leased for 30s");
        assert_eq!(claimed.state, DeliveryState::Pending);
    }
    assert!(claim(&store, 39, 10).await.is_empty(), "leased");
    let again = claim(&store, 40, 10).await;
    assert_eq!(again.len(), 2, "an expired lease makes them due again");
}

async fn claims_respect_the_limit_oldest_due_first(store: Arc<dyn Store>) {
    for (subject, seconds) in [("late", 5), ("early", 1), ("middle", 3)] {
        store
            .record_alert(&event(subject, seconds), &hooks(&["ops"]), at(seconds))
            .await
            .unwrap();
    }
    let first: Vec<String> = claim(&store, 10, 2)
        .await
        .into_iter()
        .map(|d| d.event.subject)
        .collect();
    assert_eq!(first, ["early", "middle"]);
    let rest: Vec<String> = claim(&store, 10, 2)
        .await
        .into_iter()
        .map(|d| d.event.subject)
        .collect();
    assert_eq!(rest, ["late"]);
}

async fn finishing_moves_the_delivery_and_counts_the_attempt(store: Arc<dyn Store>) {
    store
        .record_alert(&event("db", 0), &hooks(&["ok", "flaky"]), at(0))
        .await
        .unwrap();
    let claimed = claim(&store, 0, 10).await;
    let by_hook = |name: &str| claimed.iter().find(|d| d.webhook == name).unwrap();
    let (ok, flaky) = (by_hook("ok"), by_hook("flaky"));

    let finished = store
        .finish_alert_delivery(ok.id, 0, &DeliveryOutcome::Delivered, at(1))
        .await
        .unwrap();
    assert!(finished);
    let retry = DeliveryOutcome::retry(at(60), "HTTP 500 Internal Server Error");
    assert!(
        store
            .finish_alert_delivery(flaky.id, 0, &retry, at(1))
            .await
            .unwrap()
    );

    let listed = all(&store).await;
    let find = |id| listed.iter().find(|d| d.id == id).unwrap().clone();
    let ok = find(ok.id);
    assert_eq!(
        (ok.state, ok.attempts, ok.delivered_at),
        (DeliveryState::Delivered, 1, Some(at(1)))
    );
    let flaky = find(flaky.id);
    assert_eq!((flaky.state, flaky.attempts), (DeliveryState::Pending, 1));
    assert_eq!(flaky.next_attempt_at, at(60));
    assert_eq!(
        flaky.last_error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );

    assert!(claim(&store, 59, 10).await.is_empty(), "retry not due yet");
    let again = claim(&store, 60, 10).await;
    assert_eq!(again.iter().map(|d| d.id).collect::<Vec<_>>(), [flaky.id]);
    assert_eq!(again[0].attempts, 1);
    let failed = DeliveryOutcome::failed("HTTP 502 Bad Gateway");
    assert!(
        store
            .finish_alert_delivery(flaky.id, 1, &failed, at(61))
            .await
            .unwrap()
    );
    let flaky = all(&store)
        .await
        .into_iter()
        .find(|d| d.id == flaky.id)
        .unwrap();
    assert_eq!((flaky.state, flaky.attempts), (DeliveryState::Failed, 2));
    assert_eq!(flaky.last_error.as_deref(), Some("HTTP 502 Bad Gateway"));
    assert_eq!(flaky.delivered_at, None);
    assert!(
        claim(&store, 1_000, 10).await.is_empty(),
        "finished ones are never claimed"
    );
}

async fn finishing_is_fenced_by_the_attempt_count(store: Arc<dyn Store>) {
    store
        .record_alert(&event("db", 0), &hooks(&["ops"]), at(0))
        .await
        .unwrap();
    let delivery = claim(&store, 0, 1).await.remove(0);
    let retry = DeliveryOutcome::retry(at(5), "timed out");
    assert!(
        store
            .finish_alert_delivery(delivery.id, 0, &retry, at(1))
            .await
            .unwrap()
    );
    // A second worker whose claim saw attempts = 0 finishes late: refused.
    assert!(
        !store
            .finish_alert_delivery(delivery.id, 0, &DeliveryOutcome::Delivered, at(2))
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_alert_delivery(delivery.id, 1, &DeliveryOutcome::Delivered, at(6))
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_alert_delivery(delivery.id, 2, &DeliveryOutcome::failed("x"), at(7))
            .await
            .unwrap(),
        "a finished delivery stays finished"
    );
    assert!(
        !store
            .finish_alert_delivery(uuid::Uuid::now_v7(), 0, &DeliveryOutcome::Delivered, at(7))
            .await
            .unwrap()
    );
    let stored = all(&store).await.remove(0);
    assert_eq!(
        (stored.state, stored.attempts),
        (DeliveryState::Delivered, 2)
    );
    assert_eq!(
        stored.last_error.as_deref(),
        Some("timed out"),
        "kept after success"
    );
}

/// Several claimers over two pools (two replicas) drain one backlog at the same instant.
async fn concurrent_claimers_never_share_a_delivery(db: &TestDb) {
    let replicas = [db.store().await, db.store().await];
    let mut expected = HashSet::new();
    for i in 0..20 {
        let recorded = replicas[0]
            .record_alert(&event(&format!("check-{i}"), i), &hooks(&["a", "b"]), at(0))
            .await
            .unwrap();
        expected.extend(recorded.into_iter().map(|d| d.id));
    }
    let claimers = 8;
    let start = Arc::new(Barrier::new(claimers));
    let tasks: Vec<_> = (0..claimers)
        .map(|i| {
            let store = replicas[i % 2].clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut mine = Vec::new();
                loop {
                    let batch = store
                        .claim_alert_deliveries(at(1), LEASE, 3)
                        .await
                        .expect("no error under contention");
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|d| d.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(seen.insert(id), "delivery {id} claimed twice");
        }
    }
    assert_eq!(seen, expected, "every delivery claimed exactly once");
}
