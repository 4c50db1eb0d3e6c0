//! opsdeck's actions on Sidekiq, through the use-cases the API and the dashboard call, seen
//! by the real Sidekiq 6.4.1 server and Sidekiq's own API.

use std::collections::BTreeSet;

use opsdeck_connectors::queues::{ActGuard, Skip};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{BulkAction, JobFilter, JobState};
use opsdeck_server::ops::Caller;
use opsdeck_server::ops::queues::{self, BulkFilter, BulkOutcome, DryRun};
use serde_json::{Value, json};

use super::fixture::{Kiq, QUEUE, SOURCE, principal};
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

/// The jobs of one state.
fn in_state(state: &str) -> Option<BulkFilter> {
    Some(BulkFilter {
        state: Some(state.to_owned()),
        q: None,
        tenant_id: None,
    })
}

async fn real_run(app: &TestApp, action: BulkAction, dry: &DryRun, expected: u64) -> BulkOutcome {
    let operator = operator(app);
    operator
        .done(action, &operator.real_run(dry, expected))
        .await
}

/// The opsdeck ids of the retry set's entries, by jid.
async fn retry_ids(kiq: &Kiq) -> Vec<(String, JobId)> {
    let connector = kiq.connector().await;
    let queue = QueueName::parse(QUEUE).unwrap();
    let ids = connector
        .select(
            &queue,
            &JobFilter {
                state: JobState::Retrying,
                q: None,
                tenant_id: None,
            },
            100,
        )
        .await
        .unwrap();
    ids.into_iter()
        .map(|id| {
            let (_, rest) = id.as_str().split_once('-').unwrap();
            (rest.rsplit_once('-').unwrap().0.to_owned(), id)
        })
        .collect()
}

fn ran(state: &Value) -> Vec<String> {
    let mut ran: Vec<String> = serde_json::from_value(state["ran"].clone()).unwrap();
    ran.sort();
    ran
}

#[tokio::test]
async fn sidekiq_a_retried_job_runs_once_even_retried_twice() {
    let kiq = Kiq::new().await;
    let jids = kiq.failed(&[(3, "acme"), (3, "acme")]).await;
    let ids = retry_ids(&kiq).await;
    let app = kiq.app().await;
    let first = &ids.iter().find(|(jid, _)| *jid == jids[0]).unwrap().1;
    assert_eq!(
        operator(&app).one(first.as_str(), BulkAction::Retry).await,
        "done"
    );
    assert_eq!(
        operator(&app).one(first.as_str(), BulkAction::Retry).await,
        "not_found",
        "the entry is no longer in the retry set"
    );
    // Two operators who both saw it in the retry set: the script finds it gone.
    let connector = kiq.connector().await;
    let queue = QueueName::parse(QUEUE).unwrap();
    let guard = ActGuard {
        state: JobState::Retrying,
        failed_not_after: None,
    };
    let report = connector
        .retry(&queue, std::slice::from_ref(first), guard)
        .await
        .unwrap();
    assert_eq!(
        report.skipped,
        vec![(first.clone(), Skip::Gone)],
        "{report:?}"
    );
    let sidekiq = kiq.state().await;
    assert_eq!(sidekiq["stats"]["retry_size"], 1, "{sidekiq}");
    assert_eq!(sidekiq["stats"]["enqueued"], 1, "{sidekiq}");
    assert_eq!(sidekiq["stats"]["queues"][QUEUE], 1, "{sidekiq}");
    let mut redis = kiq.redis();
    let pushed: String = redis::cmd("LINDEX")
        .arg(format!("queue:{QUEUE}"))
        .arg(0)
        .query(&mut redis)
        .unwrap();
    let pushed: Value = serde_json::from_str(&pushed).unwrap();
    assert_eq!(
        pushed["retry_count"], -1,
        "one less, as Sidekiq's retry does"
    );
    assert_eq!(
        pushed["error_class"], "ArgumentError",
        "kept, as Sidekiq keeps it"
    );
    assert!(pushed["enqueued_at"].as_f64().unwrap() > pushed["failed_at"].as_f64().unwrap());

    kiq.heal();
    let second = &ids.iter().find(|(jid, _)| *jid == jids[1]).unwrap().1;
    assert_eq!(
        operator(&app).one(second.as_str(), BulkAction::Retry).await,
        "done"
    );
    let after = kiq.work(json!({"ran": 2})).await;
    let mut expected = jids.clone();
    expected.sort();
    assert_eq!(ran(&after), expected, "each retried job ran exactly once");
    assert_eq!(after["stats"]["retry_size"], 0, "{after}");
    assert_eq!(after["stats"]["enqueued"], 0, "{after}");
    // The audit log has the retries with their reason.
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
async fn sidekiq_a_changed_or_already_retried_entry_is_never_moved() {
    let kiq = Kiq::new().await;
    kiq.failed(&[(3, "acme"), (3, "globex")]).await;
    let ids = retry_ids(&kiq).await;
    let connector = kiq.connector().await;
    let queue = QueueName::parse(QUEUE).unwrap();
    let guard = ActGuard {
        state: JobState::Retrying,
        failed_not_after: None,
    };
    let mut redis = kiq.redis();
    // One entry rewritten in place (same score, same jid, other text).
    let (changed_jid, changed) = &ids[0];
    let pairs: Vec<String> = redis::cmd("ZRANGE")
        .arg("retry")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut redis)
        .unwrap();
    let (member, score) = pairs
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .find(|(m, _)| m.contains(changed_jid.as_str()))
        .unwrap();
    let rewritten = member.replace("\"retry_count\":0", "\"retry_count\":1");
    assert_ne!(rewritten, member);
    let _: () = redis::pipe()
        .cmd("ZREM")
        .arg("retry")
        .arg(&member)
        .cmd("ZADD")
        .arg("retry")
        .arg(&score)
        .arg(&rewritten)
        .query(&mut redis)
        .unwrap();
    // The other retried by Sidekiq's own API first.
    let (other_jid, other) = &ids[1];
    kiq.ruby(
        "eval",
        json!({"code": format!("Sidekiq::RetrySet.new.find_job({other_jid:?}).retry")}),
    )
    .await;
    let report = connector
        .retry(&queue, &[changed.clone(), other.clone()], guard)
        .await
        .unwrap();
    assert!(report.done.is_empty(), "{report:?}");
    assert_eq!(
        report.skipped,
        vec![(changed.clone(), Skip::Moved), (other.clone(), Skip::Gone)]
    );
    let report = connector
        .discard(&queue, &[changed.clone(), other.clone()], guard)
        .await
        .unwrap();
    assert!(report.done.is_empty(), "{report:?}");
    let sidekiq = kiq.state().await;
    assert_eq!(
        sidekiq["stats"]["retry_size"], 1,
        "the rewritten entry stays: {sidekiq}"
    );
    assert_eq!(sidekiq["retry"][0]["value"], json!(rewritten));
    assert_eq!(
        sidekiq["stats"]["enqueued"], 1,
        "only Sidekiq's own retry: {sidekiq}"
    );
    assert_eq!(sidekiq["stats"]["dead_size"], 0, "{sidekiq}");
}

#[tokio::test]
async fn sidekiq_bulk_retry_acts_on_its_selection_only_and_discard_kills_then_deletes() {
    let kiq = Kiq::new().await;
    let first = kiq.failed(&[(3, "acme"), (3, "acme"), (3, "globex")]).await;
    let app = kiq.app().await;
    let dry = operator(&app)
        .dry_run(BulkAction::Retry, in_state("retrying"))
        .await;
    assert_eq!(dry.count, 3);
    // A job failing after the dry run is not part of it.
    let late = kiq.failed(&[(3, "acme")]).await;
    let outcome = real_run(&app, BulkAction::Retry, &dry, 3).await;
    assert_eq!(outcome.count, 3, "{outcome:?}");
    assert!(outcome.longest_step_ms > 0.0, "{outcome:?}");
    let sidekiq = kiq.state().await;
    assert_eq!(sidekiq["retry"][0]["jid"], json!(late[0]), "{sidekiq}");
    kiq.heal();
    let after = kiq.work(json!({"ran": 3})).await;
    let mut expected = first.clone();
    expected.sort();
    assert_eq!(
        ran(&after),
        expected,
        "exactly the selection ran, once each"
    );

    // Discard of a retrying job kills it (to the dead set, as Sidekiq Web's Kill does) …
    let dry = operator(&app)
        .dry_run(BulkAction::Discard, in_state("retrying"))
        .await;
    assert_eq!(dry.count, 1);
    let outcome = real_run(&app, BulkAction::Discard, &dry, 1).await;
    assert_eq!(outcome.count, 1, "{outcome:?}");
    let sidekiq = kiq.state().await;
    assert_eq!(sidekiq["stats"]["retry_size"], 0, "{sidekiq}");
    assert_eq!(sidekiq["dead"][0]["jid"], json!(late[0]), "{sidekiq}");
    // … and of a dead job deletes it (the morgue's Delete).
    let dry = operator(&app)
        .dry_run(BulkAction::Discard, in_state("dead"))
        .await;
    assert_eq!(dry.count, 1);
    let outcome = real_run(&app, BulkAction::Discard, &dry, 1).await;
    assert_eq!(outcome.count, 1, "{outcome:?}");
    let sidekiq = kiq.state().await;
    assert_eq!(sidekiq["stats"]["dead_size"], 0, "{sidekiq}");
    assert_eq!(sidekiq["stats"]["enqueued"], 0, "{sidekiq}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn sidekiq_a_dead_job_retried_runs_once() {
    let kiq = Kiq::new().await;
    let jids = kiq.failed(&[(0, "acme")]).await;
    let app = kiq.app().await;
    let dry = operator(&app)
        .dry_run(BulkAction::Retry, in_state("failed"))
        .await;
    assert_eq!(dry.count, 1, "failed is the retry and the dead set");
    kiq.heal();
    let outcome = real_run(&app, BulkAction::Retry, &dry, 1).await;
    assert_eq!(outcome.count, 1, "{outcome:?}");
    let after = kiq.work(json!({"ran": 1})).await;
    assert_eq!(ran(&after), jids);
    assert_eq!(after["stats"]["dead_size"], 0, "{after}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn sidekiq_viewers_and_read_only_sources_change_nothing_and_there_is_no_pause() {
    let kiq = Kiq::new().await;
    kiq.failed(&[(3, "acme")]).await;
    let ids = retry_ids(&kiq).await;
    let id = ids[0].1.as_str();
    let source = opsdeck_server::config::SourceConfig {
        read_only: true,
        ..kiq.source()
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
    })
    .await;
    let reason = operator(&app).parsed_reason();
    let ops = app.state.ops();
    let viewer = principal(Role::Viewer);
    let as_viewer = Caller::new(&viewer, None, None);
    let err = queues::retry_job(&app.state, ops.act(&as_viewer, &reason), SOURCE, QUEUE, id)
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
        id,
    )
    .await
    .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (409, "read_only"));
    let err = queues::discard_job(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        QUEUE,
        id,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "read_only");
    app.shutdown().await.expect("clean shutdown");

    // A source that may act still has no pause.
    let app = kiq.app().await;
    let ops = app.state.ops();
    let err = queues::set_paused(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        QUEUE,
        true,
    )
    .await
    .unwrap_err();
    assert!(err.status().is_client_error(), "{err:?}");
    let sidekiq = kiq.state().await;
    assert_eq!(sidekiq["stats"]["retry_size"], 1, "{sidekiq}");
    assert_eq!(sidekiq["stats"]["enqueued"], 0, "{sidekiq}");
    let unique: BTreeSet<&str> = ids.iter().map(|(j, _)| j.as_str()).collect();
    assert_eq!(unique.len(), 1);
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn sidekiq_retry_while_the_server_is_busy_loses_nothing_and_runs_nothing_twice() {
    let kiq = Kiq::new().await;
    let failed = kiq.failed(&[(3, "acme"); 60]).await;
    kiq.heal();
    let app = kiq.app().await;
    // The real server runs while 100 new jobs arrive and the 60 retries are pushed back.
    let worker = kiq.ruby("work", json!({"ran": 160, "timeout": 30}));
    let producer = kiq.push(json!(
        (0..100)
            .map(|n| json!({"class": "MailJob", "queue": QUEUE, "args": [n]}))
            .collect::<Vec<_>>()
    ));
    let retrier = async {
        let dry = operator(&app)
            .dry_run(BulkAction::Retry, in_state("retrying"))
            .await;
        assert_eq!(dry.count, 60);
        real_run(&app, BulkAction::Retry, &dry, 60).await
    };
    let (after, added, outcome) = tokio::join!(worker, producer, retrier);
    assert_eq!(outcome.count, 60, "{outcome:?}");
    let ran: Vec<String> = serde_json::from_value(after["ran"].clone()).unwrap();
    let unique: BTreeSet<&String> = ran.iter().collect();
    assert_eq!(unique.len(), ran.len(), "no job ran twice");
    let expected: BTreeSet<&String> = failed.iter().chain(&added).collect();
    assert_eq!(unique, expected, "every job ran");
    assert_eq!(after["stats"]["retry_size"], 0, "{after}");
    app.shutdown().await.expect("clean shutdown");
}
