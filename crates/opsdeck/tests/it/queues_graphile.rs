//! A `graphile-worker` source against real graphile-worker 0.18.0: its own migrations install
//! it in a schema of the test's own, its `add_job` adds jobs and its Node worker fails and
//! runs them. The connector's counts and lists match what its jobs table holds, with the
//! counts that have no index taken only on slow polls; an unknown migration is refused;
//! retries make `reschedule_jobs`'s move and run exactly once, also while workers are busy
//! and when several actions retry the same jobs at once; a bulk action leaves alone what
//! failed after its dry run; viewers, read-only sources, wrong counts and expired
//! selections are refused; errors and payloads come out redacted; and an unreachable
//! database makes the source stale without slowing the view.

mod fixture;

use std::time::Duration;

use chrono::Utc;
use opsdeck_connectors::queues::{
    ActGuard, JobQuery, QueueConnector, QueueError, QueueType, Skip, SourceContext,
};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::{JobId, QueueName, SourceName, TenantId};
use opsdeck_core::queues::{BulkAction, JobState, TenantPath};
use opsdeck_server::config::{Config, SourceConfig};
use opsdeck_server::ops::queues::{self, BulkAnswer, BulkRequest};
use opsdeck_server::ops::{Caller, Reason};
use serde_json::{Value, json};

use self::fixture::{GraphileDb, Outcome};
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

async fn connector(gw: &GraphileDb) -> Box<dyn QueueConnector> {
    let context = SourceContext {
        source: SourceName::parse("gw").unwrap(),
        tenant_path: Some(TenantPath::parse("payload.tenantId").unwrap()),
        read_timeout: Duration::from_secs(5),
    };
    gw.keys().connect(context).await.expect("connect")
}

fn source(gw: &GraphileDb, name: &str) -> SourceConfig {
    SourceConfig {
        poll_interval: Some(Duration::from_secs(1)),
        tenant_path: Some("payload.tenantId".into()),
        ..SourceConfig::system(name, gw.keys())
    }
}

async fn app_for(gw: &GraphileDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let gw_source = source(gw, "gw");
    TestApp::spawn_with(TestDb::sqlite(), move |config| {
        config.queues.sources = vec![gw_source];
        tweak(config);
    })
    .await
}

/// Pushes jobs' next run an hour out with graphile-worker's own `reschedule_jobs`, so their
/// state cannot change while a test looks at them.
async fn hold_back(gw: &GraphileDb, ids: &[i64]) {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    gw.execute(&format!(
        "SELECT {{s}}.reschedule_jobs(ARRAY[{}]::bigint[], run_at => now() + interval '1 hour')",
        list.join(",")
    ))
    .await;
}

#[tokio::test]
async fn graphile_counts_and_lists_match_the_jobs_table() {
    let Some(gw) = GraphileDb::install().await else {
        return;
    };
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
        let payload = json!({"tenantId": tenant, "error": error, "card": "4242 4242 4242 4242"});
        charges.push(gw.add("charge", &payload, 1).await);
    }
    let retrying = [
        gw.add("email", &json!({"to": "bob@example.com"}), 3).await,
        gw.add("email", &json!({"tenantId": "acme"}), 3).await,
    ];
    gw.work_once(
        &["charge", "email"],
        Outcome::Fail("SMTP 550 for bob@example.com"),
    )
    .await;
    hold_back(&gw, &retrying).await;
    let waiting = [
        gw.add("email", &json!({"tenantId": "acme"}), 25).await,
        gw.add("email", &json!({"tenantId": "globex"}), 25).await,
    ];
    let scheduled = gw.add_later("email", &json!({})).await;

    // What graphile-worker's own `jobs` view says.
    let truth = |task: &str, condition: &str| {
        format!(
            "SELECT count(*) FROM {{s}}.jobs WHERE task_identifier = '{task}' AND ({condition})"
        )
    };
    let failed_cond = "locked_at IS NULL AND attempts >= max_attempts";
    let retrying_cond =
        "locked_at IS NULL AND attempts < max_attempts AND attempts > 0 AND last_error IS NOT NULL";
    let waiting_cond = "locked_at IS NULL AND attempts < max_attempts AND run_at <= now()";
    let scheduled_cond = "locked_at IS NULL AND attempts < max_attempts AND run_at > now()";
    assert_eq!(gw.count(&truth("charge", failed_cond)).await, 3);
    assert_eq!(gw.count(&truth("email", retrying_cond)).await, 2);

    let conn = connector(&gw).await;
    // A fast poll counts from the index only: nothing failed, retrying or active.
    let before = Utc::now();
    let fast = conn.poll(false).await.expect("fast poll");
    assert_eq!(
        fast.version.as_deref(),
        Some("graphile-worker migration 20")
    );
    let email = queue_of(&fast, "email");
    assert_eq!(
        email.count(JobState::Waiting),
        Some(gw.count(&truth("email", waiting_cond)).await as u64)
    );
    assert_eq!(email.count(JobState::Waiting), Some(2));
    assert_eq!(
        email.count(JobState::Scheduled),
        Some(gw.count(&truth("email", scheduled_cond)).await as u64)
    );
    assert_eq!(
        email.count(JobState::Scheduled),
        Some(3),
        "held-back retries and the later job"
    );
    assert!(email.oldest_waiting_seconds.is_some_and(|age| age >= 0.0));
    assert_eq!(email.paused, None, "graphile-worker has no pause");
    for stats in &fast.queues {
        for state in [JobState::Failed, JobState::Retrying, JobState::Active] {
            assert_eq!(
                stats.count(state),
                None,
                "{state} on a fast poll: {stats:?}"
            );
        }
        assert_eq!(stats.failures_last_hour, None);
    }
    assert_eq!(queue_of(&fast, "charge").oldest_waiting_seconds, None);
    // A slow poll scans, and says when.
    let slow = conn.poll(true).await.expect("slow poll");
    let after = Utc::now();
    let charge = queue_of(&slow, "charge");
    let email = queue_of(&slow, "email");
    assert_eq!(
        charge.count(JobState::Failed),
        Some(gw.count(&truth("charge", failed_cond)).await as u64)
    );
    assert_eq!(
        email.count(JobState::Retrying),
        Some(gw.count(&truth("email", retrying_cond)).await as u64)
    );
    assert_eq!(email.count(JobState::Active), Some(0));
    assert_eq!(charge.failures_last_hour, Some(3));
    assert_eq!(email.failures_last_hour, Some(2));
    let taken = charge.counts[&JobState::Failed].at;
    assert!(
        before <= taken && taken <= after,
        "{taken} not within the poll"
    );
    assert!(slow.cost.commands > fast.cost.commands);

    // Failed jobs, newest first, two at a time.
    let charge_q = QueueName::parse("charge").unwrap();
    let first = conn
        .list_jobs(&charge_q, &query(JobState::Failed, 2))
        .await
        .unwrap();
    assert_eq!(
        ids_of(&first),
        [charges[2].to_string(), charges[1].to_string()]
    );
    let next = JobQuery {
        cursor: first.next.clone(),
        ..query(JobState::Failed, 2)
    };
    let second = conn.list_jobs(&charge_q, &next).await.unwrap();
    assert_eq!(ids_of(&second), [charges[0].to_string()]);
    assert_eq!(second.next, None);
    let all = format!("{first:?}{second:?}");
    assert_redacted(&all);
    let top = &first.jobs[0];
    assert_eq!(top.state, JobState::Failed);
    assert_eq!((top.attempts, top.max_attempts), (Some(1), Some(1)));
    assert_eq!(top.name.as_deref(), Some("charge"));
    assert_eq!(top.tenant_id.as_ref().map(TenantId::as_str), Some("acme"));
    assert!(
        top.error
            .as_deref()
            .is_some_and(|e| e.starts_with("timeout") && !e.contains("charge.js")),
        "the error's first line: {top:?}"
    );
    assert!(second.jobs[0].error.as_deref().unwrap().contains("[card]"));

    // Searches: by tenant, by text in the error.
    let mut acme = query(JobState::Failed, 50);
    acme.filter.tenant_id = Some(TenantId::parse("acme").unwrap());
    let page = conn.list_jobs(&charge_q, &acme).await.unwrap();
    assert_eq!(
        ids_of(&page),
        [charges[2].to_string(), charges[0].to_string()]
    );
    let mut declined = query(JobState::Failed, 50);
    declined.filter.q = Some("Declined".into());
    let page = conn.list_jobs(&charge_q, &declined).await.unwrap();
    assert_eq!(ids_of(&page), [charges[0].to_string()]);
    let ids = conn.select(&charge_q, &acme.filter, 10).await.unwrap();
    assert_eq!(ids.len(), 2);

    // Retrying, waiting (in the order workers take them) and scheduled jobs.
    let email_q = QueueName::parse("email").unwrap();
    let page = conn
        .list_jobs(&email_q, &query(JobState::Retrying, 50))
        .await
        .unwrap();
    assert_eq!(
        ids_of(&page),
        [retrying[1].to_string(), retrying[0].to_string()]
    );
    assert!(
        page.jobs[0].error.as_deref().unwrap().contains("[email]"),
        "{page:?}"
    );
    assert_redacted(&format!("{page:?}"));
    let page = conn
        .list_jobs(&email_q, &query(JobState::Waiting, 1))
        .await
        .unwrap();
    assert_eq!(ids_of(&page), [waiting[0].to_string()]);
    let next = JobQuery {
        cursor: page.next.clone(),
        ..query(JobState::Waiting, 1)
    };
    let page = conn.list_jobs(&email_q, &next).await.unwrap();
    assert_eq!(ids_of(&page), [waiting[1].to_string()]);
    let page = conn
        .list_jobs(&email_q, &query(JobState::Scheduled, 50))
        .await
        .unwrap();
    assert_eq!(page.jobs.len(), 3, "{page:?}");
    assert!(
        page.jobs
            .iter()
            .any(|j| j.id.as_str() == scheduled.to_string())
    );
    let dead = conn.list_jobs(&email_q, &query(JobState::Dead, 50)).await;
    assert!(matches!(dead, Err(QueueError::NotPossible(_))), "{dead:?}");

    // One job: its error redacted, its payload as shapes.
    let id = JobId::parse(&charges[0].to_string()).unwrap();
    let detail = conn
        .get_job(&charge_q, &id)
        .await
        .unwrap()
        .expect("the job");
    assert_redacted(&format!("{detail:?}"));
    assert_eq!(detail.summary.state, JobState::Failed);
    let payload = detail.payload.as_ref().expect("payload shape");
    assert!(
        payload
            .keys
            .contains(&("card".to_owned(), "string (19 chars)".to_owned())),
        "{payload:?}"
    );
    assert!(
        detail.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("[card]")
    );
    assert!(
        conn.get_job(&email_q, &id).await.unwrap().is_none(),
        "another queue's job"
    );

    // The same through the app's poller and the JSON routes.
    let app = app_for(&gw, |_| {}).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let get = |path: String| {
        let request = app.client.get(app.url(&path)).bearer_auth(&viewer);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let overview = wait_for_async(Duration::from_secs(15), "a poll of the source", || {
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
    assert_eq!(
        source["version"], "graphile-worker migration 20",
        "{overview}"
    );
    assert_eq!(
        source["unavailable"]["pause"],
        "graphile-worker has no pause"
    );
    assert!(source["unavailable"].get("retry").is_none(), "{source}");
    let charge = overview["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "charge")
        .unwrap();
    assert!(charge["counts"]["failed"]["as_of"].is_string(), "{charge}");
    let jobs = get("/ops/queues/gw/charge/jobs?state=failed".into()).await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 3, "{jobs}");
    assert_redacted(&jobs.to_string());
    let detail = get(format!("/ops/queues/gw/charge/jobs/{}", charges[1])).await;
    assert_eq!(detail["summary"]["tenant_id"], "globex", "{detail}");
    assert_redacted(&detail.to_string());
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn graphile_an_unknown_migration_is_refused_and_nothing_is_touched() {
    let Some(gw) = GraphileDb::install().await else {
        return;
    };
    let id = gw.add("charge", &json!({}), 1).await;
    gw.work_once(&["charge"], Outcome::Fail("declined")).await;
    let conn = connector(&gw).await;
    conn.poll(true).await.expect("a supported layout");

    // A refused call ends its transaction: nothing is left idle inside one.
    let nope = QueueName::parse("nope").unwrap();
    let unknown = conn.list_jobs(&nope, &query(JobState::Failed, 10)).await;
    assert!(
        matches!(unknown, Err(QueueError::NotFound(_))),
        "{unknown:?}"
    );
    let unknown = conn.get_job(&nope, &JobId::parse("1").unwrap()).await;
    assert!(
        matches!(unknown, Err(QueueError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(
        crate::support::db::idle_in_transaction(&gw.pool, &gw.schema).await,
        0
    );

    gw.execute("INSERT INTO {s}.migrations (id) VALUES (21)")
        .await;
    let poll = conn.poll(true).await;
    assert!(
        matches!(&poll, Err(QueueError::Unsupported(why)) if why.contains("migration 21")),
        "{poll:?}"
    );
    let charge = QueueName::parse("charge").unwrap();
    let listed = conn.list_jobs(&charge, &query(JobState::Failed, 10)).await;
    assert!(
        matches!(listed, Err(QueueError::Unsupported(_))),
        "{listed:?}"
    );
    let guard = ActGuard {
        state: JobState::Failed,
        failed_not_after: None,
    };
    let job = JobId::parse(&id.to_string()).unwrap();
    let retried = conn.retry(&charge, std::slice::from_ref(&job), guard).await;
    assert!(
        matches!(retried, Err(QueueError::Unsupported(_))),
        "{retried:?}"
    );
    let discarded = conn
        .discard(&charge, std::slice::from_ref(&job), guard)
        .await;
    assert!(
        matches!(discarded, Err(QueueError::Unsupported(_))),
        "{discarded:?}"
    );
    let untouched = format!("SELECT count(*) FROM {{s}}.jobs WHERE id = {id} AND attempts = 1");
    assert_eq!(gw.count(&untouched).await, 1);
    assert_eq!(
        crate::support::db::idle_in_transaction(&gw.pool, &gw.schema).await,
        0,
        "every refused call ended its transaction"
    );

    // An older layout, and a schema graphile-worker was never installed in.
    gw.execute("DELETE FROM {s}.migrations WHERE id >= 16")
        .await;
    let poll = conn.poll(false).await;
    assert!(
        matches!(&poll, Err(QueueError::Unsupported(why)) if why.contains("migration 15")),
        "{poll:?}"
    );
    let mut keys = gw.keys();
    keys.schema = format!("{}_missing", gw.schema);
    let context = SourceContext {
        source: SourceName::parse("gw").unwrap(),
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
async fn graphile_a_retried_job_runs_exactly_once() {
    let Some(gw) = GraphileDb::install().await else {
        return;
    };
    let one = gw.add("charge", &json!({"n": 1}), 1).await;
    let two = gw.add("charge", &json!({"n": 2}), 1).await;
    gw.work_once(&["charge"], Outcome::Fail("declined")).await;
    let app = app_for(&gw, |_| {}).await;
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = Reason::parse("the PSP is back, ticket 7").unwrap();
    let ops = app.state.ops();
    let retry = |id: i64| {
        let (state, act) = (&app.state, ops.act(&caller, &reason));
        async move { queues::retry_job(state, act, "gw", "charge", &id.to_string()).await }
    };

    // Retry twice: the second finds it waiting already.
    assert_eq!(retry(one).await.unwrap().result, "done");
    let again = retry(one).await.unwrap_err();
    assert_eq!((again.status().as_u16(), again.code()), (409, "not_failed"));
    // Two at once: one of them retries it, the other finds it moved or held.
    let (a, b) = tokio::join!(retry(two), retry(two));
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
    assert!(
        results
            .iter()
            .all(|r| ["done", "moved", "locked", "not_failed"].contains(r)),
        "{results:?}"
    );
    let reset = format!(
        "SELECT count(*) FROM {{s}}.jobs WHERE id IN ({one}, {two}) AND attempts = 0 \
         AND run_at <= now()"
    );
    assert_eq!(gw.count(&reset).await, 2, "due now with all attempts left");

    gw.work_once(&["charge"], Outcome::Succeed).await;
    assert_eq!(gw.runs(one).await, (1, 1), "failed once, then ran once");
    assert_eq!(gw.runs(two).await, (1, 1));
    assert_eq!(
        gw.count("SELECT count(*) FROM {s}.jobs").await,
        0,
        "completed"
    );
    let gone = retry(one).await.unwrap_err();
    assert_eq!(gone.status(), 404);
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn graphile_concurrent_retries_of_one_set_move_each_job_once() {
    let Some(gw) = GraphileDb::install().await else {
        return;
    };
    let mut failed = Vec::new();
    for n in 0..300 {
        failed.push(gw.add("charge", &json!({"n": n}), 1).await);
    }
    gw.work_once(&["charge"], Outcome::Fail("declined")).await;
    let connector = connector(&gw).await;
    let queue = QueueName::parse("charge").unwrap();
    let ids: Vec<JobId> = failed
        .iter()
        .map(|id| JobId::parse(&id.to_string()).unwrap())
        .collect();
    let guard = ActGuard {
        state: JobState::Failed,
        failed_not_after: Some(Utc::now()),
    };
    // Four actions on the same jobs at once, each in chunks of its own: every job is moved
    // by exactly one of them; the others find it moved (or held while it moves).
    let retry = || connector.retry(&queue, &ids, guard);
    let (a, b, c, d) = tokio::join!(retry(), retry(), retry(), retry());
    let reports = [a, b, c, d].map(|report| report.expect("retry"));
    let done: usize = reports.iter().map(|report| report.done.len()).sum();
    assert_eq!(done, failed.len(), "each job retried once");
    for report in &reports {
        assert_eq!(report.done.len() + report.skipped.len(), failed.len());
        for (id, skip) in &report.skipped {
            assert!(
                matches!(skip, Skip::Moved | Skip::Locked),
                "{id}: {}",
                skip.as_str()
            );
        }
    }
    let reset = "SELECT count(*) FROM {s}.jobs WHERE task_identifier = 'charge' \
         AND attempts = 0 AND run_at <= now() AND locked_at IS NULL";
    assert_eq!(gw.count(reset).await, 300, "due now with all attempts left");
    gw.work_once(&["charge"], Outcome::Succeed).await;
    for id in &failed {
        assert_eq!(
            gw.runs(*id).await,
            (1, 1),
            "charge {id}: failed once, ran once"
        );
    }
}

#[tokio::test]
async fn graphile_a_bulk_retry_while_workers_are_busy_loses_nothing() {
    let Some(gw) = GraphileDb::install().await else {
        return;
    };
    let mut failed = Vec::new();
    for n in 0..40 {
        failed.push(gw.add("charge", &json!({"n": n}), 1).await);
    }
    gw.work_once(&["charge"], Outcome::Fail("declined")).await;
    let app = app_for(&gw, |_| {}).await;
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = Reason::parse("retry the declined charges").unwrap();
    let ops = app.state.ops();

    let worker = gw.spawn_worker(&["charge", "email"], 4, 5).await;
    let producer = async {
        let mut added = Vec::new();
        for n in 0..40 {
            added.push(gw.add("email", &json!({"n": n}), 25).await);
            tokio::task::yield_now().await;
        }
        added
    };
    let bulk = async {
        let dry = BulkRequest {
            dry_run: true,
            reason: "retry the declined charges".into(),
            filter: None,
            selection: None,
            expected_count: None,
        };
        let BulkAnswer::DryRun(dry) = queues::run_bulk(
            &app.state,
            ops.act(&caller, &reason),
            "gw",
            "charge",
            BulkAction::Retry,
            &dry,
        )
        .await
        .unwrap() else {
            panic!("a dry run answers its count")
        };
        assert_eq!(dry.count, 40);
        let real = BulkRequest {
            dry_run: false,
            reason: "retry the declined charges".into(),
            filter: None,
            selection: Some(dry.selection),
            expected_count: Some(40),
        };
        queues::run_bulk(
            &app.state,
            ops.act(&caller, &reason),
            "gw",
            "charge",
            BulkAction::Retry,
            &real,
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
    wait_for_async(Duration::from_secs(30), "the workers to finish", || async {
        (gw.count("SELECT count(*) FROM {s}.jobs").await == 0).then_some(())
    })
    .await;
    worker.stop().await;
    for id in &failed {
        assert_eq!(gw.runs(*id).await, (1, 1), "charge {id}");
    }
    for id in &emails {
        assert_eq!(gw.runs(*id).await, (1, 0), "email {id}");
    }
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn graphile_a_bulk_retry_leaves_alone_what_failed_after_its_dry_run() {
    let Some(gw) = GraphileDb::install().await else {
        return;
    };
    let mut pinned = Vec::new();
    for n in 0..3 {
        pinned.push(gw.add("charge", &json!({"n": n}), 1).await);
    }
    gw.work_once(&["charge"], Outcome::Fail("declined")).await;
    let app = app_for(&gw, |_| {}).await;
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
                "gw",
                "charge",
                BulkAction::Retry,
                &request,
            )
            .await
        }
    };
    let dry = BulkRequest {
        dry_run: true,
        reason: "retry the declined charges".into(),
        filter: None,
        selection: None,
        expected_count: None,
    };
    let BulkAnswer::DryRun(dry) = bulk(dry).await.unwrap() else {
        panic!("a dry run answers its count")
    };
    assert_eq!(dry.count, 3);

    // After the dry run: the first pinned job is retried and fails again, and another job
    // fails for the first time.
    let again = queues::retry_job(
        &app.state,
        ops.act(&caller, &reason),
        "gw",
        "charge",
        &pinned[0].to_string(),
    )
    .await
    .unwrap();
    assert_eq!(again.result, "done");
    let late = gw.add("charge", &json!({"n": 9}), 1).await;
    gw.work_once(&["charge"], Outcome::Fail("declined again"))
        .await;
    assert_eq!(gw.runs(pinned[0]).await, (0, 2));

    let real = |expected: u64| BulkRequest {
        dry_run: false,
        reason: "retry the declined charges".into(),
        filter: None,
        selection: Some(dry.selection.clone()),
        expected_count: Some(expected),
    };
    let mismatch = bulk(real(2)).await.unwrap_err();
    assert_eq!(mismatch.code(), "selection_mismatch");
    let BulkAnswer::Done(outcome) = bulk(real(3)).await.unwrap() else {
        panic!("the real run answers what it did")
    };
    assert_eq!(outcome.count, 2, "{outcome:?}");
    assert_eq!(outcome.skipped.get("newer"), Some(&1), "{outcome:?}");
    assert!(outcome.longest_step_ms > 0.0);
    let still_failed = format!(
        "SELECT count(*) FROM {{s}}.jobs WHERE id IN ({}, {late}) AND attempts >= max_attempts",
        pinned[0]
    );
    assert_eq!(gw.count(&still_failed).await, 2, "neither was touched");
    let retried = format!(
        "SELECT count(*) FROM {{s}}.jobs WHERE id IN ({}, {}) AND attempts = 0",
        pinned[1], pinned[2]
    );
    assert_eq!(gw.count(&retried).await, 2);
    let used = bulk(real(3)).await.unwrap_err();
    assert_eq!(used.code(), "selection_mismatch", "a selection works once");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn graphile_viewers_read_only_sources_and_expired_selections_are_refused() {
    let Some(gw) = GraphileDb::install().await else {
        return;
    };
    let id = gw.add("charge", &json!({"n": 1}), 1).await;
    gw.work_once(&["charge"], Outcome::Fail("declined")).await;
    let read_only = SourceConfig {
        read_only: true,
        ..source(&gw, "gw-ro")
    };
    let app = app_for(&gw, |config| {
        config.queues.sources.push(read_only);
        config.queues.selection_ttl = Duration::from_millis(500);
    })
    .await;
    let ops = app.state.ops();
    let reason = Reason::parse("checking the guards").unwrap();
    let dry = || BulkRequest {
        dry_run: true,
        reason: "checking the guards".into(),
        filter: None,
        selection: None,
        expected_count: None,
    };

    let viewer = principal(Role::Viewer);
    let viewer = Caller::new(&viewer, None, None);
    let refused = queues::retry_job(
        &app.state,
        ops.act(&viewer, &reason),
        "gw",
        "charge",
        &id.to_string(),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status(), 403);
    let refused = queues::discard_job(
        &app.state,
        ops.act(&viewer, &reason),
        "gw",
        "charge",
        &id.to_string(),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status(), 403);
    let refused = queues::run_bulk(
        &app.state,
        ops.act(&viewer, &reason),
        "gw",
        "charge",
        BulkAction::Retry,
        &dry(),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status(), 403);

    let operator = principal(Role::Operator);
    let operator = Caller::new(&operator, None, None);
    let refused = queues::retry_job(
        &app.state,
        ops.act(&operator, &reason),
        "gw-ro",
        "charge",
        &id.to_string(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (refused.status().as_u16(), refused.code()),
        (409, "read_only")
    );
    let refused = queues::run_bulk(
        &app.state,
        ops.act(&operator, &reason),
        "gw-ro",
        "charge",
        BulkAction::Discard,
        &dry(),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), "read_only");
    let refused = queues::set_paused(
        &app.state,
        ops.act(&operator, &reason),
        "gw",
        "charge",
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), "not_possible");

    let BulkAnswer::DryRun(pinned) = queues::run_bulk(
        &app.state,
        ops.act(&operator, &reason),
        "gw",
        "charge",
        BulkAction::Retry,
        &dry(),
    )
    .await
    .unwrap() else {
        panic!("a dry run answers its count")
    };
    assert_eq!(pinned.count, 1);
    let expires_at = pinned.expires_at;
    crate::support::wait_for(Duration::from_secs(5), "the selection to expire", || {
        (Utc::now() > expires_at).then_some(())
    })
    .await;
    let real = BulkRequest {
        dry_run: false,
        reason: "checking the guards".into(),
        filter: None,
        selection: Some(pinned.selection),
        expected_count: Some(1),
    };
    let expired = queues::run_bulk(
        &app.state,
        ops.act(&operator, &reason),
        "gw",
        "charge",
        BulkAction::Retry,
        &real,
    )
    .await
    .unwrap_err();
    assert_eq!(expired.code(), "selection_mismatch");
    let untouched = format!("SELECT count(*) FROM {{s}}.jobs WHERE id = {id} AND attempts = 1");
    assert_eq!(gw.count(&untouched).await, 1, "nothing was retried");

    // Discarding a failed job removes it (graphile-worker's complete_jobs).
    let discarded = queues::discard_job(
        &app.state,
        ops.act(&operator, &reason),
        "gw",
        "charge",
        &id.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(discarded.result, "done");
    assert_eq!(
        gw.count(&format!("SELECT count(*) FROM {{s}}.jobs WHERE id = {id}"))
            .await,
        0
    );
    assert_eq!(gw.runs(id).await, (0, 1), "discarded, never run again");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn graphile_an_unreachable_database_makes_the_source_stale_and_the_view_answers() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let keys = opsdeck_connectors::queues::graphile::Graphile {
        url: opsdeck_core::secret::Secret::new(format!(
            "postgres://app:hunter2@127.0.0.1:{port}/app"
        )),
        schema: "graphile_worker".into(),
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.read_timeout = Duration::from_secs(1);
        config.queues.sources = vec![SourceConfig {
            poll_interval: Some(Duration::from_secs(1)),
            ..SourceConfig::system("gw", keys)
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
    // The view is served from memory while the database stays away.
    let response = client
        .get(app.url("/ops/queues"))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("the view answers while the source is down");
    assert_eq!(response.status(), 200);
    let jobs = client
        .get(app.url("/ops/queues/gw/charge/jobs?state=failed"))
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

#[tokio::test]
async fn graphile_a_queue_with_few_failed_jobs_among_many_is_paged_in_bounded_steps() {
    let Some(gw) = GraphileDb::install().await else {
        return;
    };
    let rare = gw.add("charge", &json!({}), 1).await;
    gw.work_once(&["charge"], Outcome::Fail("declined")).await;
    // More jobs of another task than a page reads, all newer than the failed one.
    gw.execute(
        "SELECT {s}.add_jobs(ARRAY(SELECT ROW('email', '{}'::json, NULL, NULL, NULL, NULL, \
         NULL, NULL)::{s}.job_spec FROM generate_series(1, 10001)))",
    )
    .await;
    let conn = connector(&gw).await;
    let charge = QueueName::parse("charge").unwrap();
    let first = conn
        .list_jobs(&charge, &query(JobState::Failed, 50))
        .await
        .unwrap();
    assert!(first.jobs.is_empty(), "{:?}", first.jobs);
    assert!(first.partial && first.next.is_some(), "{first:?}");
    assert_eq!(first.scanned, 10_000);
    let next = JobQuery {
        cursor: first.next.clone(),
        ..query(JobState::Failed, 50)
    };
    let second = conn.list_jobs(&charge, &next).await.unwrap();
    assert_eq!(ids_of(&second), [rare.to_string()]);
    assert!(!second.partial && second.next.is_none(), "{second:?}");
    // The dry run is not bounded: it finds every match.
    let filter = query(JobState::Failed, 50).filter;
    assert_eq!(conn.select(&charge, &filter, 10).await.unwrap().len(), 1);
}
