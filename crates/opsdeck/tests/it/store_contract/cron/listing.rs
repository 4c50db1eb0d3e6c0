//! Contract tests for the monitor list at scale, on both backends: pages by slug that list
//! every monitor once while statuses change, filters on the listed status, search on slug
//! and name, counts by status, and the monitors expected next.

use std::collections::BTreeSet;
use std::sync::Arc;

use opsdeck_core::Store;
use opsdeck_core::cron::{
    MonitorCounts, MonitorFilter, MonitorSpec, MonitorStatus, Schedule, StateWrite,
};
use opsdeck_core::ids::{MonitorName, Tags};

use super::{Rebuild, at, create, get, slug, spec, state_with, step};
use crate::support::contract::contract;

contract! {
    store: [
        pages_list_every_monitor_once_while_statuses_change,
        a_full_last_page_has_no_next,
        filters_on_the_listed_status_and_counts_by_status,
        search_matches_slug_or_name_ignoring_case_and_wildcards,
        upcoming_lists_the_soonest_checks_after_now,
    ],
    db: [],
}

/// Moves the monitor `text` to `status` with one step.
async fn set_status(store: &Arc<dyn Store>, text: &str, status: MonitorStatus) {
    let record = get(store, text).await;
    store
        .apply_outcome(&step(&record, state_with(status, 0), vec![]))
        .await
        .unwrap();
}

/// Slugs of every page of `filter`, `limit` a page, running `between` after each page.
async fn page_through(
    store: &Arc<dyn Store>,
    filter: &MonitorFilter,
    limit: u32,
    mut between: impl AsyncFnMut(usize),
) -> Vec<Vec<String>> {
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_monitors(filter, after.as_ref(), limit)
            .await
            .unwrap();
        assert!(page.monitors.len() <= limit as usize);
        pages.push(
            page.monitors
                .iter()
                .map(|m| m.spec.slug().to_string())
                .collect(),
        );
        between(pages.len()).await;
        match page.next {
            Some(next) => {
                assert_eq!(
                    Some(next.as_str()),
                    pages.last().unwrap().last().map(String::as_str),
                    "the next page starts after the last one listed"
                );
                after = Some(next);
            }
            None => return pages,
        }
    }
}

async fn pages_list_every_monitor_once_while_statuses_change(store: Arc<dyn Store>) {
    let slugs: Vec<String> = (0..25).map(|i| format!("job-{i:02}")).collect();
    // Created out of order: the list is by slug, not by creation.
    for text in slugs.iter().rev() {
        create(&store, &spec(text)).await;
    }
    let statuses = [
        MonitorStatus::Down,
        MonitorStatus::Up,
        MonitorStatus::Late,
        MonitorStatus::Running,
    ];
    let changer = store.clone();
    let pages = page_through(&store, &MonitorFilter::default(), 7, async |n| {
        // Between pages, monitors on both sides of the cursor change status, and one is
        // paused: none may move between pages.
        for (i, text) in ["job-01", "job-12", "job-20", "job-24"].iter().enumerate() {
            set_status(&changer, text, statuses[(i + n) % statuses.len()]).await;
        }
        changer
            .set_monitor_paused(&slug("job-15"), n % 2 == 1, at(n as i64))
            .await
            .unwrap();
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [7, 7, 7, 4]);
    let listed: Vec<String> = pages.concat();
    assert_eq!(listed, slugs, "every monitor once, in slug order");

    // The same by status: pages of down monitors hold only down ones.
    let down = MonitorFilter {
        status: Some(MonitorStatus::Down),
        ..MonitorFilter::default()
    };
    for text in ["job-03", "job-07", "job-11"] {
        set_status(&store, text, MonitorStatus::Down).await;
    }
    let down_now: BTreeSet<String> = store
        .list_monitors(&MonitorFilter::default(), None, 100)
        .await
        .unwrap()
        .monitors
        .iter()
        .filter(|m| m.state.status == MonitorStatus::Down && !m.spec.is_paused())
        .map(|m| m.spec.slug().to_string())
        .collect();
    let pages = page_through(&store, &down, 2, async |_| {}).await;
    let listed: Vec<String> = pages.concat();
    assert_eq!(listed, down_now.into_iter().collect::<Vec<_>>());

    // The kept counts agree with the monitors after all these changes and a deletion,
    // before and after their housekeeping.
    assert!(store.delete_monitor(&slug("job-03")).await.unwrap());
    let mut scanned = MonitorCounts::default();
    for record in store
        .list_monitors(&MonitorFilter::default(), None, 100)
        .await
        .unwrap()
        .monitors
    {
        let listed = if record.spec.is_paused() {
            MonitorStatus::Paused
        } else {
            record.state.status
        };
        scanned.add(listed, 1);
    }
    assert_eq!(scanned.total(), 24);
    let all = MonitorFilter::default();
    assert_eq!(store.count_monitors(&all).await.unwrap(), scanned);
    store.fold_monitor_counts().await.unwrap();
    assert_eq!(store.count_monitors(&all).await.unwrap(), scanned);
    store.fold_monitor_counts().await.unwrap();
    assert_eq!(store.count_monitors(&all).await.unwrap(), scanned);
}

async fn a_full_last_page_has_no_next(store: Arc<dyn Store>) {
    for text in ["a", "b", "c", "d"] {
        create(&store, &spec(text)).await;
    }
    let all = MonitorFilter::default();
    let first = store.list_monitors(&all, None, 2).await.unwrap();
    assert_eq!(first.next, Some(slug("b")));
    let last = store
        .list_monitors(&all, first.next.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(last.monitors.len(), 2);
    assert_eq!(last.next, None, "nothing follows d");
    let past = store
        .list_monitors(&all, Some(&slug("zzz")), 2)
        .await
        .unwrap();
    assert_eq!((past.monitors.len(), past.next), (0, None));
    let one = store.list_monitors(&all, None, 0).await.unwrap();
    assert_eq!(one.monitors.len(), 1, "a limit below 1 lists one");
}

fn counts(pairs: &[(MonitorStatus, u64)]) -> MonitorCounts {
    let mut counts = MonitorCounts::default();
    for (status, n) in pairs {
        counts.add(*status, *n);
    }
    counts
}

async fn filters_on_the_listed_status_and_counts_by_status(store: Arc<dyn Store>) {
    let cron = || Schedule::cron("0 * * * *", None).unwrap();
    let tagged =
        |text: &str| spec(text).rebuilt(cron(), |s| s.tags = Tags::parse(["ops"]).unwrap());
    for text in ["down-1", "down-2", "up-1", "new-1", "held"] {
        create(&store, &spec(text)).await;
    }
    create(&store, &tagged("tagged-up")).await;
    set_status(&store, "down-1", MonitorStatus::Down).await;
    set_status(&store, "down-2", MonitorStatus::Down).await;
    set_status(&store, "up-1", MonitorStatus::Up).await;
    set_status(&store, "tagged-up", MonitorStatus::Up).await;
    set_status(&store, "held", MonitorStatus::Up).await;
    // Paused is listed at once, before any step derives it.
    store
        .set_monitor_paused(&slug("held"), true, at(5))
        .await
        .unwrap();

    let with = |status| MonitorFilter {
        status: Some(status),
        ..MonitorFilter::default()
    };
    let list = async |filter: MonitorFilter| {
        let page = store.list_monitors(&filter, None, 100).await.unwrap();
        page.monitors
            .iter()
            .map(|m| m.spec.slug().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(with(MonitorStatus::Down)).await, ["down-1", "down-2"]);
    assert_eq!(list(with(MonitorStatus::Up)).await, ["tagged-up", "up-1"]);
    assert_eq!(list(with(MonitorStatus::Paused)).await, ["held"]);
    assert_eq!(list(with(MonitorStatus::New)).await, ["new-1"]);
    assert_eq!(list(with(MonitorStatus::Late)).await, Vec::<String>::new());

    let all = MonitorFilter::default();
    let expected = counts(&[
        (MonitorStatus::Down, 2),
        (MonitorStatus::Up, 2),
        (MonitorStatus::Paused, 1),
        (MonitorStatus::New, 1),
    ]);
    assert_eq!(store.count_monitors(&all).await.unwrap(), expected);
    assert_eq!(expected.total(), 6);
    store.fold_monitor_counts().await.unwrap();
    assert_eq!(store.count_monitors(&all).await.unwrap(), expected);
    assert_eq!(
        store
            .count_monitors(&with(MonitorStatus::Down))
            .await
            .unwrap(),
        expected,
        "counts are over every status"
    );
    let ops = MonitorFilter {
        tag: Some("ops".to_owned()),
        ..all.clone()
    };
    assert_eq!(
        store.count_monitors(&ops).await.unwrap(),
        counts(&[(MonitorStatus::Up, 1)])
    );
    let text = MonitorFilter {
        text: Some("DOWN".to_owned()),
        ..all.clone()
    };
    assert_eq!(
        store.count_monitors(&text).await.unwrap(),
        counts(&[(MonitorStatus::Down, 2)])
    );

    // Resumed, then stepped again, it counts as what the step derived; deleted, not at all.
    store
        .set_monitor_paused(&slug("held"), false, at(6))
        .await
        .unwrap();
    set_status(&store, "held", MonitorStatus::Down).await;
    assert!(store.delete_monitor(&slug("down-1")).await.unwrap());
    assert_eq!(
        store.count_monitors(&all).await.unwrap(),
        counts(&[
            (MonitorStatus::Down, 2),
            (MonitorStatus::Up, 2),
            (MonitorStatus::New, 1),
        ])
    );
    assert_eq!(list(with(MonitorStatus::Down)).await, ["down-2", "held"]);
}

async fn search_matches_slug_or_name_ignoring_case_and_wildcards(store: Arc<dyn Store>) {
    let named = |text: &str, name: &str| {
        let base = spec(text);
        MonitorSpec::new(
            base.slug().clone(),
            MonitorName::parse(name).unwrap(),
            base.schedule().clone(),
            base.settings().clone(),
        )
        .unwrap()
    };
    create(&store, &named("nightly", "Nightly Backup")).await;
    create(&store, &named("report-mail", "Send 100% of reports")).await;
    create(&store, &named("sync_users", "User sync")).await;
    create(&store, &named("cleanup", "Clean up")).await;

    let search = async |text: &str| {
        let filter = MonitorFilter {
            text: Some(text.to_owned()),
            ..MonitorFilter::default()
        };
        let page = store.list_monitors(&filter, None, 100).await.unwrap();
        page.monitors
            .iter()
            .map(|m| m.spec.slug().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(search("BACKUP").await, ["nightly"], "the name, any case");
    assert_eq!(search("port-m").await, ["report-mail"], "part of the slug");
    assert_eq!(
        search("sync").await,
        ["sync_users"],
        "slug and name match once"
    );
    assert_eq!(search("100%").await, ["report-mail"], "% is a character");
    assert_eq!(search("%").await, ["report-mail"]);
    assert_eq!(
        search("c__").await,
        Vec::<String>::new(),
        "_ is a character"
    );
    assert_eq!(
        search("n_u").await,
        Vec::<String>::new(),
        "not \"Clean up\""
    );
    assert_eq!(search("_").await, ["sync_users"]);
    assert_eq!(search("up").await, ["cleanup", "nightly"]);

    // Search pages like the rest.
    let filter = MonitorFilter {
        text: Some("N".to_owned()),
        ..MonitorFilter::default()
    };
    let first = store.list_monitors(&filter, None, 2).await.unwrap();
    assert_eq!(first.next, Some(slug("nightly")));
    let second = store
        .list_monitors(&filter, first.next.as_ref(), 2)
        .await
        .unwrap();
    let slugs: Vec<_> = second
        .monitors
        .iter()
        .map(|m| m.spec.slug().as_str())
        .collect();
    assert_eq!(
        (slugs, second.next),
        (vec!["report-mail", "sync_users"], None)
    );
}

async fn upcoming_lists_the_soonest_checks_after_now(store: Arc<dyn Store>) {
    for text in ["soon", "later", "idle", "due"] {
        create(&store, &spec(text)).await;
    }
    let check_at = async |text: &str, seconds: Option<i64>| {
        let record = get(&store, text).await;
        let write = StateWrite {
            next_check_at: seconds.map(at),
            ..step(&record, state_with(MonitorStatus::Up, 0), vec![])
        };
        store.apply_outcome(&write).await.unwrap();
    };
    check_at("soon", Some(100)).await;
    check_at("later", Some(300)).await;
    check_at("idle", None).await;
    check_at("due", Some(10)).await;

    let upcoming = async |now: i64, limit: u32| {
        let records = store.upcoming_monitors(at(now), limit).await.unwrap();
        records
            .iter()
            .map(|m| m.spec.slug().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(upcoming(10, 10).await, ["soon", "later"], "after now only");
    assert_eq!(upcoming(0, 2).await, ["due", "soon"]);
    assert_eq!(upcoming(300, 10).await, Vec::<String>::new());
}
