//! The event store: a batch answers each event's outcome in order (duplicates by tenant and
//! id, in the batch or stored before), and its rollups — error groups, hourly and daily
//! usage, audit highlights and failed-login counts, tenants seen — read back exactly;
//! retention deletes past each cutoff.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::Store;
use opsdeck_core::events::{
    AuditCategory, Event, EventCutoffs, EventLimits, IngestOutcome, parse_event,
};
use opsdeck_core::ids::TenantId;
use serde_json::{Value, json};

use crate::support::contract::contract;

contract! {
    store: [
        outcomes_come_in_order_and_ids_are_unique_per_tenant,
        errors_are_grouped_with_counts_and_the_latest_sample,
        usage_sums_per_hour_and_day_across_boundaries,
        audit_highlights_and_failed_login_bursts,
        tenants_seen_are_found_by_substring_prefix_first,
        retention_deletes_past_each_cutoff,
    ],
    db: [],
}

use IngestOutcome::{Duplicate, Stored};

/// 2026-03-10 23:30 UTC: half an hour before midnight.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 23, 30, 0).unwrap()
}

fn ago(minutes: i64) -> DateTime<Utc> {
    now() - chrono::Duration::minutes(minutes)
}

fn event(value: Value) -> Event {
    let limits = EventLimits {
        max_event_bytes: 64 * 1024,
        max_age: Duration::from_secs(400 * 86_400),
    };
    parse_event(value.to_string().as_bytes(), now(), &limits)
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .redacted()
}

fn error(id: &str, tenant: &str, at: DateTime<Utc>, message: &str) -> Event {
    event(
        json!({"id": id, "type": "error", "tenant_id": tenant, "at": at.to_rfc3339(),
                 "message": message, "route": "/orders/{id}"}),
    )
}

fn usage(id: &str, tenant: &str, at: DateTime<Utc>, name: &str, value: f64) -> Event {
    event(
        json!({"id": id, "type": "usage", "tenant_id": tenant, "at": at.to_rfc3339(),
                 "name": name, "value": value}),
    )
}

fn audit(id: &str, tenant: &str, at: DateTime<Utc>, action: &str) -> Event {
    event(
        json!({"id": id, "type": "audit", "tenant_id": tenant, "at": at.to_rfc3339(),
                 "action": action, "actor": "jane@example.com", "target": "user:42"}),
    )
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

async fn totals(store: &Arc<dyn Store>, who: &str, hours: i64) -> Vec<(String, f64)> {
    store
        .usage_totals(&tenant(who), now() - chrono::Duration::hours(hours), now())
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.value))
        .collect()
}

async fn outcomes_come_in_order_and_ids_are_unique_per_tenant(store: Arc<dyn Store>) {
    let first = [
        error("e-1", "acme", ago(5), "boom"),
        usage("u-1", "acme", ago(5), "api.requests", 3.0),
        error("e-1", "acme", ago(4), "the same id again in the batch"),
        error("e-1", "globex", ago(4), "the same id for another tenant"),
    ];
    assert_eq!(
        store.ingest_events(&first, now()).await.unwrap(),
        [Stored, Stored, Duplicate, Stored]
    );
    let second = [
        usage("u-1", "acme", ago(3), "api.requests", 100.0),
        usage("u-2", "acme", ago(3), "api.requests", 4.0),
    ];
    assert_eq!(
        store.ingest_events(&second, now()).await.unwrap(),
        [Duplicate, Stored]
    );
    assert_eq!(
        totals(&store, "acme", 24).await,
        [("api.requests".to_owned(), 7.0)],
        "a duplicate adds nothing to the rollups"
    );
    let groups = store
        .recent_error_groups(&tenant("acme"), 10)
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].count, groups[0].message.as_str()), (1, "boom"));
    assert!(store.ingest_events(&[], now()).await.unwrap().is_empty());
}

async fn errors_are_grouped_with_counts_and_the_latest_sample(store: Arc<dyn Store>) {
    let batch = [
        error("a", "acme", ago(50), "order 1234 not found for user 77"),
        error("b", "acme", ago(10), "order 99 not found for user 8"),
        error("c", "acme", ago(30), "order 5 not found for user 1"),
        error(
            "d",
            "acme",
            ago(20),
            "payment declined for jane@example.com",
        ),
    ];
    store.ingest_events(&batch, now()).await.unwrap();
    store
        .ingest_events(
            &[error("e", "acme", ago(40), "order 7 not found for user 2")],
            now(),
        )
        .await
        .unwrap();
    let groups = store
        .recent_error_groups(&tenant("acme"), 10)
        .await
        .unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    let orders = &groups[0];
    assert_eq!(orders.count, 4);
    assert_eq!((orders.first_seen, orders.last_seen), (ago(50), ago(10)));
    assert_eq!(
        orders.message, "order 99 not found for user 8",
        "the latest event's message, also when an older one arrives later"
    );
    assert_eq!(orders.route.as_deref(), Some("/orders/{id}"));
    let payments = &groups[1];
    assert_eq!(payments.count, 1);
    assert_eq!(payments.message, "payment declined for [email]");
    assert_eq!(
        store.recent_error_groups(&tenant("acme"), 1).await.unwrap(),
        groups[..1]
    );
    assert!(
        store
            .recent_error_groups(&tenant("globex"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn usage_sums_per_hour_and_day_across_boundaries(store: Arc<dyn Store>) {
    let day = chrono::Duration::days(1);
    let batch = [
        // This hour, the previous one and the previous day (before midnight).
        usage("1", "acme", ago(10), "api.requests", 1.0),
        usage("2", "acme", ago(50), "api.requests", 2.0),
        usage("3", "acme", ago(60 * 23 + 50), "api.requests", 4.0),
        // Two and six days back, in the middle of those days.
        usage("4", "acme", now() - day * 2, "api.requests", 8.0),
        usage("5", "acme", now() - day * 6, "api.requests", 16.0),
        // Twenty days back, then forty: only the 30-day total has the first.
        usage("6", "acme", now() - day * 20, "api.requests", 32.0),
        usage("7", "acme", now() - day * 40, "api.requests", 64.0),
        usage("8", "acme", ago(5), "storage.gb", 0.5),
        usage("9", "globex", ago(5), "api.requests", 1000.0),
    ];
    store.ingest_events(&batch, now()).await.unwrap();
    let requests = |totals: Vec<(String, f64)>| {
        totals
            .into_iter()
            .find(|(name, _)| name == "api.requests")
            .map(|(_, v)| v)
    };
    assert_eq!(requests(totals(&store, "acme", 1).await), Some(3.0));
    assert_eq!(requests(totals(&store, "acme", 24).await), Some(7.0));
    assert_eq!(requests(totals(&store, "acme", 24 * 7).await), Some(31.0));
    assert_eq!(requests(totals(&store, "acme", 24 * 30).await), Some(63.0));
    assert_eq!(
        totals(&store, "acme", 24).await,
        [
            ("api.requests".to_owned(), 7.0),
            ("storage.gb".to_owned(), 0.5)
        ]
    );
    assert_eq!(requests(totals(&store, "globex", 24).await), Some(1000.0));
    assert_eq!(totals(&store, "initech", 24).await, []);
}

async fn audit_highlights_and_failed_login_bursts(store: Arc<dyn Store>) {
    let mut batch = vec![
        audit("imp", "acme", ago(100), "support.impersonate"),
        audit("role", "acme", ago(90), "member.role_changed"),
        audit("view", "acme", ago(80), "invoice.viewed"),
        audit("exp", "acme", ago(70), "report.exported"),
        audit("del", "acme", ago(60), "project.deleted"),
    ];
    // Six failed logins in the hour of 22:00, two in the hour of 23:00.
    for n in 0..6 {
        batch.push(audit(
            &format!("f{n}"),
            "acme",
            ago(35 + n),
            "user.login_failed",
        ));
    }
    for n in 0..2 {
        batch.push(audit(&format!("g{n}"), "acme", ago(5 + n), "auth.failure"));
    }
    store.ingest_events(&batch, now()).await.unwrap();
    let highlights = store.audit_highlights(&tenant("acme"), 100).await.unwrap();
    assert_eq!(highlights.len(), 12, "all but the view: {highlights:?}");
    assert!(
        highlights.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first"
    );
    assert!(highlights.iter().all(|h| h.category.is_highlight()));
    let categories: Vec<AuditCategory> = highlights[8..].iter().map(|h| h.category).collect();
    assert_eq!(
        categories,
        [
            AuditCategory::Deletion,
            AuditCategory::Export,
            AuditCategory::RoleChange,
            AuditCategory::Impersonation
        ]
    );
    assert_eq!(highlights[11].actor.as_deref(), Some("[email]"), "redacted");
    assert_eq!(
        store
            .audit_highlights(&tenant("acme"), 2)
            .await
            .unwrap()
            .len(),
        2
    );
    let bursts = store
        .failed_login_bursts(&tenant("acme"), ago(24 * 60), 5, 10)
        .await
        .unwrap();
    assert_eq!(bursts.len(), 1, "{bursts:?}");
    assert_eq!(
        (bursts[0].hour, bursts[0].count),
        (Utc.with_ymd_and_hms(2026, 3, 10, 22, 0, 0).unwrap(), 6)
    );
    let any = store
        .failed_login_bursts(&tenant("acme"), ago(24 * 60), 1, 10)
        .await
        .unwrap();
    assert_eq!(
        any.iter().map(|b| b.count).collect::<Vec<_>>(),
        [2, 6],
        "newest hour first"
    );
}

async fn tenants_seen_are_found_by_substring_prefix_first(store: Arc<dyn Store>) {
    let batch: Vec<Event> = ["team-acme", "acme", "acme-eu", "globex", "Acme_Labs", "a.b"]
        .iter()
        .enumerate()
        .map(|(n, t)| usage(&n.to_string(), t, ago(n as i64), "logins", 1.0))
        .collect();
    store.ingest_events(&batch, now()).await.unwrap();
    store
        .ingest_events(&[usage("later", "acme", ago(1), "logins", 1.0)], now())
        .await
        .unwrap();
    let found = |query: &'static str, limit: u32| {
        let store = store.clone();
        async move {
            store
                .search_event_tenants(query, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.tenant_id.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found("ACME", 10).await,
        ["Acme_Labs", "acme", "acme-eu", "team-acme"]
    );
    assert_eq!(found("acme", 2).await, ["Acme_Labs", "acme"]);
    assert!(
        found("%", 10).await.is_empty(),
        "LIKE wildcards are literal"
    );
    assert_eq!(found("_", 10).await, ["Acme_Labs"]);
    assert_eq!(found(".", 10).await, ["a.b"]);
    assert_eq!(found("", 100).await.len(), 6);
    let acme = store.search_event_tenants("acme", 10).await.unwrap();
    let acme = acme
        .iter()
        .find(|t| t.tenant_id.as_str() == "acme")
        .unwrap();
    assert_eq!((acme.first_seen, acme.last_seen), (ago(1), ago(1)));
}

async fn retention_deletes_past_each_cutoff(store: Arc<dyn Store>) {
    let day = chrono::Duration::days(1);
    let old = now() - day * 10;
    store
        .ingest_events(
            &[
                error("old-e", "acme", old, "old failure"),
                usage("old-u", "acme", old, "api.requests", 5.0),
                audit("old-a", "acme", old, "project.deleted"),
            ],
            old,
        )
        .await
        .unwrap();
    store
        .ingest_events(
            &[
                error("new-e", "globex", ago(5), "new failure"),
                usage("new-u", "globex", ago(5), "api.requests", 1.0),
                audit("new-a", "globex", ago(5), "project.deleted"),
            ],
            now(),
        )
        .await
        .unwrap();
    let cutoff = now() - day * 5;
    let pruned = store
        .prune_events(&EventCutoffs {
            raw: cutoff,
            hourly: cutoff,
            daily: cutoff,
            audit: cutoff,
        })
        .await
        .unwrap();
    assert_eq!(pruned.raw, 3);
    assert_eq!(pruned.audit, 1);
    // Hourly and daily usage, the error group, the audit hour and the tenant of acme.
    assert_eq!(pruned.rollups, 5);
    assert!(
        store
            .recent_error_groups(&tenant("acme"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .audit_highlights(&tenant("acme"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(totals(&store, "acme", 24 * 30).await, []);
    assert_eq!(store.search_event_tenants("", 10).await.unwrap().len(), 1);
    assert_eq!(
        store
            .ingest_events(
                &[usage("old-u", "acme", ago(1), "api.requests", 1.0)],
                now()
            )
            .await
            .unwrap(),
        [Stored],
        "a pruned raw event's id is free again"
    );
    assert_eq!(
        store
            .ingest_events(
                &[usage("new-u", "globex", ago(1), "api.requests", 1.0)],
                now()
            )
            .await
            .unwrap(),
        [Duplicate]
    );
    assert_eq!(
        store
            .prune_events(&EventCutoffs {
                raw: cutoff,
                hourly: cutoff,
                daily: cutoff,
                audit: cutoff
            })
            .await
            .unwrap(),
        Default::default()
    );
}
