//! Listing the audit log, on both backends: each filter, time ranges against the stored
//! millisecond times, limits and cursor pages, newest first; and, over a log of several
//! thousand entries, every kind of filter answering exactly what a scan of the whole log
//! finds (filtered listing walks per-block summaries, so this crosses block boundaries,
//! values that occur once, and times out of append order).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Store;
use opsdeck_core::audit::{AuditEntry, AuditFilter, AuditRecord, Target};

use super::{actor, at, record, seed, tenant_id};
use crate::support::contract::contract;

contract! {
    store: [
        filters_select_by_each_field,
        time_range_compares_stored_milliseconds,
        cursor_pages_newest_first,
        filters_over_many_blocks_find_what_a_full_scan_finds,
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
            by(|f| f.tenant_id = Some(tenant_id("acme"))),
            &[6, 5, 2],
        ),
        (
            "actor and tenant",
            by(|f| (f.actor, f.tenant_id) = (Some("alice".into()), Some(tenant_id("acme")))),
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

/// Whether `entry` meets `filter`'s conditions, as documented: the reference the listing is
/// checked against.
fn meets(filter: &AuditFilter, entry: &AuditEntry) -> bool {
    let r = &entry.record;
    let actor = r.actor.as_ref();
    let target = r.target.as_ref();
    let is = |wanted: &Option<String>, value: Option<&str>| {
        wanted.as_deref().is_none_or(|w| value == Some(w))
    };
    filter
        .actor
        .as_deref()
        .is_none_or(|a| actor.is_some_and(|x| x.id == a || x.name == a))
        && is(&filter.action, Some(&r.action))
        && is(&filter.target_kind, target.map(|t| t.kind.as_str()))
        && is(&filter.target_id, target.map(|t| t.id.as_str()))
        && filter
            .tenant_id
            .as_ref()
            .is_none_or(|w| r.tenant_id.as_ref() == Some(w))
        && filter.since.is_none_or(|since| r.at >= since)
        && filter.until.is_none_or(|until| r.at < until)
        && filter.before_seq.is_none_or(|before| entry.seq < before)
}

/// 3,300 entries over four blocks of 1,024, appended in batches that straddle block
/// boundaries: common values in every block, rare ones in one or two, and two entries whose
/// times are far from their neighbours'.
fn many_records() -> Vec<AuditRecord> {
    (0..3_300_i64)
        .map(|i| {
            let mut r = record(at(i), "GET /ops/health");
            r.actor = match i % 3 {
                0 => None,
                1 => actor("tok_a", "alice"),
                _ => actor("tok_b", "bob"),
            };
            if r.actor.is_none() {
                r.action = "auth.failed".into();
            }
            r.target = Some(Target {
                kind: "route".into(),
                id: "/ops/health".into(),
            });
            if i % 97 == 0 {
                r.action = "job.retry".into();
                r.target = Some(Target {
                    kind: "job".into(),
                    id: (i % 4).to_string(),
                });
            }
            if i % 11 == 0 {
                r.tenant_id = Some(tenant_id("acme"));
            }
            match i {
                5 | 2_100 => r.actor = actor("tok_r", "rare:one"),
                1_500 => r.tenant_id = Some(tenant_id("globex")),
                1_000 => r.at = at(3_000),
                2_900 => r.at = at(10),
                _ => {}
            }
            r
        })
        .collect()
}

async fn filters_over_many_blocks_find_what_a_full_scan_finds(store: Arc<dyn Store>) {
    let records = many_records();
    let mut rest = records.as_slice();
    for size in [1, 700, 330, 1, 1_000, 1_268] {
        let (batch, tail) = rest.split_at(size);
        store.append_audit(batch).await.expect("append");
        rest = tail;
    }
    assert!(rest.is_empty());
    let all = store.scan_audit(0, 10_000).await.expect("scan_audit");
    assert_eq!(all.len(), records.len());
    let expected = |filter: &AuditFilter| -> Vec<i64> {
        let mut seqs: Vec<i64> = all
            .iter()
            .filter(|e| meets(filter, e))
            .map(|e| e.seq)
            .collect();
        seqs.reverse();
        seqs.truncate(filter.limit as usize);
        seqs
    };
    let by = |edit: &dyn Fn(&mut AuditFilter)| {
        let mut filter = AuditFilter {
            limit: 10_000,
            ..AuditFilter::default()
        };
        edit(&mut filter);
        filter
    };
    let some = |s: &str| Some(s.to_owned());
    let cases: Vec<(&str, AuditFilter)> = vec![
        ("none", by(&|_| {})),
        ("actor by name", by(&|f| f.actor = some("alice"))),
        ("actor by id", by(&|f| f.actor = some("tok_b"))),
        (
            "rare actor, name with a colon",
            by(&|f| f.actor = some("rare:one")),
        ),
        ("rare actor by id", by(&|f| f.actor = some("tok_r"))),
        ("action", by(&|f| f.action = some("job.retry"))),
        ("target kind", by(&|f| f.target_kind = some("job"))),
        ("target id", by(&|f| f.target_id = some("3"))),
        (
            "target",
            by(&|f| (f.target_kind, f.target_id) = (some("job"), some("2"))),
        ),
        (
            "one-off tenant",
            by(&|f| f.tenant_id = Some(tenant_id("globex"))),
        ),
        (
            "tenant and actor",
            by(&|f| (f.tenant_id, f.actor) = (Some(tenant_id("acme")), some("bob"))),
        ),
        (
            "values that never meet",
            by(&|f| (f.tenant_id, f.actor) = (Some(tenant_id("globex")), some("tok_r"))),
        ),
        ("unknown value", by(&|f| f.action = some("job.retr"))),
        ("since", by(&|f| f.since = Some(at(2_000)))),
        ("until", by(&|f| f.until = Some(at(500)))),
        (
            "a window that an out-of-order entry falls in",
            by(&|f| (f.since, f.until) = (Some(at(5)), Some(at(15)))),
        ),
        (
            "a late window that an early entry falls in",
            by(&|f| (f.since, f.until) = (Some(at(2_999)), Some(at(3_001)))),
        ),
        (
            "action in a window",
            by(&|f| {
                f.action = some("job.retry");
                (f.since, f.until) = (Some(at(1_000)), Some(at(2_500)));
            }),
        ),
        (
            "before a block boundary",
            by(&|f| (f.tenant_id, f.before_seq) = (Some(tenant_id("acme")), Some(2_049))),
        ),
        (
            "before the first entry",
            by(&|f| (f.action, f.before_seq) = (some("auth.failed"), Some(1))),
        ),
        (
            "a limit met inside a block",
            by(&|f| (f.actor, f.limit) = (some("alice"), 3)),
        ),
        (
            "a limit met across blocks",
            by(&|f| (f.action, f.limit) = (some("job.retry"), 20)),
        ),
    ];
    for (what, filter) in cases {
        assert_eq!(
            listed(&store, filter.clone()).await,
            expected(&filter),
            "{what}"
        );
    }

    // Paging with the cursor walks every match once, in order.
    let acme = by(&|f| (f.tenant_id, f.limit) = (Some(tenant_id("acme")), 7));
    let mut paged = Vec::new();
    let mut before_seq = None;
    loop {
        let page = listed(
            &store,
            AuditFilter {
                before_seq,
                ..acme.clone()
            },
        )
        .await;
        let Some(&last) = page.last() else { break };
        before_seq = Some(last);
        paged.extend(page);
    }
    assert_eq!(
        paged,
        expected(&AuditFilter {
            limit: 10_000,
            ..acme
        })
    );
}
