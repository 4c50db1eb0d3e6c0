//! Contract tests for what cron agrees on across replicas, on both backends: a scheduled
//! slot is claimed once, also by many replicas racing for it, and a gap in opsdeck's
//! heartbeats is recorded as one outage, also when several replicas come back together.

use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::Store;
use opsdeck_core::cron::Outage;
use tokio::sync::Barrier;
use uuid::Uuid;

use super::{at, slug};
use crate::support::contract::contract;
use crate::support::db::TestDb;

contract! {
    store: [
        a_slot_is_claimed_once,
        a_heartbeat_gap_is_recorded_once_as_an_outage,
    ],
    db: [
        racing_replicas_claim_a_slot_once,
        replicas_back_together_record_one_outage,
    ],
}

const MAX_GAP: Duration = Duration::from_secs(30);

async fn a_slot_is_claimed_once(store: Arc<dyn Store>) {
    let (one, two) = (Uuid::new_v4(), Uuid::new_v4());
    let claim = |name: &'static str, slot: i64, instance: Uuid| {
        let store = store.clone();
        async move {
            store
                .claim_slot(&slug(name), at(slot), instance, at(slot))
                .await
                .unwrap()
        }
    };
    assert!(claim("report", 0, one).await);
    assert!(!claim("report", 0, two).await, "taken by one");
    assert!(!claim("report", 0, one).await, "even for the same instance");
    assert!(claim("report", 60, two).await, "the next slot is free");
    assert!(claim("mailer", 0, two).await, "slots are per job");

    assert_eq!(store.prune_slots(at(60)).await.unwrap(), 2);
    assert!(
        !claim("report", 60, one).await,
        "a claim at the cutoff is kept"
    );
    assert_eq!(store.prune_slots(at(60)).await.unwrap(), 0);
}

async fn a_heartbeat_gap_is_recorded_once_as_an_outage(store: Arc<dyn Store>) {
    let alive = |seconds| {
        let store = store.clone();
        async move { store.record_alive(at(seconds), MAX_GAP).await.unwrap() }
    };
    assert_eq!(
        alive(0).await,
        None,
        "the first heartbeat ever has nothing before it"
    );
    assert_eq!(alive(10).await, None);
    assert_eq!(alive(40).await, None, "exactly the allowed gap");
    let outage = Outage {
        from: at(40),
        until: at(100),
    };
    assert_eq!(alive(100).await, Some(outage));
    assert_eq!(alive(100).await, None, "recorded once");
    assert_eq!(
        alive(50).await,
        None,
        "a late clock does not move the record back"
    );
    assert_eq!(alive(125).await, None, "25 s after the latest heartbeat");

    assert_eq!(store.outages_since(at(0)).await.unwrap(), [outage]);
    assert_eq!(store.outages_since(at(99)).await.unwrap(), [outage]);
    assert_eq!(
        store.outages_since(at(100)).await.unwrap(),
        Vec::<Outage>::new()
    );
    assert_eq!(
        store.prune_outages(at(100)).await.unwrap(),
        0,
        "ended at the cutoff"
    );
    assert_eq!(store.prune_outages(at(101)).await.unwrap(), 1);
    assert_eq!(
        store.outages_since(at(0)).await.unwrap(),
        Vec::<Outage>::new()
    );
}

/// Eight replicas, each with its own pool, fire the same slots at the same instant.
async fn racing_replicas_claim_a_slot_once(db: &TestDb) {
    let mut replicas = Vec::new();
    for _ in 0..8 {
        replicas.push(db.store().await);
    }
    for round in 0..3i64 {
        let start = Arc::new(Barrier::new(replicas.len()));
        let tasks: Vec<_> = replicas
            .iter()
            .map(|store| {
                let (store, start) = (store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let slot = at(60 * round);
                    store
                        .claim_slot(&slug("report"), slot, Uuid::new_v4(), slot)
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            if task.await.unwrap().expect("no error under contention") {
                won += 1;
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}

/// After a gap, every replica's first heartbeat lands at once: one of them records it.
async fn replicas_back_together_record_one_outage(db: &TestDb) {
    let mut replicas = Vec::new();
    for _ in 0..8 {
        replicas.push(db.store().await);
    }
    replicas[0].record_alive(at(0), MAX_GAP).await.unwrap();
    let start = Arc::new(Barrier::new(replicas.len()));
    let tasks: Vec<_> = replicas
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                // Clocks differ a little between replicas.
                let now = at(300) + chrono::Duration::milliseconds(i64::try_from(i).unwrap());
                store.record_alive(now, MAX_GAP).await
            })
        })
        .collect();
    let mut outages = Vec::new();
    for task in tasks {
        outages.extend(task.await.unwrap().expect("no error under contention"));
    }
    assert_eq!(outages.len(), 1, "{outages:?}");
    assert_eq!(outages[0].from, at(0));
    let stored = replicas[0].outages_since(at(0)).await.unwrap();
    assert_eq!(stored, outages);
}
