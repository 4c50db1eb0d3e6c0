//! `/ops/cron` over real HTTP, on both backends: creating, reading, changing and deleting
//! monitors with the right roles and clear 400s, and the evaluator turning a silent job
//! into a missed run, a down monitor and one alert, and hung runs into timed-out ones that
//! no longer count as running.

use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_core::cron::{Ping, PingKind, RunSource, StateWrite, apply_ping};
use opsdeck_core::ids::Slug;
use opsdeck_server::config::WebhookFormat;
use serde_json::{Value, json};

use crate::alerts::{Receiver, webhook};
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

on_both_backends!(
    monitors_are_managed_through_the_api_with_roles_and_reasons,
    a_silent_job_is_missed_goes_down_and_alerts_once,
    hung_runs_that_time_out_are_no_longer_counted_running,
);

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn monitors_are_managed_through_the_api_with_roles_and_reasons(db: TestDb) {
    use reqwest::Method;
    let app = TestApp::spawn(db).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let backup = json!({
        "slug": "nightly-backup", "name": "Nightly backup", "schedule": "30 2 * * *",
        "tz": "Europe/Berlin", "grace": "15m", "max_runtime": "2h", "tags": ["db"],
        "reason": "monitor the backup"
    });
    let (status, _) = send(
        &app,
        Method::POST,
        "/ops/cron",
        &operator,
        Some(backup.clone()),
    )
    .await;
    assert_eq!(status, 403, "operators do not manage monitors");
    let (status, created) = send(
        &app,
        Method::POST,
        "/ops/cron",
        &admin,
        Some(backup.clone()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "new");
    assert_eq!(created["tz"], "Europe/Berlin");
    assert_eq!(created["grace_seconds"], 900);
    assert_eq!(created["source"], "api");
    let (status, _) = send(&app, Method::POST, "/ops/cron", &admin, Some(backup)).await;
    assert_eq!(status, 409);

    // Bad input: a 400 naming the field, and nothing stored.
    for (body, field) in [
        (
            json!({"slug": "x", "schedule": "61 * * * *", "reason": "r"}),
            "schedule",
        ),
        (
            json!({"slug": "Bad", "interval": "1h", "reason": "r"}),
            "slug",
        ),
        (
            json!({"slug": "y", "interval": "1h", "schedule": "@daily", "reason": "r"}),
            "interval",
        ),
        (
            json!({"slug": "z", "interval": "1h", "gracee": "1m", "reason": "r"}),
            "gracee",
        ),
        (json!({"slug": "w", "interval": "1h"}), "reason"),
    ] {
        let (status, error) = send(&app, Method::POST, "/ops/cron", &admin, Some(body)).await;
        assert_eq!(status, 400, "{error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(field),
            "{field}: {error}"
        );
    }

    let (status, list) = send(&app, Method::GET, "/ops/cron", &viewer, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["monitors"].as_array().unwrap().len(), 1, "{list}");
    let (status, one) = send(&app, Method::GET, "/ops/cron/nightly-backup", &viewer, None).await;
    assert_eq!(
        (status, one["slug"].as_str()),
        (200, Some("nightly-backup"))
    );
    let (status, _) = send(&app, Method::GET, "/ops/cron/nope", &viewer, None).await;
    assert_eq!(status, 404);
    let (status, runs) = send(
        &app,
        Method::GET,
        "/ops/cron/nightly-backup/runs?limit=10",
        &viewer,
        None,
    )
    .await;
    assert_eq!(
        (status, runs["runs"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{runs}"
    );
    let (status, _) = send(
        &app,
        Method::GET,
        "/ops/cron/nightly-backup/runs?cursor=junk",
        &viewer,
        None,
    )
    .await;
    assert_eq!(status, 400);

    // Pause and resume: operators, with a reason; viewers may not.
    let reason = json!({"reason": "restoring the database"});
    let (status, _) = send(
        &app,
        Method::POST,
        "/ops/cron/nightly-backup/pause",
        &viewer,
        Some(reason.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, paused) = send(
        &app,
        Method::POST,
        "/ops/cron/nightly-backup/pause",
        &operator,
        Some(reason.clone()),
    )
    .await;
    assert_eq!(
        (status, paused["status"].as_str()),
        (200, Some("paused")),
        "{paused}"
    );
    let (_, list) = send(&app, Method::GET, "/ops/cron?status=paused", &viewer, None).await;
    assert_eq!(list["monitors"].as_array().unwrap().len(), 1);
    let (status, _) = send(&app, Method::GET, "/ops/cron?status=sleepy", &viewer, None).await;
    assert_eq!(status, 400);
    let (status, resumed) = send(
        &app,
        Method::POST,
        "/ops/cron/nightly-backup/resume",
        &operator,
        Some(reason.clone()),
    )
    .await;
    assert_eq!((status, resumed["paused"].as_bool()), (200, Some(false)));

    // Update keeps the slug; delete removes it.
    let (status, updated) = send(
        &app,
        Method::PATCH,
        "/ops/cron/nightly-backup",
        &admin,
        Some(json!({"slug": "nightly-backup", "interval": "1h", "reason": "hourly now"})),
    )
    .await;
    assert_eq!(
        (status, updated["interval_seconds"].as_u64()),
        (200, Some(3600)),
        "{updated}"
    );
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/ops/cron/nightly-backup",
        &admin,
        Some(json!({"slug": "renamed", "interval": "1h", "reason": "r"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/ops/cron/nightly-backup",
        &admin,
        Some(json!({"reason": "gone"})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(&app, Method::GET, "/ops/cron/nightly-backup", &viewer, None).await;
    assert_eq!(status, 404);

    // Every change is on the audit log with its reason.
    let audited = app
        .state
        .store()
        .list_audit(&opsdeck_core::audit::AuditFilter::default())
        .await
        .unwrap();
    for action in [
        "cron.monitor.created",
        "cron.monitor.paused",
        "cron.monitor.resumed",
        "cron.monitor.updated",
        "cron.monitor.deleted",
    ] {
        assert!(
            audited.iter().any(|e| e.record.action == action),
            "{action} not audited"
        );
    }
    app.shutdown().await.expect("clean shutdown");
}

async fn a_silent_job_is_missed_goes_down_and_alerts_once(db: TestDb) {
    let receiver = Receiver::start().await;
    let hook = webhook(&receiver, "ops", WebhookFormat::Json);
    let app = TestApp::spawn_with(db, |config| {
        config.alerts.webhooks = vec![hook];
        config.alerts.initial_backoff = Duration::from_millis(50);
        config.cron.monitors = vec![opsdeck_server::config::MonitorDefinition {
            grace: Some(Duration::from_secs(1)),
            interval: Some(Duration::from_secs(1)),
            ..serde_json::from_value(json!({"slug": "heartbeat"})).unwrap()
        }];
    })
    .await;
    let store = app.state.store().clone();
    let slug = Slug::parse("heartbeat").unwrap();
    // The job reports once (a monitor never heard from expects nothing), then goes silent.
    // The evaluator may write the monitor meanwhile (it is due at once): like the ingest
    // writer, reload and apply again on a version conflict.
    loop {
        let record = store
            .get_monitor(&slug)
            .await
            .unwrap()
            .expect("synced from config");
        assert_eq!(record.source.as_str(), "config");
        let now = chrono::Utc::now();
        let mut state = record.state.clone();
        let ping = Ping::new(PingKind::Success, RunSource::Ping);
        let outcome = apply_ping(&record.spec, &mut state, &ping, now);
        let write = StateWrite {
            slug: slug.clone(),
            version: record.version,
            next_check_at: state.next_check_at(&record.spec, now),
            state,
            outcome,
            now,
        };
        match store.apply_outcome(&write).await {
            Ok(_) => break,
            Err(opsdeck_core::StoreError::Conflict(_)) => continue,
            Err(err) => panic!("{err}"),
        }
    }
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let down = wait_for_async(
        Duration::from_secs(20),
        "the monitor to go down",
        || async {
            let (_, view) = send(
                &app,
                reqwest::Method::GET,
                "/ops/cron/heartbeat",
                &viewer,
                None,
            )
            .await;
            (view["status"] == "down").then_some(view)
        },
    )
    .await;
    assert_eq!(down["last_run"]["status"], "missed", "{down}");
    assert!(down["failure_streak"].as_u64().unwrap() >= 1);
    let requests = wait_for_async(Duration::from_secs(15), "the down alert", || async {
        let requests = receiver.requests("ops");
        (!requests.is_empty()).then_some(requests)
    })
    .await;
    let event = &requests[0].body["event"];
    assert_eq!(
        (event["source"].as_str(), event["kind"].as_str()),
        (Some("cron"), Some("down")),
        "{event}"
    );
    assert_eq!(event["subject"], "heartbeat");
    // Misses keep coming as one collapsed run, and no second alert.
    let (_, runs) = wait_for_async(Duration::from_secs(15), "more missed slots", || async {
        let (status, runs) = send(
            &app,
            reqwest::Method::GET,
            "/ops/cron/heartbeat/runs",
            &viewer,
            None,
        )
        .await;
        let missed = runs["runs"]
            .as_array()?
            .iter()
            .find(|r| r["status"] == "missed")?
            .clone();
        (missed["missed_slots"].as_u64()? >= 3).then_some((status, runs))
    })
    .await;
    let missed_rows = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "missed")
        .count();
    assert_eq!(missed_rows, 1, "collapsed into one row: {runs}");
    assert_eq!(
        receiver.requests("ops").len(),
        1,
        "one alert for going down"
    );
    app.shutdown().await.expect("clean shutdown");
}

async fn hung_runs_that_time_out_are_no_longer_counted_running(db: TestDb) {
    let pinger = crate::pings::Pinger::spawn_with(db, |config| {
        crate::pings::roomy(config);
        config.cron.monitors = vec![opsdeck_server::config::MonitorDefinition {
            interval: Some(Duration::from_secs(3600)),
            max_runtime: Some(Duration::from_secs(1)),
            ..serde_json::from_value(json!({"slug": "hung-export"})).unwrap()
        }];
    })
    .await;
    let app = &pinger.app;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    // Three runs start and never finish.
    for _ in 0..3 {
        pinger.ok("hung-export/start").await;
    }
    let get = |path: &'static str| {
        let viewer = viewer.clone();
        async move { send(app, reqwest::Method::GET, path, &viewer, None).await.1 }
    };
    let (_, started) = send(
        app,
        reqwest::Method::GET,
        "/ops/cron/hung-export",
        &viewer,
        None,
    )
    .await;
    // The evaluator may already have timed some out: at most three run.
    assert!(started["running"].as_u64().unwrap() <= 3, "{started}");
    wait_for_async(Duration::from_secs(30), "three timed-out runs", || async {
        let runs = get("/ops/cron/hung-export/runs?limit=10").await;
        let runs = runs["runs"].as_array()?.clone();
        (runs.len() == 3 && runs.iter().all(|r| r["status"] == "timed_out")).then_some(())
    })
    .await;
    let view = get("/ops/cron/hung-export").await;
    assert_eq!(view["running"], 0, "{view}");
    assert_eq!(view["status"], "down", "{view}");
    assert_eq!(view["failure_streak"], 3, "{view}");
    let listed = get("/ops/cron").await;
    assert_eq!(listed["monitors"][0]["running"], 0, "{listed}");
    pinger.app.shutdown().await.expect("clean shutdown");
}
