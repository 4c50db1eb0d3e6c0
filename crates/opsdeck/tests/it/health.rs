//! `/ops/health` and check history over real HTTP, on both backends: the health+json
//! document, aggregation and status codes, flap damping, "run now", history figures,
//! metrics, scrubbed output, and that a hung dependency never slows the endpoint.

use std::time::Duration;

use opsdeck_connectors::health::ProbeType;
use opsdeck_connectors::health::http::Http;
use opsdeck_connectors::health::postgres::Postgres;
use opsdeck_connectors::health::tcp::Tcp;
use opsdeck_core::auth::Role;
use opsdeck_core::ids::CheckName;
use opsdeck_core::secret::Secret;
use opsdeck_server::config::{CheckConfig, Config};
use opsdeck_server::health::CheckView;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::{wait_for, wait_for_async};

on_both_backends!(
    document_follows_the_health_json_draft,
    a_failing_critical_check_fails_the_service_and_a_non_critical_one_warns,
    a_flip_needs_consecutive_results_and_is_recorded_once,
    run_now_is_for_operators_with_a_reason,
    check_detail_gives_changes_samples_uptime_and_percentiles,
    each_flip_is_announced_once_and_retried_after_a_failure,
);

/// A `[[health.checks]]` entry of `probe`, probed every second with a one-second timeout.
pub fn check(name: &str, probe: impl ProbeType) -> CheckConfig {
    CheckConfig {
        interval: Some(Duration::from_secs(1)),
        timeout: Some(Duration::from_secs(1)),
        ..CheckConfig::new(name, probe)
    }
}

/// A TCP check of `address`.
pub fn tcp_check(name: &str, address: String) -> CheckConfig {
    check(name, Tcp { address })
}

/// A listener that accepts connections (and drops them) until the returned task is aborted.
async fn live_port() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    (address, task)
}

/// An address nothing listens on.
async fn dead_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").to_string()
}

fn fast(config: &mut Config) {
    config.health.own_database_interval = Duration::from_secs(1);
    config.health.flap_threshold = 1;
}

async fn health(app: &TestApp, token: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/ops/health"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/health+json"
    );
    (status, response.json().await.expect("json"))
}

/// Waits until every check in the document has a result.
async fn settled(app: &TestApp, token: &str) -> (u16, Value) {
    wait_for_async(Duration::from_secs(20), "every check to report", || async {
        let (status, doc) = health(app, token).await;
        let all = doc["checks"]
            .as_object()?
            .values()
            .all(|entries| entries[0]["time"].is_string());
        all.then_some((status, doc))
    })
    .await
}

async fn document_follows_the_health_json_draft(db: TestDb) {
    let (address, _live) = live_port().await;
    let app = TestApp::spawn_with(db, |config| {
        fast(config);
        config.health.checks = vec![tcp_check("queue-broker", address)];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (status, doc) = settled(&app, &viewer).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["status"], "pass", "{doc}");
    for key in ["version", "releaseId", "serviceId", "description"] {
        assert!(doc[key].is_string(), "{key} missing: {doc}");
    }
    let checks = doc["checks"].as_object().expect("checks object");
    assert_eq!(checks.len(), 2, "{doc}");
    let own = &checks["opsdeck-database:responseTime"][0];
    assert_eq!(own["componentType"], "datastore");
    let broker = &checks["queue-broker:responseTime"][0];
    assert_eq!(broker["componentId"], "queue-broker");
    assert_eq!(broker["componentType"], "component");
    assert_eq!(broker["status"], "pass");
    assert_eq!(broker["observedUnit"], "ms");
    assert!(broker["observedValue"].as_f64().is_some_and(|v| v >= 0.0));
    assert!(
        broker.get("output").is_none(),
        "no output on pass: {broker}"
    );
    assert!(broker["since"].is_string(), "{broker}");
    assert!(broker["time"].is_string(), "{broker}");
    // Uptime is recomputed in the background; it appears within a refresh.
    wait_for_async(Duration::from_secs(15), "24 h uptime", || async {
        let (_, doc) = health(&app, &viewer).await;
        (doc["checks"]["queue-broker:responseTime"][0]["uptime24h"].as_f64() == Some(100.0))
            .then_some(())
    })
    .await;

    // Nobody gets nothing; an ingest key gets nothing either.
    let anonymous = app.get("/ops/health").await;
    assert_eq!(anonymous.status(), 401);

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"opsdeck_health_check_status{check="queue-broker",status="pass"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("opsdeck_health_check_duration_seconds_bucket{check=\"queue-broker\"")
    );
    assert!(metrics.contains(r#"opsdeck_health_check_up{check="opsdeck-database"} 1"#));
    app.shutdown().await.expect("clean shutdown");
}

async fn a_failing_critical_check_fails_the_service_and_a_non_critical_one_warns(db: TestDb) {
    let optional_dead = dead_port().await;
    let critical_dead = dead_port().await;
    let app = TestApp::spawn_with(db, |config| {
        fast(config);
        config.health.checks = vec![CheckConfig {
            critical: Some(false),
            ..tcp_check("optional", optional_dead)
        }];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (status, doc) = settled(&app, &viewer).await;
    assert_eq!(
        (status, doc["status"].as_str()),
        (200, Some("warn")),
        "{doc}"
    );
    let optional = &doc["checks"]["optional:responseTime"][0];
    assert_eq!(optional["status"], "fail");
    assert!(
        optional["output"]
            .as_str()
            .is_some_and(|o| o.contains("could not connect")),
        "{optional}"
    );
    app.shutdown().await.expect("clean shutdown");

    let db = TestDb::sqlite();
    let app = TestApp::spawn_with(db, |config| {
        fast(config);
        // The password must not come back in any output.
        config.health.checks = vec![
            tcp_check("critical", critical_dead),
            check(
                "app-db",
                Postgres {
                    url: Secret::new(
                        "postgres://app:hunter2-very-secret@127.0.0.1:1/app".to_owned(),
                    ),
                },
            ),
        ];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (status, doc) = settled(&app, &viewer).await;
    assert_eq!(
        (status, doc["status"].as_str()),
        (503, Some("fail")),
        "{doc}"
    );
    assert_eq!(doc["error"]["code"], "unhealthy", "{doc}");
    let text = doc.to_string();
    assert!(!text.contains("hunter2"), "password leaked: {text}");
    app.shutdown().await.expect("clean shutdown");
}

async fn a_flip_needs_consecutive_results_and_is_recorded_once(db: TestDb) {
    let (address, live) = live_port().await;
    // The background probes the check once, on taking the lead; the test runs it from then
    // on, one result at a time, so each step sees exactly the results it made.
    let app = TestApp::spawn_with(db, |config| {
        fast(config);
        config.health.flap_threshold = 2;
        config.health.checks = vec![CheckConfig {
            interval: Some(Duration::from_secs(3600)),
            ..tcp_check("cache", address.clone())
        }];
    })
    .await;
    let name = CheckName::parse("cache").unwrap();
    let monitor = app.state.health().clone();
    wait_for_async(Duration::from_secs(10), "a first pass", || async {
        monitor
            .view(&name)
            .and_then(|v| v.status)
            .filter(|s| s.is_up())
    })
    .await;
    // Stop the dependency: the port now refuses connections.
    live.abort();
    let _ = live.await;
    let failing_streak = |view: &CheckView| {
        view.recent
            .iter()
            .rev()
            .take_while(|r| !r.status.is_up())
            .count()
    };
    // The first failing result alone does not flip the reported status.
    let first = monitor.run_now(&name).await.expect("the check");
    assert_eq!(failing_streak(&first), 1, "{first:?}");
    assert!(first.latest_status.is_some_and(|s| !s.is_up()), "{first:?}");
    assert!(
        first.status.is_some_and(|s| s.is_up()),
        "flipped after one result: {first:?}"
    );
    // The failure held back is shown coming, with its output, in the API and on the tile.
    let failure = first.output.clone().expect("the failing result's output");
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (status, doc) = health(&app, &viewer).await;
    let entry = &doc["checks"]["cache:responseTime"][0];
    assert_eq!(
        (status, entry["status"].as_str()),
        (200, Some("pass")),
        "{doc}"
    );
    let held = format!("1 of 2 failing results before this check turns fail: {failure}");
    assert_eq!(entry["output"].as_str(), Some(held.as_str()), "{doc}");
    let overview = app
        .client
        .get(app.url("/"))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("overview")
        .text()
        .await
        .expect("page");
    let tile = &overview[overview.find("data-check=\"cache\"").expect("the tile")..];
    let tile = &tile[..tile.find("</li>").expect("the tile's end")];
    assert!(
        tile.contains("1 of 2 failing results before this check turns fail:"),
        "{tile}"
    );
    // The second does, and the output is the failure's own.
    let second = monitor.run_now(&name).await.expect("the check");
    assert_eq!(failing_streak(&second), 2, "{second:?}");
    assert!(second.status.is_some_and(|s| !s.is_up()), "{second:?}");
    let (_, doc) = health(&app, &viewer).await;
    let entry = &doc["checks"]["cache:responseTime"][0];
    assert_eq!(entry["output"], second.output.clone().unwrap(), "{doc}");
    // More failures keep it failing without further changes.
    for _ in 0..2 {
        let more = monitor.run_now(&name).await.expect("the check");
        assert!(more.status.is_some_and(|s| !s.is_up()), "{more:?}");
    }
    let stores = app.state.store().clone();
    let now = chrono::Utc::now();
    let changes = stores
        .status_changes(
            &name,
            now - chrono::Duration::hours(1),
            now + chrono::Duration::minutes(1),
        )
        .await
        .expect("changes");
    let tos: Vec<_> = changes.iter().map(|c| c.to.as_str()).collect();
    assert_eq!(tos, ["pass", "fail"], "{changes:?}");
    app.shutdown().await.expect("clean shutdown");
}

async fn run_now_is_for_operators_with_a_reason(db: TestDb) {
    let (address, _live) = live_port().await;
    let app = TestApp::spawn_with(db, |config| {
        config.health.checks = vec![CheckConfig {
            interval: Some(Duration::from_secs(3600)),
            ..tcp_check("search", address)
        }];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let run = |token: String, body: Value| {
        let request = app
            .client
            .post(app.url("/ops/health/checks/search/run"))
            .bearer_auth(token)
            .json(&body);
        async move { request.send().await.expect("request") }
    };
    let refused = run(viewer.clone(), serde_json::json!({"reason": "curious"})).await;
    assert_eq!(refused.status(), 403);
    let no_reason = run(operator.clone(), serde_json::json!({})).await;
    assert_eq!(no_reason.status(), 400);
    // The document as answered before the run (the answer a reader gets is kept while
    // nothing changes) ...
    let (_, earlier) = health(&app, &viewer).await;
    let unknown = app
        .client
        .post(app.url("/ops/health/checks/nope/run"))
        .bearer_auth(&operator)
        .json(&serde_json::json!({"reason": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), 404);
    let before = app
        .state
        .health()
        .view(&CheckName::parse("search").unwrap())
        .unwrap();
    let ran = run(
        operator.clone(),
        serde_json::json!({"reason": "verifying after failover"}),
    )
    .await;
    assert_eq!(ran.status(), 200);
    let view: Value = ran.json().await.expect("json");
    assert_eq!(view["status"], "pass", "{view}");
    assert_ne!(
        view["checked_at"].as_str(),
        before.checked_at.map(|t| t.to_rfc3339()).as_deref()
    );
    // ... is not answered again once a result has come in, even within the same second.
    let (_, after) = health(&app, &viewer).await;
    let time = |doc: &Value| doc["checks"]["search:responseTime"][0]["time"].clone();
    assert_ne!(time(&after), time(&earlier), "{after}");
    assert_eq!(
        time(&after)
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        view["checked_at"].as_str().map(|t| t.parse().unwrap()),
        "{after}"
    );
    // The action is on the audit log with its reason.
    wait_for_async(Duration::from_secs(10), "the audit entry", || async {
        let entries = app
            .state
            .store()
            .list_audit(&opsdeck_core::audit::AuditFilter {
                action: Some("health.check.run".to_owned()),
                ..Default::default()
            })
            .await
            .ok()?;
        entries
            .iter()
            .find(|e| e.record.reason.as_deref() == Some("verifying after failover"))
            .map(|_| ())
    })
    .await;
    app.shutdown().await.expect("clean shutdown");
}

async fn check_detail_gives_changes_samples_uptime_and_percentiles(db: TestDb) {
    let (address, _live) = live_port().await;
    let app = TestApp::spawn_with(db, |config| {
        fast(config);
        config.health.checks = vec![tcp_check("mail", address)];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let detail = wait_for_async(Duration::from_secs(15), "two samples", || async {
        let response = app
            .client
            .get(app.url("/ops/health/checks/mail"))
            .bearer_auth(&viewer)
            .send()
            .await
            .ok()?;
        assert_eq!(response.status(), 200);
        let detail: Value = response.json().await.ok()?;
        (detail["samples"].as_array()?.len() >= 2).then_some(detail)
    })
    .await;
    assert_eq!(detail["check"]["name"], "mail");
    assert_eq!(detail["changes"][0]["to"], "pass", "{detail}");
    let windows = detail["windows"].as_array().expect("windows");
    assert_eq!(windows[0]["label"], "24h");
    assert_eq!(windows[1]["label"], "7d");
    assert_eq!(windows[0]["uptime"], 1.0, "{detail}");
    assert!(windows[0]["p50_ms"].as_f64().is_some());
    assert!(windows[1]["p95_ms"].as_f64().is_some());
    let missing = app
        .client
        .get(app.url("/ops/health/checks/no-such-check"))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    app.shutdown().await.expect("clean shutdown");
}

/// A dependency that accepts connections and never answers holds its probe until the
/// timeout; `/ops/health` meanwhile answers from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_dependency_does_not_slow_the_health_endpoint() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let _hang = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        fast(config);
        config.health.checks = vec![CheckConfig {
            timeout: Some(Duration::from_secs(60)),
            ..check(
                "hung-api",
                Http::get(Secret::new(format!("http://{address}/health"))),
            )
        }];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let name = CheckName::parse("opsdeck-database").unwrap();
    wait_for_async(
        Duration::from_secs(10),
        "the own database result",
        || async { app.state.health().view(&name).and_then(|v| v.status) },
    )
    .await;
    // The probe of hung-api is in flight for a minute; the endpoint answers regardless.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for _ in 0..5 {
        let response = client
            .get(app.url("/ops/health"))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("/ops/health must answer while a probe hangs");
        let doc: Value = response.json().await.expect("json");
        assert_eq!(
            doc["checks"]["hung-api:responseTime"][0]["output"], "no result yet",
            "{doc}"
        );
    }
    app.shutdown().await.expect("clean shutdown");
}

/// Two replicas on one PostgreSQL: only the leader probes; the other serves the results it
/// reads from the store, and takes over the probing when the leader stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_serves_the_leaders_results() {
    let Some(db) = TestDb::postgres() else { return };
    let url = db.url.clone();
    let (address, _live) = live_port().await;
    let tweak = |config: &mut Config| {
        fast(config);
        config.background.leader_lease = Duration::from_secs(3);
        config.health.checks = vec![tcp_check("broker", address.clone())];
    };
    let first = TestApp::spawn_replica(&url, tweak).await;
    wait_for_async(
        Duration::from_secs(10),
        "the first replica to lead",
        || async { first.state.is_leader().then_some(()) },
    )
    .await;
    let second = TestApp::spawn_replica(&url, tweak).await;
    let (_, viewer) = second.mint_role(Role::Viewer).await;
    let name = CheckName::parse("broker").unwrap();
    let (_, doc) = settled(&second, &viewer).await;
    assert!(!second.state.is_leader());
    assert_eq!(
        doc["checks"]["broker:responseTime"][0]["status"], "pass",
        "{doc}"
    );
    // The follower ran no probe itself: its results are the leader's.
    let leader_view = first.state.health().view(&name).expect("view");
    let follower_metrics = second.metrics().await;
    assert!(
        !follower_metrics.contains("opsdeck_health_check_duration_seconds_count{check=\"broker\"}"),
        "the follower probed: {follower_metrics}"
    );
    assert!(leader_view.checked_at.is_some());
    // The leader stops; the follower takes over and probes on its own.
    first.shutdown().await.expect("clean shutdown");
    wait_for_async(Duration::from_secs(20), "the follower to probe", || async {
        let metrics = second.metrics().await;
        metrics
            .contains("opsdeck_health_check_duration_seconds_count{check=\"broker\"}")
            .then_some(())
    })
    .await;
    second.shutdown().await.expect("clean shutdown");
    drop(db);
}

/// A check flips to fail and back: each flip reaches the webhook exactly once, and the first
/// delivery succeeds on its retry after the receiver answered 500.
async fn each_flip_is_announced_once_and_retried_after_a_failure(db: TestDb) {
    use crate::alerts::{Receiver, webhook};
    use opsdeck_server::config::WebhookFormat;

    let receiver = Receiver::start().await;
    receiver.script("ops", [500]);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let accept = |listener: TcpListener| {
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        })
    };
    let live = accept(listener);
    let hook = webhook(&receiver, "ops", WebhookFormat::Json);
    let app = TestApp::spawn_with(db, |config| {
        fast(config);
        config.alerts.initial_backoff = Duration::from_millis(100);
        config.alerts.webhooks = vec![hook];
        config.health.checks = vec![tcp_check("payments", address.to_string())];
    })
    .await;
    let name = CheckName::parse("payments").unwrap();
    let monitor = app.state.health().clone();
    let reported = |want_up: bool| {
        let monitor = monitor.clone();
        let name = name.clone();
        async move {
            wait_for_async(Duration::from_secs(15), "the reported status", || async {
                monitor
                    .view(&name)
                    .and_then(|v| v.status)
                    .filter(|s| s.is_up() == want_up)
            })
            .await
        }
    };
    reported(true).await;
    live.abort();
    let _ = live.await;
    reported(false).await;
    // Delivered on the second attempt: one 500, then one 200.
    let requests = wait_for_async(Duration::from_secs(15), "the retried delivery", || async {
        let requests = receiver.requests("ops");
        (requests.len() == 2).then_some(requests)
    })
    .await;
    assert_eq!(
        requests[0].body["event"]["id"], requests[1].body["event"]["id"],
        "one event, retried"
    );
    assert_eq!(requests[1].body["event"]["subject"], "payments");
    assert_eq!(
        requests[1].body["event"]["kind"], "down",
        "{}",
        requests[1].body
    );

    // The dependency comes back on the same port: one recovery notice.
    let listener = TcpListener::bind(address).await.expect("rebind");
    let _back = accept(listener);
    reported(true).await;
    let requests = wait_for_async(Duration::from_secs(15), "the recovery notice", || async {
        let requests = receiver.requests("ops");
        (requests.len() == 3).then_some(requests)
    })
    .await;
    assert_eq!(
        requests[2].body["event"]["kind"], "recovered",
        "{}",
        requests[2].body
    );
    // Results keep coming; no further notification does.
    let seen = monitor.view(&name).map(|v| v.recent.len()).unwrap_or(0);
    wait_for(Duration::from_secs(15), "two more results", || {
        (monitor.view(&name).map(|v| v.recent.len()).unwrap_or(0) >= seen + 2
            || monitor
                .view(&name)
                .is_some_and(|v| v.recent.len() == RECENT))
        .then_some(())
    })
    .await;
    assert_eq!(
        receiver.requests("ops").len(),
        3,
        "exactly one notification per flip"
    );
    app.shutdown().await.expect("clean shutdown");
}

const RECENT: usize = opsdeck_server::health::RECENT_RESULTS;
