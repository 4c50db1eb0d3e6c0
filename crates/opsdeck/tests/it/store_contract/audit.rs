//! Contract tests for the audit store, on both backends: appends round-trip exactly and chain
//! without gaps under concurrent writers. Listing is in `listing.rs`, tampering with the
//! stored log in `tamper.rs`.

mod listing;
mod tamper;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsdeck_core::Store;
use opsdeck_core::audit::{
    Actor, AuditEntry, AuditFilter, AuditRecord, GENESIS_HASH, Target, verify_chain,
};
use opsdeck_core::ids::TenantId;
use tokio::sync::Barrier;

use crate::support::contract::contract;
use crate::support::db::TestDb;

contract! {
    store: [
        empty_log_verifies,
        appended_entry_reads_back_exactly,
        appends_continue_the_chain,
        scan_pages_oldest_first,
    ],
    db: [
        concurrent_appends_chain_without_gaps,
    ],
}

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

pub(super) fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

pub(super) fn actor(id: &str, name: &str) -> Option<Actor> {
    Some(Actor {
        id: id.into(),
        name: name.into(),
        method: "token".into(),
    })
}

pub(super) fn record(at: DateTime<Utc>, action: &str) -> AuditRecord {
    AuditRecord {
        at,
        actor: None,
        action: action.into(),
        target: None,
        tenant_id: None,
        outcome: 200,
        client_addr: None,
        request_id: None,
        reason: None,
    }
}

fn job(id: &str) -> Option<Target> {
    Some(Target {
        kind: "job".into(),
        id: id.into(),
    })
}

/// Six entries, one a second from t0, varied enough for every filter.
pub(super) async fn seed(store: &Arc<dyn Store>) -> Vec<AuditEntry> {
    let mut records = vec![
        record(at(0), "auth.login"),
        record(at(1), "job.retry"),
        record(at(2), "job.retry"),
        record(at(3), "auth.login_failed"),
        record(at(4), "http.request"),
        record(at(5), "job.retry"),
    ];
    let (alice, bob) = (actor("tok_a", "alice"), actor("tok_b", "bob"));
    for (i, who) in [(0, &alice), (1, &bob), (2, &alice), (4, &bob), (5, &alice)] {
        records[i].actor = who.clone();
    }
    for (i, target, tenant) in [
        (1, job("1"), Some("acme")),
        (2, job("2"), Some("globex")),
        (4, Some(route("/ops/health")), Some("acme")),
        (5, job("1"), Some("acme")),
    ] {
        records[i].target = target;
        records[i].tenant_id = tenant.map(tenant_id);
    }
    records[3].outcome = 401;
    records[3].client_addr = Some("203.0.113.9".into());
    append(store, &records).await
}

/// Appends `records` and answers the entries they became.
pub(super) async fn append(store: &Arc<dyn Store>, records: &[AuditRecord]) -> Vec<AuditEntry> {
    let appended = store.append_audit(records).await.expect("append");
    assert_eq!(appended.len(), records.len());
    appended.entries(records)
}

fn route(path: &str) -> Target {
    Target {
        kind: "route".into(),
        id: path.into(),
    }
}

async fn all(store: &Arc<dyn Store>) -> Vec<AuditEntry> {
    store.scan_audit(0, 10_000).await.expect("scan_audit")
}

async fn empty_log_verifies(store: Arc<dyn Store>) {
    let report = verify_chain(&*store, 10).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.checked, report.last_seq), (0, None));
    assert!(all(&store).await.is_empty());
    let listed = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert!(listed.is_empty());
    assert!(store.append_audit(&[]).await.unwrap().is_empty());
}

async fn appended_entry_reads_back_exactly(store: Arc<dyn Store>) {
    let full = AuditRecord {
        at: Utc.timestamp_opt(1_764_000_000, 123_456_789).unwrap(),
        actor: Some(Actor {
            id: "tok_ü".into(),
            name: "Zoë O'Brien".into(),
            method: "session".into(),
        }),
        action: "token.created".into(),
        target: Some(Target {
            kind: "token".into(),
            id: "tenant \"quoted\"; DROP TABLE audit_log; --".into(),
        }),
        tenant_id: Some(tenant_id("acme:eu-1@billing.v2")),
        outcome: u16::MAX,
        client_addr: Some("2001:db8::1".into()),
        request_id: Some("req-7".into()),
        reason: Some("line one\nline two ✓".into()),
    };
    let bare = AuditRecord {
        outcome: 0,
        ..record(at(1), "auth.login_failed")
    };
    let appended = append(&store, &[full.clone(), bare.clone()]).await;

    let truncated = Utc.timestamp_opt(1_764_000_000, 123_000_000).unwrap();
    assert_eq!(
        appended[0].record,
        AuditRecord {
            at: truncated,
            ..full
        }
    );
    assert_eq!(appended[1].record, bare);
    assert_eq!(appended[0].seq, 1);
    assert_eq!(appended[0].prev_hash, GENESIS_HASH);
    assert_eq!(appended[1].prev_hash, appended[0].hash);
    assert!(appended.iter().all(AuditEntry::hash_matches));

    assert_eq!(
        all(&store).await,
        appended,
        "scan returns what append returned"
    );
    let newest_first: Vec<AuditEntry> = appended.iter().rev().cloned().collect();
    assert_eq!(
        store.list_audit(&AuditFilter::default()).await.unwrap(),
        newest_first
    );
    assert!(verify_chain(&*store, 1).await.unwrap().is_intact());
}

async fn appends_continue_the_chain(store: Arc<dyn Store>) {
    let first = append(&store, &[record(at(0), "a")]).await;
    let batch: Vec<AuditRecord> = (1..=4).map(|i| record(at(i), "b")).collect();
    let second = append(&store, &batch).await;
    let third = append(&store, &[record(at(9), "c")]).await;

    let seqs: Vec<i64> = second.iter().chain(&third).map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    assert_eq!(second[0].prev_hash, first[0].hash);
    assert_eq!(third[0].prev_hash, second[3].hash);
    let report = verify_chain(&*store, 2).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.checked, report.last_seq), (6, Some(6)));
}

async fn scan_pages_oldest_first(store: Arc<dyn Store>) {
    let entries = seed(&store).await;
    let seqs = |page: Vec<AuditEntry>| page.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.scan_audit(0, 2).await.unwrap()), [1, 2]);
    assert_eq!(seqs(store.scan_audit(2, 10).await.unwrap()), [3, 4, 5, 6]);
    assert!(store.scan_audit(6, 10).await.unwrap().is_empty());
    assert!(store.scan_audit(0, 0).await.unwrap().is_empty());
    assert_eq!(store.scan_audit(i64::MIN, 100).await.unwrap(), entries);
    for batch in [1, 3, 6, 7] {
        let report = verify_chain(&*store, batch).await.unwrap();
        assert_eq!((report.checked, report.last_seq), (6, Some(6)), "{batch}");
    }
}

/// 16 tasks over two pools (two replicas) each append 20 records, singly or in batches of 5.
async fn concurrent_appends_chain_without_gaps(db: &TestDb) {
    let replicas = [db.store().await, db.store().await];
    let (tasks, per_task) = (16, 20);
    let start = Arc::new(Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let store = replicas[task % 2].clone();
            let start = start.clone();
            tokio::spawn(async move {
                let records: Vec<AuditRecord> = (0..per_task)
                    .map(|i| record(at(i), &format!("task{task}.{i}")))
                    .collect();
                start.wait().await;
                let size = if task % 4 == 0 { 5 } else { 1 };
                let mut stored = Vec::new();
                for batch in records.chunks(size) {
                    stored.extend(append(&store, batch).await);
                }
                (task, stored)
            })
        })
        .collect();
    let mut returned = Vec::new();
    for handle in handles {
        let (task, stored) = handle.await.unwrap();
        let actions: Vec<String> = stored.iter().map(|e| e.record.action.clone()).collect();
        let expected: Vec<String> = (0..per_task).map(|i| format!("task{task}.{i}")).collect();
        assert_eq!(actions, expected, "each task's records keep their order");
        assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));
        returned.extend(stored);
    }
    returned.sort_by_key(|e| e.seq);

    let stored = all(&replicas[0]).await;
    let seqs: Vec<i64> = stored.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=320).collect::<Vec<i64>>());
    assert_eq!(stored, returned, "what appends returned is what was stored");
    for batch in [32, 7, 1000] {
        let report = verify_chain(&*replicas[1], batch).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!((report.checked, report.last_seq), (320, Some(320)));
    }
}

/// A tenant id the tests know to be valid.
fn tenant_id(text: &str) -> TenantId {
    TenantId::parse(text).expect("valid tenant id")
}
