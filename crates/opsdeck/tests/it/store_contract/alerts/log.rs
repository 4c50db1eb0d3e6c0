//! Contract tests for the alert delivery log, on both backends: filters, the cursor over
//! rows that share a creation time, and pruning.

use std::collections::HashSet;
use std::sync::Arc;

use opsdeck_core::Store;
use opsdeck_core::alert::{DeliveryFilter, DeliveryOutcome, DeliveryState};

use super::{LEASE, all, at, event, hooks};
use crate::support::contract::contract;

contract! {
    store: [
        the_log_filters_and_pages_newest_first,
        pruning_keeps_pending_and_recent_deliveries,
    ],
    db: [],
}

async fn the_log_filters_and_pages_newest_first(store: Arc<dyn Store>) {
    // Three webhooks per event, so rows share a created_at and the id breaks the tie.
    for (i, subject) in ["db", "web", "db", "cache"].iter().enumerate() {
        let seconds = i64::try_from(i).unwrap();
        store
            .record_alert(
                &event(subject, seconds),
                &hooks(&["a", "b", "c"]),
                at(seconds),
            )
            .await
            .unwrap();
    }
    let everything = all(&store).await;
    assert_eq!(everything.len(), 12);
    let keys: Vec<_> = everything.iter().map(|d| (d.created_at, d.id)).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "created_at then id, descending");

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_alert_deliveries(&DeliveryFilter {
                after,
                limit: 5,
                ..DeliveryFilter::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        paged.extend(page);
    }
    assert_eq!(paged, everything, "pages cover the log once, in order");

    let db = store
        .list_alert_deliveries(&DeliveryFilter {
            subject: Some("db".into()),
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(db.len(), 6);
    assert!(db.iter().all(|d| d.event.subject == "db"));

    let victim = everything[0].clone();
    store
        .claim_alert_deliveries(at(100), LEASE, 100)
        .await
        .unwrap();
    let outcome = DeliveryOutcome::Delivered;
    assert!(
        store
            .finish_alert_delivery(victim.id, 0, &outcome, at(100))
            .await
            .unwrap()
    );
    for (state, expected) in [
        (DeliveryState::Delivered, 1),
        (DeliveryState::Pending, 11),
        (DeliveryState::Failed, 0),
    ] {
        let found = store
            .list_alert_deliveries(&DeliveryFilter {
                state: Some(state),
                limit: 100,
                ..DeliveryFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(found.len(), expected, "{state}");
    }
    let cache_delivered = store
        .list_alert_deliveries(&DeliveryFilter {
            state: Some(DeliveryState::Delivered),
            subject: Some(victim.event.subject.clone()),
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        cache_delivered.iter().map(|d| d.id).collect::<Vec<_>>(),
        [victim.id]
    );
}

async fn pruning_keeps_pending_and_recent_deliveries(store: Arc<dyn Store>) {
    let old = store
        .record_alert(
            &event("old", 0),
            &hooks(&["done", "gave-up", "waiting"]),
            at(0),
        )
        .await
        .unwrap();
    store
        .record_alert(&event("quiet", 0), &[], at(0))
        .await
        .unwrap();
    let new = store
        .record_alert(&event("new", 100), &hooks(&["done"]), at(100))
        .await
        .unwrap();
    store
        .claim_alert_deliveries(at(100), LEASE, 100)
        .await
        .unwrap();
    let delivered = DeliveryOutcome::Delivered;
    store
        .finish_alert_delivery(old[0].id, 0, &delivered, at(100))
        .await
        .unwrap();
    store
        .finish_alert_delivery(old[1].id, 0, &DeliveryOutcome::failed("nope"), at(100))
        .await
        .unwrap();
    store
        .finish_alert_delivery(new[0].id, 0, &delivered, at(100))
        .await
        .unwrap();

    assert_eq!(store.prune_alerts(at(50)).await.unwrap(), 2);
    let left: HashSet<_> = all(&store).await.into_iter().map(|d| d.id).collect();
    assert_eq!(
        left,
        HashSet::from([old[2].id, new[0].id]),
        "pending and recent stay"
    );
    assert_eq!(store.prune_alerts(at(50)).await.unwrap(), 0);
}
