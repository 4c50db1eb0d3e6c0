//! A `pg-boss` source against real pg-boss, 12.38.1 (schema version 46) and 10.4.2 (schema
//! version 24), each test once per release: pg-boss's own `start()` installs it in a schema
//! of the test's own, its `send()` adds jobs and pg-boss itself fails and completes them. The
//! connector's counts and jobs match pg-boss's own `getQueue` and `getJobById`; an unknown
//! schema version is refused; retries make pg-boss's own moves and run exactly once, also
//! while workers are busy; a bulk action leaves alone what failed after its dry run;
//! dead-lettered jobs go back to their queue (12.x); viewers, read-only sources and wrong
//! counts are refused; errors and data come out redacted; and an unreachable database makes
//! the source stale.

mod chunks;
mod dead_letters;
mod fixture;
mod source_keys;

use std::time::Duration;

use opsdeck_connectors::queues::{
    ActGuard, JobQuery, QueueConnector, QueueError, QueueType, SourceContext,
};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::{JobId, QueueName, SourceName, TenantId};
use opsdeck_core::queues::{BulkAction, JobState, TenantPath};
use opsdeck_server::config::{Config, SourceConfig};
use opsdeck_server::ops::queues::{self, BulkAnswer, BulkRequest};
use opsdeck_server::ops::{Caller, Reason};
use serde_json::{Value, json};

use self::fixture::{Outcome, PgBossDb, Version};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::queues::{ids_of, principal, query, queue_of};
use crate::support::wait_for_async;

const SECRETS: [&str; 5] = [
    "4242 4242 4242 4242",
    "jane@example.com",
    "bob@example.com",
    "sk_live_",
    "hunter2",
];

fn assert_redacted(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

/// The queues every test installs: a dead-letter queue first (pg-boss needs it to exist),
/// `charge` failing for good on its first failure into it, `email` retrying an hour later.
fn queues() -> Value {
    json!([
        {"name": "dlq"},
        {"name": "charge", "options": {"retryLimit": 0, "deadLetter": "dlq"}},
        {"name": "email", "options": {"retryLimit": 3, "retryDelay": 3600}},
    ])
}

async fn install(version: Version) -> Option<PgBossDb> {
    PgBossDb::install(version, queues()).await
}

async fn connector(pb: &PgBossDb) -> Box<dyn QueueConnector> {
    let context = SourceContext {
        source: SourceName::parse("pb").unwrap(),
        tenant_path: Some(TenantPath::parse("data.tenantId").unwrap()),
        read_timeout: Duration::from_secs(5),
    };
    pb.keys().connect(context).await.expect("connect")
}

fn source(pb: &PgBossDb, name: &str) -> SourceConfig {
    SourceConfig {
        poll_interval: Some(Duration::from_secs(1)),
        tenant_path: Some("data.tenantId".into()),
        ..SourceConfig::system(name, pb.keys())
    }
}

async fn app_for(pb: &PgBossDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let pb_source = source(pb, "pb");
    TestApp::spawn_with(TestDb::sqlite(), move |config| {
        config.queues.sources = vec![pb_source];
        tweak(config);
    })
    .await
}

fn name(text: &str) -> QueueName {
    QueueName::parse(text).unwrap()
}

fn bulk_request(selection: Option<String>, expected: Option<u64>) -> BulkRequest {
    BulkRequest {
        dry_run: selection.is_none(),
        reason: "retry the declined charges".into(),
        filter: None,
        selection,
        expected_count: expected,
    }
}

/// Three charges failed for good (two of acme), two emails failed once and retrying in an
/// hour, two emails waiting and one due in an hour.
struct Seeded {
    charges: Vec<String>,
    retrying: Vec<String>,
    waiting: Vec<String>,
}

async fn seed(pb: &PgBossDb) -> Seeded {
    let mut charges = Vec::new();
    for (tenant, error) in [
        (
            "acme",
            "CardError: card 4242 4242 4242 4242 declined for jane@example.com",
        ),
        ("globex", "upstream said token=sk_live_abcdefghijklmnop1234"),
        (
            "acme",
            "timeout calling https://user:hunter2@psp.example/\n  at charge (charge.js:3:7)",
        ),
    ] {
        let data = json!({"tenantId": tenant, "error": error, "card": "4242 4242 4242 4242"});
        charges.push(pb.send_one("charge", data, json!({})).await);
        // Distinct failure times, oldest first.
        pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    }
    let retrying = pb
        .send(json!([
            {"name": "email", "data": {"to": "bob@example.com"}},
            {"name": "email", "data": {"tenantId": "acme"}},
        ]))
        .await;
    pb.work_once(&["email"], Outcome::Fail("SMTP 550 for bob@example.com"))
        .await;
    let waiting = pb
        .send(json!([
            {"name": "email", "data": {"tenantId": "acme"}},
            {"name": "email", "data": {"tenantId": "globex"}},
            {"name": "email", "data": {}, "options": {"startAfter": 3600}},
        ]))
        .await;
    Seeded {
        charges,
        retrying,
        waiting,
    }
}

fn count_of(value: &Value, key: &str) -> Option<u64> {
    value["queue"][key].as_u64()
}

async fn counts_and_lists_match_pg_boss(version: Version) {
    let Some(pb) = install(version).await else {
        return;
    };
    let Seeded {
        charges,
        retrying,
        waiting,
    } = seed(&pb).await;
    // pg-boss's own view (12.x: its cached counts, refreshed).
    let charge_view = pb.inspect("charge", &charges).await;
    let email_view = pb.inspect("email", &retrying).await;

    let conn = connector(&pb).await;
    let fast = conn.poll(false).await.expect("fast poll");
    assert_eq!(fast.version.as_deref(), Some(version.shown()));
    let email = queue_of(&fast, "email");
    let charge = queue_of(&fast, "charge");
    assert_eq!(email.count(JobState::Retrying), Some(2));
    assert_eq!(email.count(JobState::Waiting), Some(2));
    assert_eq!(
        email.count(JobState::Scheduled),
        Some(3),
        "the retries in their back-off and the later job"
    );
    assert_eq!(email.paused, None, "pg-boss has no pause");
    match version {
        Version::V12 => {
            // Straight from pg-boss's cache.
            assert_eq!(
                charge.count(JobState::Failed),
                count_of(&charge_view, "failedCount")
            );
            assert_eq!(charge.count(JobState::Failed), Some(3));
            assert_eq!(
                email.count(JobState::Waiting),
                count_of(&email_view, "readyCount")
            );
            assert_eq!(
                email.count(JobState::Scheduled),
                count_of(&email_view, "deferredCount")
            );
            assert_eq!(
                email.count(JobState::Active),
                count_of(&email_view, "activeCount")
            );
        }
        Version::V10 => {
            // Nothing cached and no index: failed jobs are counted on slow polls only.
            assert_eq!(charge.count(JobState::Failed), None);
            assert_eq!(charge.failures_last_hour, None);
        }
    }
    let slow = conn.poll(true).await.expect("slow poll");
    let charge = queue_of(&slow, "charge");
    let email = queue_of(&slow, "email");
    let dlq = queue_of(&slow, "dlq");
    assert_eq!(charge.count(JobState::Failed), Some(3));
    assert_eq!(charge.failures_last_hour, Some(3));
    assert_eq!(email.count(JobState::Retrying), Some(2));
    assert_eq!(email.count(JobState::Waiting), Some(2));
    assert_eq!(email.count(JobState::Scheduled), Some(3));
    assert_eq!(email.count(JobState::Active), Some(0));
    // pg-boss dead-letters each failed charge: 12.x records where from (dead), 10.x does not.
    assert_eq!(dlq.count(JobState::Waiting), Some(3));
    let dead = match version {
        Version::V12 => 3,
        Version::V10 => 0,
    };
    assert_eq!(dlq.count(JobState::Dead), Some(dead));
    assert!(slow.cost.commands > fast.cost.commands);

    // Failed jobs, two at a time (12.x newest failure first).
    let charge_q = name("charge");
    let first = conn
        .list_jobs(&charge_q, &query(JobState::Failed, 2))
        .await
        .unwrap();
    let next = JobQuery {
        cursor: first.next.clone(),
        ..query(JobState::Failed, 2)
    };
    let second = conn.list_jobs(&charge_q, &next).await.unwrap();
    assert_eq!(second.next, None);
    let mut listed = [ids_of(&first), ids_of(&second)].concat();
    if version == Version::V12 {
        assert_eq!(
            listed,
            [charges[2].clone(), charges[1].clone(), charges[0].clone()]
        );
    }
    listed.sort();
    let mut expected = charges.clone();
    expected.sort();
    assert_eq!(listed, expected);
    assert_redacted(&format!("{first:?}{second:?}"));
    let all: Vec<_> = first.jobs.iter().chain(&second.jobs).collect();
    let timeout = all
        .iter()
        .find(|j| j.id.as_str() == charges[2])
        .expect("the third charge");
    assert_eq!(timeout.state, JobState::Failed);
    assert_eq!((timeout.attempts, timeout.max_attempts), (Some(1), Some(1)));
    assert_eq!(timeout.name.as_deref(), Some("charge"));
    assert_eq!(
        timeout.tenant_id.as_ref().map(TenantId::as_str),
        Some("acme")
    );
    assert!(
        timeout
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("timeout") && !e.contains("charge.js")),
        "the error's first line: {timeout:?}"
    );
    let declined = all
        .iter()
        .find(|j| j.id.as_str() == charges[0])
        .expect("the first charge");
    assert!(declined.error.as_deref().unwrap().contains("[card]"));

    // Searches: by tenant, by text in the error.
    let mut acme = query(JobState::Failed, 50);
    acme.filter.tenant_id = Some(TenantId::parse("acme").unwrap());
    let page = conn.list_jobs(&charge_q, &acme).await.unwrap();
    let mut found = ids_of(&page);
    found.sort();
    let mut both = vec![charges[0].clone(), charges[2].clone()];
    both.sort();
    assert_eq!(found, both);
    let mut text = query(JobState::Failed, 50);
    text.filter.q = Some("Declined".into());
    let page = conn.list_jobs(&charge_q, &text).await.unwrap();
    assert_eq!(ids_of(&page), [charges[0].clone()]);
    assert_eq!(
        conn.select(&charge_q, &acme.filter, 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // Retrying, waiting and scheduled emails.
    let email_q = name("email");
    let page = conn
        .list_jobs(&email_q, &query(JobState::Retrying, 50))
        .await
        .unwrap();
    let mut found = ids_of(&page);
    found.sort();
    let mut expected = retrying.clone();
    expected.sort();
    assert_eq!(found, expected);
    assert!(
        page.jobs[0].error.as_deref().unwrap().contains("[email]"),
        "{page:?}"
    );
    assert_redacted(&format!("{page:?}"));
    let page = conn
        .list_jobs(&email_q, &query(JobState::Waiting, 50))
        .await
        .unwrap();
    let mut found = ids_of(&page);
    found.sort();
    let mut expected = waiting[..2].to_vec();
    expected.sort();
    assert_eq!(found, expected);
    let page = conn
        .list_jobs(&email_q, &query(JobState::Scheduled, 50))
        .await
        .unwrap();
    assert_eq!(page.jobs.len(), 3, "{page:?}");
    assert!(page.jobs.iter().any(|j| j.id.as_str() == waiting[2]));

    // One job, as pg-boss's getJobById has it: its error redacted, its data as shapes.
    let id = JobId::parse(&charges[0]).unwrap();
    let detail = conn
        .get_job(&charge_q, &id)
        .await
        .unwrap()
        .expect("the job");
    assert_redacted(&format!("{detail:?}"));
    let theirs = &charge_view["jobs"][0];
    assert_eq!(theirs["id"], charges[0].as_str());
    assert_eq!(theirs["state"], "failed");
    assert_eq!(detail.summary.state, JobState::Failed);
    assert_eq!(
        detail.summary.max_attempts,
        theirs["retryLimit"].as_u64().map(|n| n as u32 + 1)
    );
    let stack = detail.attempts[0].stack.as_deref().expect("the stack");
    assert!(stack.contains("boss.mjs"), "{stack}");
    assert!(
        theirs["output"]["message"]
            .as_str()
            .unwrap()
            .contains("4242")
    );
    assert!(
        detail.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("[card]")
    );
    let payload = detail.payload.as_ref().expect("data shape");
    assert!(
        payload
            .keys
            .contains(&("card".to_owned(), "string (19 chars)".to_owned())),
        "{payload:?}"
    );
    let retried = JobId::parse(&retrying[0]).unwrap();
    let detail = conn.get_job(&email_q, &retried).await.unwrap().unwrap();
    let theirs = &email_view["jobs"][0];
    assert_eq!(theirs["state"], "retry");
    assert_eq!(detail.summary.state, JobState::Retrying);
    assert_eq!(detail.summary.max_attempts, Some(4));
    assert!(
        conn.get_job(&email_q, &id).await.unwrap().is_none(),
        "another queue's job"
    );
    let missing = conn
        .list_jobs(&name("nope"), &query(JobState::Failed, 5))
        .await;
    assert!(
        matches!(missing, Err(QueueError::NotFound(_))),
        "{missing:?}"
    );

    // The same through the app's poller and the JSON routes.
    let app = app_for(&pb, |_| {}).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let get = |path: String| {
        let request = app.client.get(app.url(&path)).bearer_auth(&viewer);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let overview = wait_for_async(Duration::from_secs(20), "a poll of the source", || {
        let get = &get;
        async move {
            let overview = get("/ops/queues".into()).await;
            let charge = overview["queues"]
                .as_array()?
                .iter()
                .find(|q| q["queue"] == "charge")?
                .clone();
            (charge["counts"]["failed"]["count"] == 3).then_some(overview)
        }
    })
    .await;
    let source = &overview["sources"][0];
    assert_eq!(source["version"], version.shown(), "{overview}");
    assert!(
        source["unavailable"]["pause"]
            .as_str()
            .is_some_and(|why| why.contains("no queue pause")),
        "{source}"
    );
    let jobs = get("/ops/queues/pb/charge/jobs?state=failed".into()).await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 3, "{jobs}");
    assert_redacted(&jobs.to_string());
    let detail = get(format!("/ops/queues/pb/charge/jobs/{}", charges[1])).await;
    assert_eq!(detail["summary"]["tenant_id"], "globex", "{detail}");
    assert_redacted(&detail.to_string());
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn pgboss12_counts_and_lists_match_pg_boss() {
    counts_and_lists_match_pg_boss(Version::V12).await;
}

#[tokio::test]
async fn pgboss10_counts_and_lists_match_pg_boss() {
    counts_and_lists_match_pg_boss(Version::V10).await;
}

async fn an_unknown_version_is_refused(version: Version) {
    let Some(pb) = install(version).await else {
        return;
    };
    let id = pb.send_one("charge", json!({}), json!({})).await;
    pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    let conn = connector(&pb).await;
    conn.poll(true).await.expect("a supported layout");

    pb.execute("UPDATE {s}.version SET version = 47").await;
    let poll = conn.poll(true).await;
    assert!(
        matches!(&poll, Err(QueueError::Unsupported(why))
            if why.contains("version 47") && why.contains("24") && why.contains("46")),
        "{poll:?}"
    );
    let charge = name("charge");
    let listed = conn.list_jobs(&charge, &query(JobState::Failed, 10)).await;
    assert!(
        matches!(listed, Err(QueueError::Unsupported(_))),
        "{listed:?}"
    );
    assert_eq!(
        pb.idle_in_transaction().await,
        0,
        "a refusal ends its transaction"
    );
    let guard = ActGuard {
        state: JobState::Failed,
        failed_not_after: None,
    };
    let job = JobId::parse(&id).unwrap();
    let retried = conn.retry(&charge, std::slice::from_ref(&job), guard).await;
    assert!(
        matches!(retried, Err(QueueError::Unsupported(_))),
        "{retried:?}"
    );
    assert_eq!(pb.state(&id).await.as_deref(), Some("failed"), "untouched");

    // The other known version is not this schema's layout either way: an older one is refused.
    pb.execute("UPDATE {s}.version SET version = 23").await;
    let poll = conn.poll(false).await;
    assert!(
        matches!(&poll, Err(QueueError::Unsupported(why)) if why.contains("version 23")),
        "{poll:?}"
    );
    let mut keys = pb.keys();
    keys.schema = format!("{}_missing", pb.schema);
    let context = SourceContext {
        source: SourceName::parse("pb").unwrap(),
        tenant_path: None,
        read_timeout: Duration::from_secs(5),
    };
    let missing = keys.connect(context).await.unwrap().poll(false).await;
    assert!(
        matches!(missing, Err(QueueError::Unsupported(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn pgboss12_an_unknown_schema_version_is_refused_and_nothing_is_touched() {
    an_unknown_version_is_refused(Version::V12).await;
}

#[tokio::test]
async fn pgboss10_an_unknown_schema_version_is_refused_and_nothing_is_touched() {
    an_unknown_version_is_refused(Version::V10).await;
}

async fn a_retried_job_runs_exactly_once(version: Version) {
    let Some(pb) = install(version).await else {
        return;
    };
    let ids = pb
        .send(json!([
            {"name": "charge", "data": {"n": 1}},
            {"name": "charge", "data": {"n": 2}},
        ]))
        .await;
    let (one, two) = (ids[0].clone(), ids[1].clone());
    pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    let app = app_for(&pb, |_| {}).await;
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = Reason::parse("the PSP is back, ticket 7").unwrap();
    let ops = app.state.ops();
    let retry = |id: String| {
        let (state, act) = (&app.state, ops.act(&caller, &reason));
        async move { queues::retry_job(state, act, "pb", "charge", &id).await }
    };

    assert_eq!(retry(one.clone()).await.unwrap().result, "done");
    assert_eq!(pb.state(&one).await.as_deref(), Some("retry"));
    let again = retry(one.clone()).await.unwrap_err();
    assert_eq!((again.status().as_u16(), again.code()), (409, "not_failed"));
    // The connector itself, asked again with a stale view, moves nothing.
    let conn = connector(&pb).await;
    let guard = ActGuard {
        state: JobState::Failed,
        failed_not_after: None,
    };
    let report = conn
        .retry(&name("charge"), &[JobId::parse(&one).unwrap()], guard)
        .await
        .unwrap();
    assert!(report.done.is_empty(), "{report:?}");
    assert_eq!(report.skipped[0].1.as_str(), "moved");
    let (a, b) = tokio::join!(retry(two.clone()), retry(two.clone()));
    let results: Vec<&str> = [a, b]
        .iter()
        .map(|r| match r {
            Ok(outcome) => outcome.result,
            Err(err) => err.code(),
        })
        .collect();
    assert_eq!(
        results.iter().filter(|r| **r == "done").count(),
        1,
        "{results:?}"
    );
    let due = format!(
        "SELECT count(*) FROM {{s}}.job WHERE id IN ('{one}', '{two}') AND state = 'retry' \
         AND retry_limit = 1 AND completed_on IS NULL AND start_after <= now()"
    );
    assert_eq!(pb.count(&due).await, 2, "due now with one more attempt");

    pb.work_once(&["charge"], Outcome::Succeed).await;
    assert_eq!(pb.runs(&one).await, (1, 1), "failed once, then ran once");
    assert_eq!(pb.runs(&two).await, (1, 1));
    assert_eq!(pb.state(&one).await.as_deref(), Some("completed"));
    let view = pb.inspect("charge", std::slice::from_ref(&one)).await;
    assert_eq!(view["jobs"][0]["state"], "completed");
    let done = retry(one.clone()).await.unwrap_err();
    assert_eq!(done.code(), "not_failed");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn pgboss12_a_retried_job_runs_exactly_once() {
    a_retried_job_runs_exactly_once(Version::V12).await;
}

#[tokio::test]
async fn pgboss10_a_retried_job_runs_exactly_once() {
    a_retried_job_runs_exactly_once(Version::V10).await;
}

async fn a_bulk_retry_while_workers_are_busy_loses_nothing(version: Version) {
    let Some(pb) = install(version).await else {
        return;
    };
    let jobs: Vec<Value> = (0..40)
        .map(|n| json!({"name": "charge", "data": {"n": n}}))
        .collect();
    let failed = pb.send(Value::Array(jobs)).await;
    pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    let app = app_for(&pb, |_| {}).await;
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = Reason::parse("retry the declined charges").unwrap();
    let ops = app.state.ops();

    let worker = pb.spawn_worker(&["charge", "email"], 5).await;
    let producer = async {
        let mut added = Vec::new();
        for n in 0..10 {
            added.push(pb.send_one("email", json!({"n": n}), json!({})).await);
        }
        added
    };
    let bulk = async {
        let BulkAnswer::DryRun(dry) = queues::run_bulk(
            &app.state,
            ops.act(&caller, &reason),
            "pb",
            "charge",
            BulkAction::Retry,
            &bulk_request(None, None),
        )
        .await
        .unwrap() else {
            panic!("a dry run answers its count")
        };
        assert_eq!(dry.count, 40);
        queues::run_bulk(
            &app.state,
            ops.act(&caller, &reason),
            "pb",
            "charge",
            BulkAction::Retry,
            &bulk_request(Some(dry.selection), Some(40)),
        )
        .await
        .unwrap()
    };
    let (emails, outcome) = tokio::join!(producer, bulk);
    let BulkAnswer::Done(outcome) = outcome else {
        panic!("the real run answers what it did")
    };
    assert_eq!(outcome.count, 40, "{outcome:?}");
    assert!(outcome.skipped.is_empty(), "{outcome:?}");
    wait_for_async(Duration::from_secs(60), "the workers to finish", || async {
        let left = pb
            .count("SELECT count(*) FROM {s}.job WHERE name IN ('charge', 'email') AND state < 'completed'")
            .await;
        (left == 0).then_some(())
    })
    .await;
    worker.stop().await;
    for id in &failed {
        assert_eq!(pb.runs(id).await, (1, 1), "charge {id}");
    }
    for id in &emails {
        assert_eq!(pb.runs(id).await, (1, 0), "email {id}");
    }
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn pgboss12_a_bulk_retry_while_workers_are_busy_loses_nothing() {
    a_bulk_retry_while_workers_are_busy_loses_nothing(Version::V12).await;
}

#[tokio::test]
async fn pgboss10_a_bulk_retry_while_workers_are_busy_loses_nothing() {
    a_bulk_retry_while_workers_are_busy_loses_nothing(Version::V10).await;
}

async fn a_bulk_retry_leaves_alone_what_failed_after_its_dry_run(version: Version) {
    let Some(pb) = install(version).await else {
        return;
    };
    let pinned = pb
        .send(json!([
            {"name": "charge", "data": {"n": 0}},
            {"name": "charge", "data": {"n": 1}},
            {"name": "charge", "data": {"n": 2}},
        ]))
        .await;
    pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    let app = app_for(&pb, |_| {}).await;
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = Reason::parse("retry the declined charges").unwrap();
    let ops = app.state.ops();
    let bulk = |request: BulkRequest| {
        let (state, ops, caller, reason) = (&app.state, &ops, &caller, &reason);
        async move {
            queues::run_bulk(
                state,
                ops.act(caller, reason),
                "pb",
                "charge",
                BulkAction::Retry,
                &request,
            )
            .await
        }
    };
    let BulkAnswer::DryRun(dry) = bulk(bulk_request(None, None)).await.unwrap() else {
        panic!("a dry run answers its count")
    };
    assert_eq!(dry.count, 3);

    // After the dry run: the first pinned job is retried and fails again, and another job
    // fails for the first time.
    let again = queues::retry_job(
        &app.state,
        ops.act(&caller, &reason),
        "pb",
        "charge",
        &pinned[0],
    )
    .await
    .unwrap();
    assert_eq!(again.result, "done");
    let late = pb.send_one("charge", json!({"n": 9}), json!({})).await;
    pb.work_once(&["charge"], Outcome::Fail("declined again"))
        .await;
    assert_eq!(pb.runs(&pinned[0]).await, (0, 2));

    let mismatch = bulk(bulk_request(Some(dry.selection.clone()), Some(2)))
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), "selection_mismatch");
    let BulkAnswer::Done(outcome) = bulk(bulk_request(Some(dry.selection.clone()), Some(3)))
        .await
        .unwrap()
    else {
        panic!("the real run answers what it did")
    };
    assert_eq!(outcome.count, 2, "{outcome:?}");
    assert_eq!(outcome.skipped.get("newer"), Some(&1), "{outcome:?}");
    assert!(outcome.longest_step_ms > 0.0);
    assert_eq!(pb.state(&pinned[0]).await.as_deref(), Some("failed"));
    assert_eq!(pb.state(&late).await.as_deref(), Some("failed"));
    assert_eq!(pb.state(&pinned[1]).await.as_deref(), Some("retry"));
    assert_eq!(pb.state(&pinned[2]).await.as_deref(), Some("retry"));
    let used = bulk(bulk_request(Some(dry.selection), Some(3)))
        .await
        .unwrap_err();
    assert_eq!(used.code(), "selection_mismatch", "a selection works once");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn pgboss12_a_bulk_retry_leaves_alone_what_failed_after_its_dry_run() {
    a_bulk_retry_leaves_alone_what_failed_after_its_dry_run(Version::V12).await;
}

#[tokio::test]
async fn pgboss10_a_bulk_retry_leaves_alone_what_failed_after_its_dry_run() {
    a_bulk_retry_leaves_alone_what_failed_after_its_dry_run(Version::V10).await;
}

async fn viewers_and_read_only_sources_are_refused(version: Version) {
    let Some(pb) = install(version).await else {
        return;
    };
    let id = pb.send_one("charge", json!({"n": 1}), json!({})).await;
    let retrying = pb.send_one("email", json!({"n": 2}), json!({})).await;
    pb.work_once(&["charge", "email"], Outcome::Fail("declined"))
        .await;
    let read_only = SourceConfig {
        read_only: true,
        ..source(&pb, "pb-ro")
    };
    let app = app_for(&pb, |config| config.queues.sources.push(read_only)).await;
    let ops = app.state.ops();
    let reason = Reason::parse("checking the guards").unwrap();

    let viewer = principal(Role::Viewer);
    let viewer = Caller::new(&viewer, None, None);
    let refused = queues::retry_job(&app.state, ops.act(&viewer, &reason), "pb", "charge", &id)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 403);
    let refused = queues::discard_job(&app.state, ops.act(&viewer, &reason), "pb", "charge", &id)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 403);
    let refused = queues::run_bulk(
        &app.state,
        ops.act(&viewer, &reason),
        "pb",
        "charge",
        BulkAction::Retry,
        &bulk_request(None, None),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status(), 403);

    let operator = principal(Role::Operator);
    let operator = Caller::new(&operator, None, None);
    let refused = queues::retry_job(
        &app.state,
        ops.act(&operator, &reason),
        "pb-ro",
        "charge",
        &id,
    )
    .await
    .unwrap_err();
    assert_eq!(
        (refused.status().as_u16(), refused.code()),
        (409, "read_only")
    );
    let refused = queues::set_paused(
        &app.state,
        ops.act(&operator, &reason),
        "pb",
        "charge",
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), "not_possible");
    assert_eq!(pb.state(&id).await.as_deref(), Some("failed"), "untouched");

    // Discarding a failed job deletes it (pg-boss's deleteJob); a retrying one is cancelled.
    let discarded =
        queues::discard_job(&app.state, ops.act(&operator, &reason), "pb", "charge", &id)
            .await
            .unwrap();
    assert_eq!(discarded.result, "done");
    assert_eq!(pb.state(&id).await, None);
    let discarded = queues::discard_job(
        &app.state,
        ops.act(&operator, &reason),
        "pb",
        "email",
        &retrying,
    )
    .await
    .unwrap();
    assert_eq!(discarded.result, "done");
    assert_eq!(pb.state(&retrying).await.as_deref(), Some("cancelled"));
    // A cancelled job is dead, and a retry resumes it (pg-boss's resume()).
    let conn = connector(&pb).await;
    let dead = conn
        .list_jobs(&name("email"), &query(JobState::Dead, 10))
        .await
        .unwrap();
    assert_eq!(ids_of(&dead), std::slice::from_ref(&retrying));
    let resumed = queues::retry_job(
        &app.state,
        ops.act(&operator, &reason),
        "pb",
        "email",
        &retrying,
    )
    .await
    .unwrap();
    assert_eq!(resumed.result, "done");
    assert_eq!(pb.state(&retrying).await.as_deref(), Some("created"));
    // As pg-boss's resume(): a start still ahead (its back-off) is kept.
    let kept = format!(
        "SELECT count(*) FROM {{s}}.job WHERE id = '{retrying}' AND start_after > now() \
         AND completed_on IS NULL"
    );
    assert_eq!(pb.count(&kept).await, 1);
    pb.work_once(&["charge", "email"], Outcome::Succeed).await;
    assert_eq!(pb.runs(&id).await, (0, 1), "discarded, never run again");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn pgboss12_viewers_and_read_only_sources_are_refused_and_discard_deletes() {
    viewers_and_read_only_sources_are_refused(Version::V12).await;
}

#[tokio::test]
async fn pgboss10_viewers_and_read_only_sources_are_refused_and_discard_deletes() {
    viewers_and_read_only_sources_are_refused(Version::V10).await;
}

#[tokio::test]
async fn pgboss_an_unreachable_database_makes_the_source_stale_and_the_view_answers() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let keys = opsdeck_connectors::queues::pgboss::PgBoss {
        url: opsdeck_core::secret::Secret::new(format!(
            "postgres://app:hunter2@127.0.0.1:{port}/app"
        )),
        schema: "pgboss".into(),
        queues: None,
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.read_timeout = Duration::from_secs(1);
        config.queues.sources = vec![SourceConfig {
            poll_interval: Some(Duration::from_secs(1)),
            ..SourceConfig::system("pb", keys)
        }];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let source = wait_for_async(
        Duration::from_secs(15),
        "the source to show stale",
        || async {
            let overview: Value = client
                .get(app.url("/ops/queues"))
                .bearer_auth(&viewer)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let source = overview["sources"][0].clone();
            (source["status"] == "stale" && source["error"].is_string()).then_some(source)
        },
    )
    .await;
    let error = source["error"].as_str().unwrap();
    assert!(error.contains("does not answer"), "{source}");
    assert!(!source.to_string().contains("hunter2"), "{source}");
    let jobs = client
        .get(app.url("/ops/queues/pb/charge/jobs?state=failed"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.status(), 503);
    let body = jobs.text().await.unwrap();
    assert!(
        body.contains("source_unavailable") && !body.contains("hunter2"),
        "{body}"
    );
    app.shutdown().await.expect("clean shutdown");
}
