//! A `push` source end to end, on both backends: the application posts snapshots with an
//! ingest key of scope `jobs`; `/ops/queues` shows them (stale once the posts stop);
//! reported failures are listed redacted; a retry calls the application's webhook with a
//! valid signature; a bulk retry acts only with the dry run's selection and count, once.

use std::time::Duration;

use opsdeck_core::auth::{AuthMethod, Principal, Role};
use opsdeck_core::queues::{BulkAction, verify_webhook_signature};
use opsdeck_core::secret::Secret;
use opsdeck_core::token::Scope;
use opsdeck_server::config::{PushKeys, SourceConfig, ThresholdConfig};
use opsdeck_server::ops::queues::{self, BulkAnswer, BulkRequest};
use opsdeck_server::ops::{Caller, Reason};
use serde_json::{Value, json};

use crate::alerts::Receiver;
use crate::pings::key;
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

on_both_backends!(
    snapshots_are_shown_redacted_and_retried_through_the_signed_webhook,
    snapshots_are_checked_field_by_field_and_only_ingest_keys_post_them,
    a_queue_over_its_thresholds_fails_its_health_check,
);

const SECRET: &str = "whsec-test-0123456789";

async fn app_with_push(db: TestDb, receiver: &Receiver) -> TestApp {
    let keys = PushKeys {
        retry_webhook: Some(Secret::new(receiver.url("app/retry"))),
        webhook_secret: Some(Secret::new(SECRET.to_owned())),
    };
    TestApp::spawn_with(db, |config| {
        config.queues.sources = vec![SourceConfig {
            poll_interval: Some(Duration::from_secs(1)),
            ..SourceConfig::push("billing", keys)
        }];
    })
    .await
}

fn snapshot(waiting: u64) -> Value {
    json!({
        "counts": {"waiting": waiting, "active": 2, "failed": 3},
        "oldest_waiting_seconds": 42.5,
        "failures_last_hour": 3,
        "failures": [
            {"id": "m-1", "name": "charge", "tenant_id": "acme",
             "error": "Traceback (most recent call last):\n  File \"charge.py\", line 3\nCardError: card 4242 4242 4242 4242 declined for jane@example.com",
             "at": "2026-12-07T03:00:00Z", "attempts": 3, "max_attempts": 3},
            {"id": "m-2", "name": "refund", "tenant_id": "globex",
             "error": "timeout calling https://user:hunter2@psp.example/refund", "attempts": 1},
            {"id": "m-3", "name": "charge", "tenant_id": "acme", "error": "card declined"},
        ],
    })
}

async fn post(app: &TestApp, key: &str, queue: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/queues/{queue}/snapshot")))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn snapshots_are_shown_redacted_and_retried_through_the_signed_webhook(db: TestDb) {
    let receiver = Receiver::start().await;
    let app = app_with_push(db, &receiver).await;
    let ingest = key(&app, "billing-worker", &[Scope::Jobs]).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let response = post(&app, &ingest, "payments", &snapshot(12)).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());

    let get = |path: String| {
        let request = app.client.get(app.url(&path)).bearer_auth(&viewer);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let overview = get("/ops/queues".into()).await;
    let source = &overview["sources"][0];
    assert_eq!(
        (source["name"].as_str(), source["status"].as_str()),
        (Some("billing"), Some("ok")),
        "{overview}"
    );
    let queue = &overview["queues"][0];
    assert_eq!(queue["queue"], "payments", "{overview}");
    assert_eq!(queue["counts"]["waiting"]["count"], 12, "{overview}");
    assert_eq!(queue["backlog"], 12);
    assert_eq!(queue["oldest_waiting_seconds"], 42.5);
    assert!(source["unavailable"]["discard"].is_string(), "{source}");

    let jobs = get("/ops/queues/billing/payments/jobs?state=failed".into()).await;
    let text = jobs.to_string();
    for secret in ["4242 4242", "jane@example.com", "hunter2"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 3, "{jobs}");
    assert!(
        jobs["jobs"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("CardError"),
        "the error's telling line: {jobs}"
    );
    let acme = get("/ops/queues/billing/payments/jobs?state=failed&tenant_id=acme".into()).await;
    assert_eq!(acme["jobs"].as_array().unwrap().len(), 2, "{acme}");
    let detail = get("/ops/queues/billing/payments/jobs/m-2".into()).await;
    assert_eq!(detail["summary"]["name"], "refund", "{detail}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"opsdeck_queue_jobs{source="billing",queue="payments",state="waiting"} 12"#
        ),
        "{metrics}"
    );

    // One job, through the use-case the API and the dashboard call.
    let (operator, _) = app.mint_role(Role::Operator).await;
    let principal = Principal {
        id: operator.to_string(),
        name: "operator".into(),
        role: Role::Operator,
        method: AuthMethod::Token,
    };
    let caller = Caller::new(&principal, None, None);
    let reason = Reason::parse("customer asked, ticket 42").unwrap();
    let ops = app.state.ops();
    let done = queues::retry_job(
        &app.state,
        ops.act(&caller, &reason),
        "billing",
        "payments",
        "m-1",
    )
    .await
    .unwrap();
    assert_eq!(done.result, "done");
    let calls = receiver.requests("app");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body["job_id"], "m-1");
    let signature = calls[0].header("x-opsdeck-signature").unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    assert!(verify_webhook_signature(
        SECRET.as_bytes(),
        &signature,
        &calls[0].raw,
        now,
        300
    ));

    // Bulk: the dry run pins m-1 and m-3 (tenant acme); a wrong count takes nothing.
    let dry = BulkRequest {
        dry_run: true,
        reason: "retry acme's declined charges".into(),
        filter: Some(serde_json::from_value(json!({"tenant_id": "acme"})).unwrap()),
        selection: None,
        expected_count: None,
    };
    let BulkAnswer::DryRun(dry) = queues::run_bulk(
        &app.state,
        ops.act(&caller, &reason),
        "billing",
        "payments",
        BulkAction::Retry,
        &dry,
    )
    .await
    .unwrap() else {
        panic!("a dry run answers its count")
    };
    assert_eq!(dry.count, 2);
    let real = |expected: u64| BulkRequest {
        dry_run: false,
        reason: "retry acme's declined charges".into(),
        filter: None,
        selection: Some(dry.selection.clone()),
        expected_count: Some(expected),
    };
    let act = || ops.act(&caller, &reason);
    let mismatch = queues::run_bulk(
        &app.state,
        act(),
        "billing",
        "payments",
        BulkAction::Retry,
        &real(3),
    )
    .await
    .unwrap_err();
    assert_eq!(mismatch.code(), "selection_mismatch");
    let BulkAnswer::Done(outcome) = queues::run_bulk(
        &app.state,
        act(),
        "billing",
        "payments",
        BulkAction::Retry,
        &real(2),
    )
    .await
    .unwrap() else {
        panic!("the real run answers what it did")
    };
    assert_eq!(outcome.count, 2, "{outcome:?}");
    assert_eq!(receiver.requests("app").len(), 3);
    let again = queues::run_bulk(
        &app.state,
        act(),
        "billing",
        "payments",
        BulkAction::Retry,
        &real(2),
    )
    .await
    .unwrap_err();
    assert_eq!(
        again.code(),
        "selection_mismatch",
        "a selection is used once"
    );
    assert_eq!(receiver.requests("app").len(), 3);

    // The application stops posting: within three intervals the source shows stale.
    wait_for_async(
        Duration::from_secs(15),
        "the source to turn stale",
        || async {
            let overview = get("/ops/queues".into()).await;
            (overview["sources"][0]["status"] == "stale").then_some(())
        },
    )
    .await;
    let overview = get("/ops/queues".into()).await;
    assert_eq!(overview["queues"][0]["backlog"], 12, "last numbers kept");
    assert_eq!(overview["queues"][0]["stale"], true);
    app.shutdown().await.expect("clean shutdown");
}

async fn snapshots_are_checked_field_by_field_and_only_ingest_keys_post_them(db: TestDb) {
    let receiver = Receiver::start().await;
    let app = app_with_push(db, &receiver).await;
    let ingest = key(&app, "billing-worker", &[Scope::Jobs]).await;
    let checkins = key(&app, "cron-only", &[Scope::Checkins]).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    for (who, status) in [
        (&checkins, 403),
        (&admin, 403),
        (&"opsdeck_key_bogus".to_owned(), 401),
    ] {
        assert_eq!(
            post(&app, who, "payments", &snapshot(1)).await.status(),
            status
        );
    }
    for (body, field) in [
        (json!({"counts": {"lost": 1}}), "counts.lost"),
        (
            json!({"counts": {}, "oldest_waiting_seconds": -1}),
            "oldest_waiting_seconds",
        ),
        (
            json!({"counts": {}, "failures": [{"id": "has space"}]}),
            "failures[0].id",
        ),
        (
            json!({"counts": {}, "failures": [{"id": "x", "tenant_id": "no spaces"}]}),
            "failures[0].tenant_id",
        ),
        (json!({"counts": {}, "source": "elsewhere"}), "source"),
        (json!({"counts": {}, "extra": 1}), "extra"),
    ] {
        let response = post(&app, &ingest, "payments", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"].as_str().unwrap().contains(field),
            "{field}: {error}"
        );
    }
    let (sources, queues) = app.state.store().queue_view().await.unwrap();
    assert!(
        sources.is_empty() && queues.is_empty(),
        "nothing stored from bad input"
    );
    app.shutdown().await.expect("clean shutdown");
}

async fn a_queue_over_its_thresholds_fails_its_health_check(db: TestDb) {
    let app = TestApp::spawn_with(db, |config| {
        config.health.flap_threshold = 1;
        config.queues.sources = vec![SourceConfig {
            poll_interval: Some(Duration::from_secs(1)),
            ..SourceConfig::push("billing", PushKeys::default())
        }];
        config.queues.thresholds = vec![ThresholdConfig {
            name: None,
            source: "billing".into(),
            queue: "payments".into(),
            max_waiting: Some(100),
            max_oldest_age: Some(Duration::from_secs(60)),
            max_failures_per_hour: None,
            critical: false,
        }];
    })
    .await;
    let ingest = key(&app, "billing-worker", &[Scope::Jobs]).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let check = |status: &'static str| {
        let app = &app;
        let viewer = viewer.clone();
        async move {
            let doc: Value = app
                .client
                .get(app.url("/ops/health"))
                .bearer_auth(&viewer)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let entry = doc["checks"]["queue-billing-payments:waitingJobs"][0].clone();
            (entry["status"] == status).then_some(entry)
        }
    };
    let body = json!({"counts": {"waiting": 5}, "oldest_waiting_seconds": 3});
    assert_eq!(post(&app, &ingest, "payments", &body).await.status(), 202);
    let passing = wait_for_async(Duration::from_secs(15), "the check to pass", || {
        check("pass")
    })
    .await;
    assert_eq!(passing["kind"], "queue", "{passing}");
    assert_eq!(passing["observedValue"], 5.0, "{passing}");
    let body = json!({"counts": {"waiting": 250}, "oldest_waiting_seconds": 600});
    assert_eq!(post(&app, &ingest, "payments", &body).await.status(), 202);
    let failing = wait_for_async(Duration::from_secs(15), "the check to fail", || {
        check("fail")
    })
    .await;
    let output = failing["output"].as_str().unwrap_or_default();
    assert!(
        output.contains("250 jobs waiting (at most 100)") && output.contains("10m"),
        "{failing}"
    );
    // Non-critical: the service warns, it does not fail.
    let doc: Value = app
        .client
        .get(app.url("/ops/health"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["status"], "warn", "{doc}");
    app.shutdown().await.expect("clean shutdown");
}
