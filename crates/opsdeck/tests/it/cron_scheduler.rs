//! The HTTP scheduler (SPEC §4, issue 5 item 6) against real endpoints, on both backends:
//! `[[cron.jobs]]` fire at their slots and record successes and failures (with the status
//! and the start of the answer, never a secret of the request); paused jobs stay quiet;
//! operators trigger a job now. `replicas` proves exactly-once firing across two real
//! processes on one PostgreSQL; `shutdown` that calls in flight at shutdown still record
//! how their runs ended.

mod failover;
mod receiver;
mod replicas;
mod shutdown;

use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_core::ids::Slug;
use opsdeck_server::config::{Config, CronConfig, Env};
use reqwest::Method;
use serde_json::{Value, json};

use self::receiver::Endpoints;
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

on_both_backends!(
    scheduled_jobs_fire_and_record_runs_without_secrets,
    operators_trigger_a_job_now,
);

/// Sent in a header (through an `env:` reference) and in the query of the job URLs: it
/// must reach the endpoint and never the runs, their logs or the API.
const TOKEN: &str = "header-secret-4f1c9a";
const QUERY_SECRET: &str = "query-secret-7d2e0b";

/// `[cron]` parsed the way the server loads it, `env:` references included.
fn cron_config(toml: &str) -> CronConfig {
    let env = Env::from([("TICK_TOKEN", TOKEN)]);
    Config::from_toml_str(toml, "jobs.toml", &env)
        .expect("valid cron configuration")
        .cron
}

fn job(slug: &str, url: &str, extra: &str) -> String {
    format!(
        "[[cron.jobs]]\nslug = \"{slug}\"\nurl = \"{url}\"\n\
         headers = {{ X-Token = \"env:TICK_TOKEN\" }}\n{extra}\n"
    )
}

async fn send(
    app: &TestApp,
    method: Method,
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

/// The runs of `slug` once `enough` holds for them (within 20 s).
async fn runs_when(
    app: &TestApp,
    token: &str,
    slug: &str,
    what: &str,
    enough: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let path = format!("/ops/cron/{slug}/runs?limit=200");
    wait_for_async(Duration::from_secs(20), what, || async {
        let (status, page) = send(app, Method::GET, &path, token, None).await;
        assert_eq!(status, 200, "{page}");
        let runs = page["runs"].as_array()?.clone();
        enough(&runs).then_some(runs)
    })
    .await
}

fn finished(runs: &[Value], status: &str) -> Vec<Value> {
    runs.iter()
        .filter(|r| r["status"] == status && r["source"] == "scheduler")
        .cloned()
        .collect()
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [TOKEN, QUERY_SECRET] {
        assert!(!text.contains(secret), "{what} leaks {secret}: {text}");
    }
}

async fn scheduled_jobs_fire_and_record_runs_without_secrets(db: TestDb) {
    let endpoints = Endpoints::start().await;
    let query = format!("?shard={QUERY_SECRET}");
    let toml = [
        job(
            "tick-ok",
            &endpoints.url(&format!("/ok{query}")),
            "interval = \"1s\"",
        ),
        job(
            "tick-fail",
            &endpoints.url(&format!("/fail{query}")),
            "interval = \"1s\"\nmethod = \"put\"",
        ),
        job(
            "tick-expect",
            &endpoints.url("/expect"),
            "interval = \"1s\"\nexpect_status = 204",
        ),
        job(
            "tick-hang",
            &endpoints.url("/hang"),
            "interval = \"1s\"\ntimeout = \"1s\"",
        ),
        job(
            "tick-paused",
            &endpoints.url("/paused"),
            "interval = \"1s\"\npaused = true",
        ),
    ]
    .concat();
    let cron = cron_config(&toml);
    let app = TestApp::spawn_with(db, |c| c.cron = cron).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;

    // Successes, every second, by the scheduler, with the request as configured.
    let runs = runs_when(&app, &viewer, "tick-ok", "three successful runs", |runs| {
        finished(runs, "success").len() >= 3
    })
    .await;
    assert!(runs.iter().all(|r| r["source"] == "scheduler"), "{runs:?}");
    let ok = endpoints.hits("/ok");
    assert!(ok.len() >= 3, "{ok:?}");
    for hit in &ok {
        assert_eq!(hit.method, Method::POST, "POST by default");
        assert_eq!(hit.header("x-token"), Some(TOKEN), "env: header resolved");
        assert_eq!(hit.query.as_deref(), Some(&query[1..]), "query sent");
    }
    // Each run is expected at the slot its call was fired for, the very first included
    // (the monitor had never heard from the job, so only the scheduler knows the slot).
    let time = |text: &str| chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    let answered = finished(&runs, "success");
    let first = runs.last().expect("runs, newest first");
    assert_eq!(
        first["status"], "success",
        "the first run is among those answered"
    );
    for run in &answered {
        let hit = ok
            .iter()
            .find(|hit| hit.header("x-opsdeck-run-id") == run["run_id"].as_str())
            .unwrap_or_else(|| panic!("no call for run {run}"));
        let slot = hit
            .header("x-opsdeck-scheduled-for")
            .expect("a scheduled call");
        let expected = run["expected_at"].as_str();
        assert_eq!(
            expected.map(time),
            Some(time(slot)),
            "run {run} (first: {first})"
        );
    }

    // An unexpected status: failed, with the status and the start of the answer.
    let runs = runs_when(&app, &viewer, "tick-fail", "a failed run", |runs| {
        !finished(runs, "failed").is_empty()
    })
    .await;
    let error = finished(&runs, "failed")[0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error
            .starts_with("HTTP 500 Internal Server Error (expected 2xx): boom: the queue is stuck"),
        "{error}"
    );
    assert_eq!(endpoints.hits("/fail")[0].method, Method::PUT);
    let runs = runs_when(&app, &viewer, "tick-expect", "a failed run", |runs| {
        !finished(runs, "failed").is_empty()
    })
    .await;
    let error = finished(&runs, "failed")[0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(error, "HTTP 200 OK (expected 204): done");

    // No answer within the timeout: failed, saying so.
    let runs = runs_when(&app, &viewer, "tick-hang", "a timed-out call", |runs| {
        !finished(runs, "failed").is_empty()
    })
    .await;
    let error = finished(&runs, "failed")[0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(error, "no answer within 1s");

    // The endpoint echoed the token and the query: neither reached the runs, their logs
    // or the API.
    for path in [
        "/ops/cron",
        "/ops/cron/tick-fail",
        "/ops/cron/tick-fail/runs",
        "/ops/cron/tick-ok/runs",
    ] {
        let (status, body) = send(&app, Method::GET, path, &viewer, None).await;
        assert_eq!(status, 200);
        assert_no_secret(path, &body.to_string());
    }
    let store = app.state.store();
    let slug = Slug::parse("tick-fail").unwrap();
    for run in finished(
        &runs_when(&app, &viewer, "tick-fail", "runs", |_| true).await,
        "failed",
    ) {
        let id = run["run_id"].as_str().unwrap().parse().unwrap();
        let log = store
            .get_run_log(&slug, id)
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(log.contains("boom"), "the log keeps the answer: {log}");
        assert_no_secret("the run log", &log);
    }

    // Several slots have passed: the paused job was never called nor recorded.
    assert!(endpoints.hits("/paused").is_empty(), "a paused job fired");
    let (_, paused) = send(
        &app,
        Method::GET,
        "/ops/cron/tick-paused/runs",
        &viewer,
        None,
    )
    .await;
    assert_eq!(paused["runs"], json!([]), "{paused}");
    app.shutdown().await.expect("clean shutdown");
}

async fn operators_trigger_a_job_now(db: TestDb) {
    let endpoints = Endpoints::start().await;
    // Yearly: the schedule never fires during the test, only the trigger does.
    let toml = [
        job(
            "yearly",
            &endpoints.url("/yearly"),
            "schedule = \"0 0 1 1 *\"",
        ),
        "[[cron.monitors]]\nslug = \"pinged\"\ninterval = \"1h\"\n".to_owned(),
    ]
    .concat();
    let cron = cron_config(&toml);
    let app = TestApp::spawn_with(db, |c| c.cron = cron).await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let reason = Some(json!({"reason": "run the report now"}));

    let (status, body) = send(
        &app,
        Method::POST,
        "/ops/cron/yearly/trigger",
        &operator,
        reason.clone(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["slug"], "yearly");
    let run_id = body["run_id"].as_str().expect("a run id").to_owned();
    let runs = runs_when(
        &app,
        &viewer,
        "yearly",
        "the triggered run to succeed",
        |runs| {
            runs.iter()
                .any(|r| r["run_id"] == run_id.as_str() && r["status"] == "success")
        },
    )
    .await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["source"], "scheduler");
    assert_eq!(endpoints.hits("/yearly").len(), 1);

    for (token, path, body, expected) in [
        (&viewer, "/ops/cron/yearly/trigger", reason.clone(), 403),
        (&operator, "/ops/cron/nope/trigger", reason.clone(), 404),
        (&operator, "/ops/cron/yearly/trigger", Some(json!({})), 400),
    ] {
        let (status, answer) = send(&app, Method::POST, path, token, body).await;
        assert_eq!(status, expected, "{path}: {answer}");
    }
    let (status, answer) = send(
        &app,
        Method::POST,
        "/ops/cron/pinged/trigger",
        &operator,
        reason,
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("[[cron.jobs]]"), "{message}");
    assert_eq!(
        endpoints.hits("/yearly").len(),
        1,
        "refused triggers fire nothing"
    );

    let audited = app
        .state
        .store()
        .list_audit(&opsdeck_core::audit::AuditFilter::default())
        .await
        .unwrap();
    let triggered: Vec<_> = audited
        .iter()
        .filter(|e| e.record.action == "cron.monitor.triggered")
        .collect();
    assert_eq!(triggered.len(), 1, "audited once: {triggered:?}");
    assert_eq!(
        triggered[0].record.reason.as_deref(),
        Some("run the report now")
    );
    app.shutdown().await.expect("clean shutdown");
}
