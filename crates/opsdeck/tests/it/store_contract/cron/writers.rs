//! Contract tests for what cron's two writers rely on, on both backends: the pings'
//! group commit gets an answer per step of a batch, and the evaluator gets the monitors
//! due, most overdue first.

use std::sync::Arc;

use opsdeck_core::cron::{MonitorStatus, RunStatus};
use opsdeck_core::{Store, StoreError};

use super::{at, create, get, run, slug, spec, state_with, step};
use crate::support::contract::contract;

contract! {
    store: [
        a_batch_answers_for_each_item,
        a_batch_writes_many_runs_and_the_later_write_of_a_run_wins,
        due_monitors_come_most_overdue_first,
    ],
    db: [],
}

async fn a_batch_answers_for_each_item(store: Arc<dyn Store>) {
    let (mut records, mut runs) = (Vec::new(), Vec::new());
    for name in ["c-report", "a-backup", "b-mailer"] {
        records.push(create(&store, &spec(name)).await);
        runs.push(run(name, RunStatus::Success, 10));
    }
    let up = || state_with(MonitorStatus::Up, 0);
    let mut stale = step(&records[2], up(), vec![runs[2].clone()]);
    stale.version = 7;
    let mut chained = step(&records[1], state_with(MonitorStatus::Down, 1), vec![]);
    chained.version = 2;
    let mut unknown = step(&records[0], up(), vec![]);
    unknown.slug = slug("nobody");
    let writes = [
        step(&records[0], up(), vec![runs[0].clone()]),
        step(&records[1], up(), vec![runs[1].clone()]),
        stale,
        unknown,
        chained,
    ];
    let results = store.apply_outcomes(&writes).await.unwrap();
    assert_eq!(results.len(), 5);
    assert!(matches!(results[0], Ok(2)), "{results:?}");
    assert!(matches!(results[1], Ok(2)), "{results:?}");
    assert!(
        matches!(results[2], Err(StoreError::Conflict(_))),
        "{results:?}"
    );
    assert!(
        matches!(results[3], Err(StoreError::NotFound)),
        "{results:?}"
    );
    assert!(
        matches!(results[4], Ok(3)),
        "a second step chains: {results:?}"
    );

    let backup = get(&store, "a-backup").await;
    assert_eq!(
        (backup.version, backup.state.status),
        (3, MonitorStatus::Down)
    );
    let mailer = get(&store, "b-mailer").await;
    assert_eq!(mailer.version, 1, "the conflicting item is not written");
    assert_eq!(
        store
            .get_run(&slug("b-mailer"), runs[2].run_id)
            .await
            .unwrap(),
        None
    );
    for (name, run) in [("c-report", &runs[0]), ("a-backup", &runs[1])] {
        let stored = store.get_run(&slug(name), run.run_id).await.unwrap();
        assert_eq!(stored.as_ref(), Some(run));
    }

    // A step writing another monitor's run is a bug: the whole batch is refused.
    let report = get(&store, "c-report").await;
    let stray = step(&report, up(), vec![run("a-backup", RunStatus::Failed, 20)]);
    let refused = store
        .apply_outcomes(&[step(&mailer, up(), vec![]), stray])
        .await;
    assert!(matches!(refused, Err(StoreError::Other(_))), "{refused:?}");
    assert_eq!(
        get(&store, "b-mailer").await.version,
        1,
        "nothing was written"
    );
}

/// A busy monitor's batch holds hundreds of runs (written with multi-row statements), and
/// a run started in one step and finished in the next is written twice in one batch.
async fn a_batch_writes_many_runs_and_the_later_write_of_a_run_wins(store: Arc<dyn Store>) {
    let record = create(&store, &spec("busy")).await;
    let started = run("busy", RunStatus::Running, 5);
    let mut many: Vec<_> = (0..299)
        .map(|i| run("busy", RunStatus::Success, 10 + i))
        .collect();
    many.push(started.clone());
    let first = step(&record, state_with(MonitorStatus::Running, 0), many.clone());
    let mut finished = started.clone();
    finished.status = RunStatus::Failed;
    finished.finished_at = Some(at(400));
    finished.error = Some("exit status 3".to_owned());
    let mut second = step(
        &record,
        state_with(MonitorStatus::Down, 1),
        vec![finished.clone()],
    );
    second.version = 2;
    let results = store.apply_outcomes(&[first, second]).await.unwrap();
    assert!(matches!(results[..], [Ok(2), Ok(3)]), "{results:?}");

    let mut listed = 0;
    let mut cursor = None;
    loop {
        let page = store
            .list_runs(&slug("busy"), cursor.as_ref(), 100)
            .await
            .unwrap();
        listed += page.runs.len();
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, 300, "every run once, the twice-written one too");
    for run in &many[..299] {
        let stored = store.get_run(&slug("busy"), run.run_id).await.unwrap();
        assert_eq!(stored.as_ref(), Some(run));
    }
    assert_eq!(
        store.get_run(&slug("busy"), started.run_id).await.unwrap(),
        Some(finished),
        "the later write of a run is the one kept"
    );
}

async fn due_monitors_come_most_overdue_first(store: Arc<dyn Store>) {
    for (name, due) in [
        ("d", Some(30)),
        ("c", Some(10)),
        ("b", None),
        ("a", Some(10)),
    ] {
        let record = create(&store, &spec(name)).await;
        let mut write = step(&record, state_with(MonitorStatus::Up, 0), vec![]);
        write.next_check_at = due.map(at);
        store.apply_outcome(&write).await.unwrap();
    }
    let due = |seconds, limit| {
        let store = store.clone();
        async move {
            let due = store.due_monitors(at(seconds), limit).await.unwrap();
            due.into_iter()
                .map(|m| m.spec.slug().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(due(9, 10).await, Vec::<String>::new());
    assert_eq!(due(20, 10).await, ["a", "c"]);
    assert_eq!(due(20, 1).await, ["a"]);
    assert_eq!(due(30, 10).await, ["a", "c", "d"]);
    let listed = store.due_monitors(at(30), 10).await.unwrap();
    assert_eq!(
        listed[2].version, 2,
        "with their version, to step and write back"
    );

    // A spec change makes a monitor due at once, so the evaluator re-derives it.
    store
        .set_monitor_paused(&slug("b"), true, at(40))
        .await
        .unwrap();
    assert_eq!(due(40, 10).await, ["a", "c", "d", "b"]);
}
