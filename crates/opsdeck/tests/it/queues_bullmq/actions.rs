//! opsdeck's actions on BullMQ queues, through the use-cases the API and the dashboard call,
//! seen by real BullMQ workers and BullMQ's own getters.

use std::collections::BTreeSet;
use std::time::Duration;

use opsdeck_connectors::queues::{ActGuard, Skip};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{BulkAction, JobState};
use opsdeck_server::ops::Caller;
use opsdeck_server::ops::queues;
use serde_json::{Value, json};

use super::fixture::{Bull, Lib, QUEUE, SOURCE, principal};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::queues::Operator;

/// The operator of these tests, on the source's queue.
fn operator(app: &TestApp) -> Operator<'_> {
    Operator {
        app,
        source: SOURCE,
        queue: QUEUE,
        reason: "the mail relay is back, ticket 7",
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
    assert_eq!(operator(&app).one(&ids[0], BulkAction::Retry).await, "done");
    assert_eq!(
        operator(&app).one(&ids[0], BulkAction::Retry).await,
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
    assert_eq!(operator(&app).one(&ids[1], BulkAction::Retry).await, "done");
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
    let dry = operator(&app).dry_run(BulkAction::Retry, None).await;
    assert_eq!(dry.count, 3);
    // A job failing after the dry run is not part of it.
    let late = bull.failed_jobs(json!([{"data": {}}]), "boom later").await;

    let err = operator(&app)
        .bulk(BulkAction::Retry, &operator(&app).real_run(&dry, 4))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "selection_mismatch");
    let outcome = operator(&app)
        .done(BulkAction::Retry, &operator(&app).real_run(&dry, 3))
        .await;
    assert_eq!(outcome.count, 3, "{outcome:?}");
    assert!(outcome.longest_step_ms > 0.0, "{outcome:?}");
    let err = operator(&app)
        .bulk(BulkAction::Retry, &operator(&app).real_run(&dry, 3))
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
    let dry = operator(&app).dry_run(BulkAction::Discard, None).await;
    assert_eq!(dry.count, 1);
    let outcome = operator(&app)
        .done(BulkAction::Discard, &operator(&app).real_run(&dry, 1))
        .await;
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
    let dry = operator(&app).dry_run(BulkAction::Retry, None).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let err = operator(&app)
        .bulk(BulkAction::Retry, &operator(&app).real_run(&dry, 1))
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
        let dry = operator(&app).dry_run(BulkAction::Retry, None).await;
        assert_eq!(dry.count, 60);
        operator(&app)
            .done(BulkAction::Retry, &operator(&app).real_run(&dry, 60))
            .await
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
    let operator_principal = principal(Role::Operator);
    let caller = Caller::new(&operator_principal, None, None);
    let reason = operator(&app).parsed_reason();
    let ops = app.state.ops();
    let paused = queues::set_paused(&app.state, ops.act(&caller, &reason), SOURCE, QUEUE, true)
        .await
        .unwrap();
    assert!(paused.paused);
    let bullmq = bull.counts().await;
    assert_eq!(bullmq["paused"], true, "{bullmq}");

    // A retry on a paused queue waits where BullMQ keeps a paused queue's jobs.
    assert_eq!(operator(&app).one(&ids[0], BulkAction::Retry).await, "done");
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
    let reason = operator(&app).parsed_reason();
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
    let operator_principal = principal(Role::Operator);
    let as_operator = Caller::new(&operator_principal, None, None);
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
