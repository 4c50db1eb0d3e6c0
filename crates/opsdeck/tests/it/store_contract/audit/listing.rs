//! Listing the audit log, on both backends: each filter, time ranges against the stored
//! millisecond times, limits and cursor pages, newest first.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Store;
use opsdeck_core::audit::AuditFilter;

use super::{at, seed};
use crate::support::contract::contract;

contract! {
    store: [
        filters_select_by_each_field,
        time_range_compares_stored_milliseconds,
        cursor_pages_newest_first,
    ],
    db: [],
}

async fn listed(store: &Arc<dyn Store>, filter: AuditFilter) -> Vec<i64> {
    let entries = store.list_audit(&filter).await.expect("list_audit");
    entries.iter().map(|e| e.seq).collect()
}

async fn filters_select_by_each_field(store: Arc<dyn Store>) {
    seed(&store).await;
    let by = |edit: fn(&mut AuditFilter)| {
        let mut filter = AuditFilter::default();
        edit(&mut filter);
        filter
    };
    let cases: [(&str, AuditFilter, &[i64]); 11] = [
        ("none", AuditFilter::default(), &[6, 5, 4, 3, 2, 1]),
        (
            "actor name",
            by(|f| f.actor = Some("alice".into())),
            &[6, 3, 1],
        ),
        ("actor id", by(|f| f.actor = Some("tok_b".into())), &[5, 2]),
        (
            "action",
            by(|f| f.action = Some("job.retry".into())),
            &[6, 3, 2],
        ),
        (
            "target kind",
            by(|f| f.target_kind = Some("job".into())),
            &[6, 3, 2],
        ),
        ("target id", by(|f| f.target_id = Some("1".into())), &[6, 2]),
        (
            "target",
            by(|f| {
                (f.target_kind, f.target_id) = (Some("route".into()), Some("/ops/health".into()))
            }),
            &[5],
        ),
        (
            "tenant",
            by(|f| f.tenant_id = Some("acme".into())),
            &[6, 5, 2],
        ),
        (
            "actor and tenant",
            by(|f| (f.actor, f.tenant_id) = (Some("alice".into()), Some("acme".into()))),
            &[6],
        ),
        ("no match", by(|f| f.action = Some("job.retr".into())), &[]),
        ("limit", by(|f| f.limit = 2), &[6, 5]),
    ];
    for (what, filter, expected) in cases {
        assert_eq!(listed(&store, filter).await, expected, "{what}");
    }
    assert!(listed(&store, by(|f| f.limit = 0)).await.is_empty());
}

async fn time_range_compares_stored_milliseconds(store: Arc<dyn Store>) {
    seed(&store).await;
    let range = |since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>| AuditFilter {
        since,
        until,
        ..AuditFilter::default()
    };
    let micro = Duration::microseconds(1);
    let cases = [
        (
            "since is inclusive",
            range(Some(at(2)), None),
            vec![6, 5, 4, 3],
        ),
        ("until is exclusive", range(None, Some(at(2))), vec![2, 1]),
        ("both", range(Some(at(1)), Some(at(3))), vec![3, 2]),
        (
            "since just after",
            range(Some(at(2) + micro), None),
            vec![6, 5, 4],
        ),
        (
            "until just after",
            range(None, Some(at(2) + micro)),
            vec![3, 2, 1],
        ),
        ("empty range", range(Some(at(3)), Some(at(3))), vec![]),
    ];
    for (what, filter, expected) in cases {
        assert_eq!(listed(&store, filter).await, expected, "{what}");
    }
}

async fn cursor_pages_newest_first(store: Arc<dyn Store>) {
    seed(&store).await;
    let mut pages = Vec::new();
    let mut before_seq = None;
    loop {
        let filter = AuditFilter {
            before_seq,
            limit: 2,
            ..AuditFilter::default()
        };
        let page = listed(&store, filter).await;
        let Some(&last) = page.last() else { break };
        before_seq = Some(last);
        pages.push(page);
    }
    assert_eq!(pages, [[6, 5], [4, 3], [2, 1]]);

    let retries_before = |seq| AuditFilter {
        action: Some("job.retry".into()),
        before_seq: Some(seq),
        limit: 1,
        ..AuditFilter::default()
    };
    assert_eq!(listed(&store, retries_before(6)).await, [3]);
    assert_eq!(listed(&store, retries_before(3)).await, [2]);
    assert!(listed(&store, retries_before(2)).await.is_empty());
}
