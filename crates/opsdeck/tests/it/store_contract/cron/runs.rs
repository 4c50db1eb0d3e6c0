//! Contract tests for cron runs, on both backends: every field round-trips and a rewrite
//! replaces it; paging by cursor lists each run once, also while runs are written; counts
//! by status; retention never takes a monitor's newest run.

use std::collections::HashSet;
use std::sync::Arc;

use opsdeck_core::Store;
use opsdeck_core::cron::{LogAppend, MonitorStatus, Run, RunSource, RunStatus};
use uuid::Uuid;

use super::{at, create, get, run, slug, spec, state_with, step};
use crate::support::contract::contract;

contract! {
    store: [
        every_run_field_round_trips_and_a_rewrite_replaces_it,
        paging_lists_each_run_once_while_runs_are_written,
        runs_are_counted_by_monitor_and_status,
        pruning_keeps_running_recent_and_each_monitors_newest_run,
    ],
    db: [],
}

/// Writes `runs` to the monitor `name` in one step.
async fn write_runs(store: &Arc<dyn Store>, name: &str, runs: Vec<Run>) {
    let record = get(store, name).await;
    let write = step(&record, state_with(MonitorStatus::Up, 0), runs);
    store.apply_outcome(&write).await.unwrap();
}

async fn page_ids(store: &Arc<dyn Store>, limit: u32) -> Vec<Uuid> {
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_runs(&slug("backup"), cursor.as_ref(), limit)
            .await
            .unwrap();
        assert!(page.runs.len() <= usize::try_from(limit).unwrap());
        ids.extend(page.runs.iter().map(|r| r.run_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
}

async fn every_run_field_round_trips_and_a_rewrite_replaces_it(store: Arc<dyn Store>) {
    create(&store, &spec("backup")).await;
    let open = run("backup", RunStatus::Running, 100);
    write_runs(&store, "backup", vec![open.clone()]).await;
    assert_eq!(
        store.get_run(&slug("backup"), open.run_id).await.unwrap(),
        Some(open.clone())
    );

    let full = Run {
        status: RunStatus::TimedOut,
        source: RunSource::Exec,
        expected_at: Some(at(60)),
        finished_at: Some(at(4000)),
        duration_ms: Some(3_900_000),
        exit_code: Some(137),
        error: Some("no finish within max_runtime 1h".to_owned()),
        missed_slots: 2,
        last_missed_at: Some(at(3660)),
        in_maintenance: true,
        too_fast: true,
        ..open.clone()
    };
    write_runs(&store, "backup", vec![full.clone()]).await;
    assert_eq!(
        store.get_run(&slug("backup"), open.run_id).await.unwrap(),
        Some(full)
    );
    assert_eq!(
        store
            .get_run(&slug("backup"), Uuid::new_v4())
            .await
            .unwrap(),
        None
    );

    // Run ids are per monitor: another monitor's run of the same id is another run.
    create(&store, &spec("other")).await;
    let twin = Run {
        run_id: open.run_id,
        ..run("other", RunStatus::Failed, 5)
    };
    write_runs(&store, "other", vec![twin.clone()]).await;
    assert_eq!(
        store.get_run(&slug("other"), open.run_id).await.unwrap(),
        Some(twin)
    );
    let mine = store
        .get_run(&slug("backup"), open.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mine.status, RunStatus::TimedOut);
}

async fn paging_lists_each_run_once_while_runs_are_written(store: Arc<dyn Store>) {
    create(&store, &spec("backup")).await;
    // Runs in threes share a start, so the id breaks ties; one has only an expected time.
    let mut runs: Vec<Run> = (0..24)
        .map(|i| run("backup", RunStatus::Success, 100 * (i / 3)))
        .collect();
    runs[5].started_at = None;
    runs[5].finished_at = None;
    runs[5].status = RunStatus::Missed;
    runs[5].expected_at = Some(at(100));
    for chunk in runs.chunks(8) {
        write_runs(&store, "backup", chunk.to_vec()).await;
    }
    let mut expected: Vec<(chrono::DateTime<chrono::Utc>, Uuid)> = runs
        .iter()
        .map(|r| (r.started_at.or(r.expected_at).unwrap(), r.run_id))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<Uuid> = expected.into_iter().map(|(_, id)| id).collect();
    assert_eq!(
        page_ids(&store, 7).await,
        expected,
        "newest first, then by id"
    );
    assert_eq!(page_ids(&store, 24).await, expected, "an exact last page");
    assert_eq!(page_ids(&store, 100).await, expected);

    // Page once, then write newer runs and rewrite an older one with another start: the
    // rest of the listing goes on where it was, and each run shows up once.
    let first = store.list_runs(&slug("backup"), None, 10).await.unwrap();
    let newer: Vec<Run> = (0..4)
        .map(|i| run("backup", RunStatus::Failed, 5000 + i))
        .collect();
    let mut moved = runs[2].clone();
    moved.started_at = Some(at(9000));
    let mut rewrite = newer.clone();
    rewrite.push(moved);
    write_runs(&store, "backup", rewrite).await;
    let mut seen: Vec<Uuid> = first.runs.iter().map(|r| r.run_id).collect();
    let mut cursor = first.next;
    while let Some(at_cursor) = cursor {
        let page = store
            .list_runs(&slug("backup"), Some(&at_cursor), 10)
            .await
            .unwrap();
        seen.extend(page.runs.iter().map(|r| r.run_id));
        cursor = page.next;
    }
    assert_eq!(seen, expected, "no duplicates, no gaps, nothing moved");
    let unique: HashSet<Uuid> = page_ids(&store, 6).await.into_iter().collect();
    assert_eq!(unique.len(), 28);
}

async fn runs_are_counted_by_monitor_and_status(store: Arc<dyn Store>) {
    create(&store, &spec("b-mailer")).await;
    create(&store, &spec("a-backup")).await;
    create(&store, &spec("c-idle")).await;
    let statuses = [RunStatus::Success, RunStatus::Failed, RunStatus::Success];
    let runs = statuses.iter().map(|s| run("a-backup", *s, 1)).collect();
    write_runs(&store, "a-backup", runs).await;
    write_runs(
        &store,
        "b-mailer",
        vec![run("b-mailer", RunStatus::Missed, 1)],
    )
    .await;
    let counts: Vec<(String, RunStatus, u64)> = store
        .count_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.slug.to_string(), c.status, c.count))
        .collect();
    let row = |slug: &str, status, count| (slug.to_owned(), status, count);
    let mut expected = vec![
        row("a-backup", RunStatus::Failed, 1),
        row("a-backup", RunStatus::Success, 2),
        row("b-mailer", RunStatus::Missed, 1),
    ];
    expected.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
    assert_eq!(counts, expected);
}

async fn pruning_keeps_running_recent_and_each_monitors_newest_run(store: Arc<dyn Store>) {
    create(&store, &spec("backup")).await;
    let old = run("backup", RunStatus::Failed, 0);
    let open = run("backup", RunStatus::Running, 10);
    let mut missing = run("backup", RunStatus::Missed, 20);
    (missing.started_at, missing.finished_at) = (None, None);
    (missing.expected_at, missing.last_missed_at) = (Some(at(20)), Some(at(5000)));
    let recent = run("backup", RunStatus::Success, 2000);
    let newest = run("backup", RunStatus::Success, 3000);
    write_runs(
        &store,
        "backup",
        vec![old.clone(), open.clone(), missing.clone()],
    )
    .await;
    write_runs(&store, "backup", vec![recent.clone(), newest.clone()]).await;
    let mut write = step(
        &get(&store, "backup").await,
        state_with(MonitorStatus::Up, 0),
        vec![],
    );
    write.outcome.logs = vec![LogAppend {
        run_id: old.run_id,
        text: "old output".to_owned(),
    }];
    store.apply_outcome(&write).await.unwrap();

    // The only, and newest, run of another monitor is kept however old; so is the run
    // a monitor shows as its last, though a newer-placed one was written before it.
    create(&store, &spec("quiet")).await;
    let lonely = run("quiet", RunStatus::Success, 0);
    write_runs(&store, "quiet", vec![lonely.clone()]).await;
    create(&store, &spec("shown")).await;
    let placed_later = run("shown", RunStatus::Unknown, 500);
    let shown_last = run("shown", RunStatus::Failed, 100);
    write_runs(&store, "shown", vec![placed_later.clone()]).await;
    write_runs(&store, "shown", vec![shown_last.clone()]).await;
    let shown = get(&store, "shown").await;
    assert_eq!(shown.last_run.map(|l| l.run_id), Some(shown_last.run_id));

    let kept = |name: &'static str, id: Uuid| {
        let store = store.clone();
        async move { store.get_run(&slug(name), id).await.unwrap().is_some() }
    };
    assert_eq!(store.prune_runs(at(1000)).await.unwrap(), 1, "only `old`");
    assert!(!kept("backup", old.run_id).await);
    assert_eq!(
        store
            .get_run_log(&slug("backup"), old.run_id)
            .await
            .unwrap(),
        None
    );
    for id in [open.run_id, missing.run_id, recent.run_id, newest.run_id] {
        assert!(kept("backup", id).await, "{id}");
    }
    assert!(kept("quiet", lonely.run_id).await);
    for id in [placed_later.run_id, shown_last.run_id] {
        assert!(kept("shown", id).await, "{id}");
    }
    assert_eq!(store.prune_runs(at(1000)).await.unwrap(), 0);

    // Once another run is shown, `shown_last` is neither newest nor shown.
    let later = run("shown", RunStatus::Success, 50);
    write_runs(&store, "shown", vec![later.clone()]).await;
    assert_eq!(store.prune_runs(at(1000)).await.unwrap(), 1);
    assert!(!kept("shown", shown_last.run_id).await);
    assert!(kept("shown", later.run_id).await);

    // Much later, only what never goes is left: running runs and the newest and shown.
    assert_eq!(
        store.prune_runs(at(10_000)).await.unwrap(),
        2,
        "`missing`, `recent`"
    );
    for id in [open.run_id, newest.run_id] {
        assert!(kept("backup", id).await, "{id}");
    }
    assert!(kept("quiet", lonely.run_id).await);
    assert!(kept("shown", placed_later.run_id).await);
}
