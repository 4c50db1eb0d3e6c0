//! opsdeck's actions on RQ queues, through the use-cases the API and the dashboard call,
//! seen by a real RQ worker and RQ's own registries.

use std::collections::BTreeSet;

use opsdeck_connectors::queues::{ActGuard, Skip};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{BulkAction, JobState};
use opsdeck_server::ops::Caller;
use opsdeck_server::ops::queues;
use serde_json::json;

use super::fixture::{QUEUE, RqWorld, SOURCE, charge, get_json, polled_queue, principal};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::queues::Operator;

/// The operator of these tests, on the source's queue.
fn operator(app: &TestApp) -> Operator<'_> {
    Operator {
        app,
        source: SOURCE,
        queue: QUEUE,
        reason: "the card processor is back, ticket 9",
    }
}

fn failed_guard() -> ActGuard {
    ActGuard {
        state: JobState::Failed,
        failed_not_after: None,
    }
}

#[tokio::test]
async fn rq_a_requeued_job_runs_once_even_requeued_twice() {
    let rq = RqWorld::new();
    let ids = rq
        .failed_jobs(json!([charge("acme"), charge("globex")]))
        .await;
    let mut redis = rq.redis();
    let ttl: i64 = redis::cmd("TTL")
        .arg(rq.key("job", &ids[0]))
        .query(&mut redis)
        .unwrap();
    assert!(ttl > 0, "RQ set the failed job to expire: {ttl}");
    let app = rq.app().await;
    assert_eq!(operator(&app).one(&ids[0], BulkAction::Retry).await, "done");
    assert_eq!(
        operator(&app).one(&ids[0], BulkAction::Retry).await,
        "not_failed",
        "a second retry finds the job queued"
    );
    // Two operators who both saw the job failed: the script re-checks, the second moves
    // nothing.
    let connector = rq.connector().await;
    let queue = QueueName::parse(QUEUE).unwrap();
    let id = JobId::parse(&ids[0]).unwrap();
    let report = connector
        .retry(&queue, std::slice::from_ref(&id), failed_guard())
        .await
        .unwrap();
    assert_eq!(report.skipped, vec![(id, Skip::Moved)], "{report:?}");
    assert!(report.done.is_empty());

    let counts = rq.counts().await;
    assert_eq!(counts["failed_ids"], json!([ids[1]]), "{counts}");
    assert_eq!(counts["queued_ids"], json!([ids[0]]), "{counts}");
    let job = rq.py("job", json!({"id": ids[0]})).await;
    assert_eq!(job["status"], "queued", "{job}");
    assert_eq!(job["ttl"], -1, "the failed job's expiry is cleared: {job}");
    let fields: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(rq.key("job", &ids[0]))
        .arg(&["started_at", "ended_at", "exc_info"])
        .query(&mut redis)
        .unwrap();
    assert_eq!(
        fields,
        vec![Some(String::new()), Some(String::new()), None],
        "cleared as RQ's requeue clears them"
    );
    let queues: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{}:queues", rq.prefix))
        .query(&mut redis)
        .unwrap();
    assert_eq!(queues, vec![rq.key("queue", QUEUE)]);

    // A real worker runs it once: the charge succeeds now.
    let ran = rq.work().await;
    assert_eq!(
        ran,
        vec![ids[0].clone()],
        "the requeued job ran exactly once"
    );
    let counts = rq.counts().await;
    assert_eq!(
        (&counts["finished"], &counts["failed"], &counts["queued"]),
        (&json!(1), &json!(1), &json!(0)),
        "{counts}"
    );
    // Once it ran, it is not failed any more: a late retry is refused, nothing is queued.
    assert_eq!(
        operator(&app).one(&ids[0], BulkAction::Retry).await,
        "not_failed"
    );
    assert_eq!(rq.counts().await["queued"], 0);

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
    assert!(audit.contains("ticket 9"), "{audit}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rq_bulk_retry_and_discard_act_on_their_selection_only() {
    let rq = RqWorld::new();
    let first = rq
        .failed_jobs(json!([charge("a"), charge("b"), charge("c")]))
        .await;
    let app = rq.app().await;
    let dry = operator(&app).dry_run(BulkAction::Retry, None).await;
    assert_eq!(dry.count, 3);
    // A job failing after the dry run is not part of it.
    let late = rq.failed_jobs(json!([charge("d")])).await;

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
    let counts = rq.counts().await;
    assert_eq!(counts["failed_ids"], json!(late), "{counts}");
    let ran: BTreeSet<String> = rq.work().await.into_iter().collect();
    assert_eq!(
        ran,
        first.into_iter().collect(),
        "exactly the selection ran"
    );

    // Discarding the late failure deletes it as RQ's registry.remove(delete_job=True) does.
    let dry = operator(&app).dry_run(BulkAction::Discard, None).await;
    assert_eq!(dry.count, 1);
    let outcome = operator(&app)
        .done(BulkAction::Discard, &operator(&app).real_run(&dry, 1))
        .await;
    assert_eq!(outcome.count, 1, "{outcome:?}");
    let counts = rq.counts().await;
    assert_eq!(
        (&counts["failed"], &counts["queued"]),
        (&json!(0), &json!(0)),
        "{counts}"
    );
    let mut redis = rq.redis();
    let exists: u64 = redis::cmd("EXISTS")
        .arg(rq.key("job", &late[0]))
        .arg(rq.key("results", &late[0]))
        .arg(rq.key("executions", &late[0]))
        .query(&mut redis)
        .unwrap();
    assert_eq!(exists, 0, "its hash, results and executions are gone");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rq_changed_or_rate_limited_jobs_are_never_moved() {
    let rq = RqWorld::new();
    let ids = rq
        .failed_jobs(json!([charge("a"), charge("b"), charge("c")]))
        .await;
    let mut redis = rq.redis();
    // One requeued by RQ itself meanwhile, one put under a rate limit.
    rq.py("requeue", json!({"ids": [ids[0]]})).await;
    let _: () = redis::cmd("HSET")
        .arg(rq.key("job", &ids[1]))
        .arg("rate_limit_key")
        .arg("card-processor")
        .arg("rate_limit_concurrency")
        .arg(2)
        .query(&mut redis)
        .unwrap();
    let connector = rq.connector().await;
    let queue = QueueName::parse(QUEUE).unwrap();
    let all: Vec<JobId> = ids.iter().map(|i| JobId::parse(i).unwrap()).collect();
    let gone = JobId::parse("no-such-job").unwrap();
    let mut asked = all.clone();
    asked.push(gone.clone());
    let report = connector
        .retry(&queue, &asked, failed_guard())
        .await
        .unwrap();
    assert_eq!(report.done, vec![all[2].clone()], "{report:?}");
    assert_eq!(
        report.skipped,
        vec![
            (all[0].clone(), Skip::Moved),
            (all[1].clone(), Skip::Refused),
            (gone, Skip::Gone)
        ]
    );
    let report = connector
        .discard(&queue, &all, failed_guard())
        .await
        .unwrap();
    assert!(report.done.is_empty(), "{report:?}");
    let counts = rq.counts().await;
    assert_eq!(counts["failed_ids"], json!([ids[1]]), "{counts}");
    let mut queued: Vec<String> = serde_json::from_value(counts["queued_ids"].clone()).unwrap();
    queued.sort();
    let mut expected = vec![ids[0].clone(), ids[2].clone()];
    expected.sort();
    assert_eq!(queued, expected, "each queued once: {counts}");
    let ran: BTreeSet<String> = rq.work().await.into_iter().collect();
    assert_eq!(ran, expected.into_iter().collect());
}

#[tokio::test]
async fn rq_viewers_read_only_sources_and_pause_change_nothing() {
    let rq = RqWorld::new();
    let ids = rq.failed_jobs(json!([charge("acme")])).await;
    let app = rq.app().await;
    let reason = operator(&app).parsed_reason();
    let ops = app.state.ops();
    let operator_principal = principal(Role::Operator);
    let as_operator = Caller::new(&operator_principal, None, None);
    let err = queues::set_paused(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        QUEUE,
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "not_possible");
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    polled_queue(&app, &viewer, |_| true).await;
    let (_, overview) = get_json(&app, &viewer, "/ops/queues").await;
    let why = overview["sources"][0]["unavailable"]["pause"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("no per-queue pause"), "{overview}");
    let page = app
        .client
        .get(app.url(&format!("/queues/{SOURCE}/{QUEUE}")))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("no per-queue pause"),
        "the page says why: {page}"
    );
    app.shutdown().await.expect("clean shutdown");

    let source = opsdeck_server::config::SourceConfig {
        read_only: true,
        ..rq.source()
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
    })
    .await;
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
    let err = queues::discard_job(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        QUEUE,
        &ids[0],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "read_only");
    let counts = rq.counts().await;
    assert_eq!(counts["failed_ids"], json!(ids), "{counts}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rq_bulk_retry_while_a_worker_is_busy_loses_nothing() {
    let rq = RqWorld::new();
    let charges: Vec<_> = (0..30).map(|n| charge(&format!("tenant-{n}"))).collect();
    let failed = rq.failed_jobs(json!(charges)).await;
    let app = rq.app().await;
    // A worker busy with 40 new jobs arriving while the 30 failed ones are requeued.
    let worker = rq.py("work_until", json!({"expect": 70, "idle": 30}));
    let new: Vec<_> = (0..40)
        .map(|n| json!({"func": "ok", "args": [n]}))
        .collect();
    let producer = rq.enqueue(json!(new));
    let retrier = async {
        let dry = operator(&app).dry_run(BulkAction::Retry, None).await;
        assert_eq!(dry.count, 30);
        operator(&app)
            .done(BulkAction::Retry, &operator(&app).real_run(&dry, 30))
            .await
    };
    let (out, added, outcome) = tokio::join!(worker, producer, retrier);
    assert_eq!(outcome.count, 30, "{outcome:?}");
    let ran: Vec<String> = serde_json::from_value(out["ran"].clone()).unwrap();
    let unique: BTreeSet<&String> = ran.iter().collect();
    assert_eq!(unique.len(), ran.len(), "no job ran twice");
    let expected: BTreeSet<&String> = failed.iter().chain(&added).collect();
    assert_eq!(unique, expected, "every job ran");
    let counts = rq.counts().await;
    assert_eq!(
        (&counts["failed"], &counts["queued"], &counts["finished"]),
        (&json!(0), &json!(0), &json!(70)),
        "{counts}"
    );
    app.shutdown().await.expect("clean shutdown");
}
