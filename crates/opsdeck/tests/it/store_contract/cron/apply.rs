//! Contract tests for committing steps of cron monitors, on both backends: a ping's
//! state, runs and log round-trip; logs keep their tail; a stale version conflicts, also
//! between concurrent writers.

use std::sync::Arc;

use opsdeck_core::cron::{
    LOG_MAX_BYTES, LastRun, LogAppend, MonitorStatus, Ping, PingKind, RunSource, RunStatus,
    StateWrite, Transition, append_log, apply_ping,
};
use opsdeck_core::{Store, StoreError};
use tokio::sync::Barrier;
use uuid::Uuid;

use super::{at, create, get, run, slug, spec, state_with, step};
use crate::support::contract::contract;
use crate::support::db::TestDb;

contract! {
    store: [
        a_ping_round_trips_state_runs_and_log,
        logs_keep_their_tail_and_skip_unknown_runs,
        a_stale_version_conflicts_and_writes_nothing,
    ],
    db: [
        concurrent_writers_of_one_version_have_one_winner,
    ],
}

/// Applies `kind` to the stored monitor as the server would, and commits it.
async fn ping(store: &Arc<dyn Store>, kind: Ping, seconds: i64) -> StateWrite {
    let record = get(store, "backup").await;
    let mut state = record.state.clone();
    let outcome = apply_ping(&record.spec, &mut state, &kind, at(seconds));
    let write = StateWrite {
        slug: slug("backup"),
        version: record.version,
        next_check_at: state.next_check_at(&record.spec, at(seconds)),
        state,
        outcome,
        now: at(seconds),
    };
    let version = store.apply_outcome(&write).await.unwrap();
    assert_eq!(version, record.version + 1);
    write
}

async fn a_ping_round_trips_state_runs_and_log(store: Arc<dyn Store>) {
    create(&store, &spec("backup")).await;
    let rid = Uuid::new_v4();
    let start = Ping::new(PingKind::Start, RunSource::Ping)
        .with_rid(rid)
        .with_body("starting\n");
    let started = ping(&store, start, 60).await;
    let stored = get(&store, "backup").await;
    assert_eq!(stored.state, started.state, "the state document survives");
    assert_eq!(stored.next_check_at, started.next_check_at);
    assert_eq!(stored.state.status, MonitorStatus::Running);
    assert_eq!(stored.status_since, Some(at(60)));
    assert_eq!(stored.last_run, None, "a running run has no verdict yet");
    let running = store.get_run(&slug("backup"), rid).await.unwrap();
    assert_eq!(running.as_ref(), started.outcome.runs.first());

    let finish = Ping::new(PingKind::Success, RunSource::Ping)
        .with_rid(rid)
        .with_body("done\n");
    let finished = ping(&store, finish, 150).await;
    let stored = get(&store, "backup").await;
    assert_eq!(stored.state, finished.state);
    assert_eq!(stored.state.status, MonitorStatus::Up);
    assert_eq!(stored.status_since, Some(at(150)));
    let done = store.get_run(&slug("backup"), rid).await.unwrap().unwrap();
    assert_eq!(
        Some(&done),
        finished.outcome.runs.first(),
        "replaced by run id"
    );
    assert_eq!(done.status, RunStatus::Success);
    assert_eq!(
        (done.started_at, done.finished_at),
        (Some(at(60)), Some(at(150)))
    );
    assert_eq!(done.duration_ms, Some(90_000));
    assert_eq!(
        stored.last_run,
        Some(LastRun {
            run_id: rid,
            status: RunStatus::Success,
            finished_at: Some(at(150)),
            duration_ms: Some(90_000),
            error: None,
        })
    );
    assert_eq!(stored.last_success_at, Some(at(150)));
    let log = store.get_run_log(&slug("backup"), rid).await.unwrap();
    assert_eq!(log.as_deref(), Some("starting\ndone\n"));

    // Times in the state document are kept to the nanosecond, whatever the columns keep.
    let mut write = step(&stored, stored.state.clone(), vec![]);
    write.state.last_ping_at = Some(at(200) + chrono::Duration::nanoseconds(123_456_789));
    store.apply_outcome(&write).await.unwrap();
    assert_eq!(get(&store, "backup").await.state, write.state);
}

async fn logs_keep_their_tail_and_skip_unknown_runs(store: Arc<dyn Store>) {
    let mut record = create(&store, &spec("backup")).await;
    let target = run("backup", RunStatus::Running, 0);
    let chunks = ["a", "b", "c"].map(|letter| letter.repeat(60 * 1024) + "\n");
    let mut expected = String::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let runs = if i == 0 { vec![target.clone()] } else { vec![] };
        let mut write = step(&record, record.state.clone(), runs);
        write.outcome.logs = vec![
            LogAppend {
                run_id: target.run_id,
                text: chunk.clone(),
            },
            LogAppend {
                run_id: Uuid::new_v4(),
                text: "for nobody".to_owned(),
            },
        ];
        store.apply_outcome(&write).await.unwrap();
        expected = append_log(&expected, chunk);
        record = get(&store, "backup").await;
    }
    let log = store
        .get_run_log(&slug("backup"), target.run_id)
        .await
        .unwrap()
        .unwrap();
    assert!(log.len() <= LOG_MAX_BYTES, "{} bytes", log.len());
    assert!(
        log.starts_with('…') && log.ends_with(&chunks[2]),
        "the tail is kept"
    );
    assert_eq!(log, expected);
    let page = store.list_runs(&slug("backup"), None, 10).await.unwrap();
    assert_eq!(page.runs, [target], "a log for an unknown run makes no run");
}

async fn a_stale_version_conflicts_and_writes_nothing(store: Arc<dyn Store>) {
    let record = create(&store, &spec("backup")).await;
    let first = run("backup", RunStatus::Success, 10);
    let second = run("backup", RunStatus::Failed, 20);
    let state = state_with(MonitorStatus::Up, 0);
    let winner = step(&record, state.clone(), vec![first.clone()]);
    assert_eq!(store.apply_outcome(&winner).await.unwrap(), 2);
    let mut loser = step(
        &record,
        state_with(MonitorStatus::Down, 1),
        vec![second.clone()],
    );
    loser.outcome.logs = vec![LogAppend {
        run_id: first.run_id,
        text: "from the loser".to_owned(),
    }];
    let lost = store.apply_outcome(&loser).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");

    let stored = get(&store, "backup").await;
    assert_eq!((stored.version, stored.state), (2, state));
    assert_eq!(
        store.get_run(&slug("backup"), second.run_id).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_run_log(&slug("backup"), first.run_id)
            .await
            .unwrap(),
        None
    );

    let mut gone = step(&record, state_with(MonitorStatus::Up, 0), vec![]);
    gone.slug = slug("nobody");
    let missing = store.apply_outcome(&gone).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

/// Two replicas step the same monitor from the same version at the same instant: one
/// commits, the other gets a conflict and leaves no trace.
async fn concurrent_writers_of_one_version_have_one_winner(db: &TestDb) {
    let replicas = [db.store().await, db.store().await];
    let record = create(&replicas[0], &spec("backup")).await;
    for round in 0..5u64 {
        let start = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = (0..2usize)
            .map(|i| {
                let store = replicas[i].clone();
                let start = start.clone();
                let mut write = step(&record, state_with(MonitorStatus::Up, 0), vec![]);
                write.version = record.version + round;
                write.outcome.runs = vec![run("backup", RunStatus::Success, 10)];
                write.outcome.transition = Some(Transition {
                    from: MonitorStatus::New,
                    to: MonitorStatus::Up,
                    at: at(i64::try_from(i).unwrap()),
                });
                tokio::spawn(async move {
                    start.wait().await;
                    let result = store.apply_outcome(&write).await;
                    (write.outcome.runs[0].run_id, result)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (run_id, result) = task.await.unwrap();
            match result {
                Ok(version) => winners.push((run_id, version)),
                Err(StoreError::Conflict(_)) => {
                    let lost = replicas[0].get_run(&slug("backup"), run_id).await.unwrap();
                    assert_eq!(lost, None, "round {round}: the loser's run was written");
                }
                Err(other) => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(winners[0].1, record.version + round + 1);
    }
    assert_eq!(get(&replicas[1], "backup").await.version, 6);
}
