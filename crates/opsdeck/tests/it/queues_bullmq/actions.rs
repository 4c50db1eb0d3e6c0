//! opsdeck's actions on BullMQ queues, through the use-cases the API and the dashboard call,
//! seen by real BullMQ workers and BullMQ's own getters.

use std::collections::BTreeSet;
use std::time::Duration;

use opsdeck_connectors::queues::{ActGuard, Skip};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{BulkAction, JobState};
use opsdeck_server::ops::queues::{self, BulkAnswer, BulkOutcome, BulkRequest, DryRun};
use opsdeck_server::ops::{Caller, Reason};
use serde_json::{Value, json};

use super::fixture::{Bull, Lib, QUEUE, SOURCE, principal};
use crate::support::app::TestApp;
use crate::support::db::TestDb;

fn reason() -> Reason {
    Reason::parse("the mail relay is back, ticket 7").unwrap()
}

/// Retries one job through the use-case: `done`, what the connector left it as, or the
/// error's code.
async fn retry(app: &TestApp, id: &str) -> String {
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = reason();
    let ops = app.state.ops();
    match queues::retry_job(&app.state, ops.act(&caller, &reason), SOURCE, QUEUE, id).await {
        Ok(outcome) => outcome.result.to_owned(),
        Err(err) => err.code().to_owned(),
    }
}

async fn bulk(
    app: &TestApp,
    action: BulkAction,
    request: &BulkRequest,
) -> Result<BulkAnswer, opsdeck_server::error::ApiError> {
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = reason();
    let ops = app.state.ops();
    queues::run_bulk(
        &app.state,
        ops.act(&caller, &reason),
        SOURCE,
        QUEUE,
        action,
        request,
    )
    .await
}

async fn dry_run(app: &TestApp, action: BulkAction) -> DryRun {
    let request = BulkRequest {
        dry_run: true,
        reason: "the mail relay is back".into(),
        filter: None,
        selection: None,
        expected_count: None,
    };
    match bulk(app, action, &request).await.unwrap() {
        BulkAnswer::DryRun(dry) => dry,
        BulkAnswer::Done(done) => panic!("a dry run answered {done:?}"),
    }
}

fn real_run(dry: &DryRun, expected: u64) -> BulkRequest {
    BulkRequest {
        dry_run: false,
        reason: "the mail relay is back".into(),
        filter: None,
        selection: Some(dry.selection.clone()),
        expected_count: Some(expected),
    }
}

async fn done(app: &TestApp, action: BulkAction, request: &BulkRequest) -> BulkOutcome {
    match bulk(app, action, request).await.unwrap() {
        BulkAnswer::Done(done) => done,
        BulkAnswer::DryRun(dry) => panic!("a real run answered {dry:?}"),
    }
}

/// Processes with a real worker until `expect` jobs ran and nothing waits; the ids run.
async fn process(bull: &Bull, expect: usize) -> (Vec<String>, Value) {
    let out = bull
        .node("process", json!({"expect": expect, "timeoutMs": 8000}))
        .await;
    (
        serde_json::from_value(out["processed"].clone()).unwrap(),
        out["counts"].clone(),
    )
}

async fn retried_job_runs_once(lib: Lib) {
    let bull = Bull::new(lib);
    let ids = bull
        .failed_jobs(
            json!([{"name": "send", "data": {"n": 1}}, {"name": "send", "data": {"n": 2}, "opts": {"priority": 4}}]),
            "smtp refused",
        )
        .await;
    let app = bull.app().await;
    assert_eq!(retry(&app, &ids[0]).await, "done");
    assert_eq!(
        retry(&app, &ids[0]).await,
        "not_failed",
        "a second retry finds the job waiting"
    );
    // Two operators who both saw the job failed: the script re-checks, the second moves
    // nothing.
    let connector = bull.connector().await;
    let queue = QueueName::parse(QUEUE).unwrap();
    let id = JobId::parse(&ids[0]).unwrap();
    let guard = ActGuard {
        state: JobState::Failed,
        failed_not_after: None,
    };
    let report = connector
        .retry(&queue, std::slice::from_ref(&id), guard)
        .await
        .unwrap();
    assert_eq!(report.skipped, vec![(id, Skip::Moved)], "{report:?}");
    assert!(report.done.is_empty());
    assert_eq!(retry(&app, &ids[1]).await, "done");
    let bullmq = bull.counts().await;
    assert_eq!(bullmq["counts"]["failed"], 0, "{bullmq}");
    assert_eq!(bullmq["counts"]["waiting"], 1, "{bullmq}");
    assert_eq!(
        bullmq["counts"]["prioritized"], 1,
        "a job with a priority goes back to prioritized: {bullmq}"
    );
    let mut redis = bull.redis();
    let fields: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(bull.key(&ids[0]))
        .arg(&["failedReason", "finishedOn", "processedOn", "atm"])
        .query(&mut redis)
        .unwrap();
    assert_eq!(
        fields,
        vec![None, None, None, Some("1".to_owned())],
        "cleared as BullMQ clears them on retry, attempts kept"
    );
    let events: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(bull.key("events"))
        .arg("-")
        .arg("+")
        .query(&mut redis)
        .unwrap();
    let waiting_events = events
        .iter()
        .filter(|(_, fields)| fields.contains(&("event".into(), "waiting".into())))
        .filter(|(_, fields)| fields.contains(&("prev".into(), "failed".into())))
        .count();
    assert_eq!(waiting_events, 2, "a waiting event per retried job");

    let (processed, counts) = process(&bull, 2).await;
    let mut sorted = processed.clone();
    sorted.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(sorted, expected, "each retried job ran exactly once");
    assert_eq!(counts["completed"], 2, "{counts}");
    // The audit log has the retries, with their reason.
    let (_, admin) = app.mint_role(Role::Admin).await;
    let audit = app
        .client
        .get(app.url("/ops/audit?action=queue.job.retried"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("ticket 7"), "{audit}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bullmq6_a_retried_job_runs_once_even_retried_twice() {
    retried_job_runs_once(Lib::V6).await;
}

#[tokio::test]
async fn bullmq5_a_retried_job_runs_once_even_retried_twice() {
    retried_job_runs_once(Lib::V5).await;
}

#[tokio::test]
async fn bullmq_bulk_retry_acts_on_its_selection_only() {
    let bull = Bull::new(Lib::V6);
    let first = bull
        .failed_jobs(json!([{"data": {}}, {"data": {}}, {"data": {}}]), "boom")
        .await;
    let app = bull.app().await;
    let dry = dry_run(&app, BulkAction::Retry).await;
    assert_eq!(dry.count, 3);
    // A job failing after the dry run is not part of it.
    let late = bull.failed_jobs(json!([{"data": {}}]), "boom later").await;

    let err = bulk(&app, BulkAction::Retry, &real_run(&dry, 4))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "selection_mismatch");
    let outcome = done(&app, BulkAction::Retry, &real_run(&dry, 3)).await;
    assert_eq!(outcome.count, 3, "{outcome:?}");
    assert!(outcome.longest_step_ms > 0.0, "{outcome:?}");
    let err = bulk(&app, BulkAction::Retry, &real_run(&dry, 3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "selection_mismatch", "a selection works once");

    let bullmq = bull.counts().await;
    assert_eq!(bullmq["failed"], json!(late), "{bullmq}");
    let (processed, _) = process(&bull, 3).await;
    let processed: BTreeSet<String> = processed.into_iter().collect();
    assert_eq!(
        processed,
        first.into_iter().collect(),
        "exactly the selection ran"
    );

    // Discarding the late failure removes it the way BullMQ removes a job.
    let dry = dry_run(&app, BulkAction::Discard).await;
    assert_eq!(dry.count, 1);
    let outcome = done(&app, BulkAction::Discard, &real_run(&dry, 1)).await;
    assert_eq!(outcome.count, 1, "{outcome:?}");
    let bullmq = bull.counts().await;
    assert_eq!(bullmq["counts"]["failed"], 0, "{bullmq}");
    let mut redis = bull.redis();
    let exists: u64 = redis::cmd("EXISTS")
        .arg(bull.key(&late[0]))
        .query(&mut redis)
        .unwrap();
    assert_eq!(exists, 0, "its hash is gone");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bullmq_an_expired_selection_is_refused() {
    let bull = Bull::new(Lib::V6);
    bull.failed_jobs(json!([{"data": {}}]), "boom").await;
    let source = bull.source();
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
        config.queues.selection_ttl = Duration::from_millis(1);
    })
    .await;
    let dry = dry_run(&app, BulkAction::Retry).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let err = bulk(&app, BulkAction::Retry, &real_run(&dry, 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "selection_mismatch");
    assert_eq!(
        bull.counts().await["counts"]["failed"],
        1,
        "nothing retried"
    );
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bullmq_retry_while_workers_are_busy_loses_nothing() {
    let bull = Bull::new(Lib::V6);
    let failed = bull
        .failed_jobs(
            json!(
                (0..60)
                    .map(|n| json!({"data": {"n": n}}))
                    .collect::<Vec<_>>()
            ),
            "boom",
        )
        .await;
    let app = bull.app().await;
    // Busy workers: 100 new jobs arrive while the 60 failed ones are retried.
    let worker = bull.spawn_node(
        "process",
        json!({"expect": 160, "timeoutMs": 15000, "concurrency": 8, "workMs": 2}),
    );
    let producer = bull.node(
        "add",
        json!({"jobs": (0..100).map(|n| json!({"name": "new", "data": {"n": n}})).collect::<Vec<_>>()}),
    );
    let retrier = async {
        let dry = dry_run(&app, BulkAction::Retry).await;
        assert_eq!(dry.count, 60);
        done(&app, BulkAction::Retry, &real_run(&dry, 60)).await
    };
    let (added, outcome) = tokio::join!(producer, retrier);
    assert_eq!(outcome.count, 60, "{outcome:?}");
    let out = worker.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    let processed: Vec<String> = serde_json::from_value(out["processed"].clone()).unwrap();
    let unique: BTreeSet<&String> = processed.iter().collect();
    assert_eq!(unique.len(), processed.len(), "no job ran twice");
    let added: Vec<String> = serde_json::from_value(added["ids"].clone()).unwrap();
    let expected: BTreeSet<&String> = failed.iter().chain(&added).collect();
    assert_eq!(unique, expected, "every job ran");
    assert_eq!(out["counts"]["failed"], 0);
    assert_eq!(out["counts"]["completed"], 160);
    app.shutdown().await.expect("clean shutdown");
}

async fn pause_and_resume_are_bullmqs(lib: Lib) {
    let bull = Bull::new(lib);
    let ids = bull.failed_jobs(json!([{"data": {}}]), "boom").await;
    let app = bull.app().await;
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = reason();
    let ops = app.state.ops();
    let paused = queues::set_paused(&app.state, ops.act(&caller, &reason), SOURCE, QUEUE, true)
        .await
        .unwrap();
    assert!(paused.paused);
    let bullmq = bull.counts().await;
    assert_eq!(bullmq["paused"], true, "{bullmq}");

    // A retry on a paused queue waits where BullMQ keeps a paused queue's jobs.
    assert_eq!(retry(&app, &ids[0]).await, "done");
    let bullmq = bull.counts().await;
    let (wait, paused_list) = match lib {
        Lib::V6 => (1, 0),
        Lib::V5 => (0, 1),
    };
    let count = |state: &str| bullmq["counts"][state].as_u64().unwrap_or(0);
    assert_eq!(
        (count("waiting"), count("paused")),
        (wait, paused_list),
        "{bullmq}"
    );
    let mut redis = bull.redis();
    let marker: u64 = redis::cmd("EXISTS")
        .arg(bull.key("marker"))
        .query(&mut redis)
        .unwrap();
    assert_eq!(marker, 0, "no worker is woken on a paused queue");

    let resumed = queues::set_paused(&app.state, ops.act(&caller, &reason), SOURCE, QUEUE, false)
        .await
        .unwrap();
    assert!(!resumed.paused);
    assert_eq!(bull.counts().await["paused"], false);
    let (processed, _) = process(&bull, 1).await;
    assert_eq!(processed, ids, "the retried job runs once resumed");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bullmq6_pause_and_resume_are_bullmqs() {
    pause_and_resume_are_bullmqs(Lib::V6).await;
}

#[tokio::test]
async fn bullmq5_pause_and_resume_are_bullmqs() {
    pause_and_resume_are_bullmqs(Lib::V5).await;
}

#[tokio::test]
async fn bullmq_viewers_and_read_only_sources_change_nothing() {
    let bull = Bull::new(Lib::V6);
    let ids = bull.failed_jobs(json!([{"data": {}}]), "boom").await;
    let source = opsdeck_server::config::SourceConfig {
        read_only: true,
        ..bull.source()
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
    })
    .await;
    let reason = reason();
    let ops = app.state.ops();
    let viewer = principal(Role::Viewer);
    let as_viewer = Caller::new(&viewer, None, None);
    let err = queues::retry_job(
        &app.state,
        ops.act(&as_viewer, &reason),
        SOURCE,
        QUEUE,
        &ids[0],
    )
    .await
    .unwrap_err();
    assert_eq!(err.status().as_u16(), 403);
    let operator = principal(Role::Operator);
    let as_operator = Caller::new(&operator, None, None);
    let err = queues::retry_job(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        QUEUE,
        &ids[0],
    )
    .await
    .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (409, "read_only"));
    let err = queues::set_paused(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        QUEUE,
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "read_only");
    let bullmq = bull.counts().await;
    assert_eq!(
        (&bullmq["counts"]["failed"], &bullmq["paused"]),
        (&json!(1), &json!(false)),
        "{bullmq}"
    );
    app.shutdown().await.expect("clean shutdown");
}
