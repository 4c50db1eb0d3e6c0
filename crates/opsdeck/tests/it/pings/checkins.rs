//! Sentry-style JSON check-ins at `POST /api/v1/checkins`: a `monitor_config` upserts the
//! monitor, `check_in_id` pairs `in_progress` with its finish, `duration` times a finish
//! nobody saw start; refusals name the field, and only an ingest key with scope `checkins`
//! gets in.

use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_core::cron::{
    MonitorName, MonitorSettings, MonitorSource, MonitorSpec, RunSource, RunStatus, Schedule, Slug,
};
use opsdeck_core::token::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Pinger, key, refusal};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(
    a_checkin_with_monitor_config_creates_the_monitor_and_pairs_its_finish,
    an_error_checkin_carries_its_duration,
    a_changed_monitor_config_replaces_the_spec_and_an_unchanged_one_writes_nothing,
    checkins_refuse_bad_fields_and_callers_without_the_scope,
);

async fn checkin(p: &Pinger, bearer: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = p.app.client.post(p.app.url("/api/v1/checkins")).json(body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.send().await.expect("check-in")
}

/// Sends a check-in with the pinger's key; returns the status and the id answered.
async fn send(p: &Pinger, body: Value) -> (StatusCode, Uuid) {
    let response = checkin(p, Some(&p.key), &body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    let id = answer["id"].as_str().unwrap_or_else(|| panic!("{answer}"));
    (status, id.parse().unwrap())
}

fn hourly_config() -> Value {
    json!({
        "schedule": {"type": "crontab", "value": "0 * * * *"},
        "timezone": "Europe/Berlin",
        "checkin_margin": 10,
        "max_runtime": 30,
        "failure_issue_threshold": 2,
    })
}

async fn a_checkin_with_monitor_config_creates_the_monitor_and_pairs_its_finish(db: TestDb) {
    let p = Pinger::spawn(db).await;
    let id = Uuid::new_v4();
    let started = json!({"monitor_slug": "billing-sync", "status": "in_progress",
        "check_in_id": id, "monitor_config": hourly_config()});
    assert_eq!(send(&p, started).await, (StatusCode::CREATED, id));

    let record = p.record("billing-sync").await.unwrap();
    assert_eq!(record.source, MonitorSource::Checkin);
    let slug = Slug::parse("billing-sync").unwrap();
    let expected = MonitorSpec::new(
        slug.clone(),
        MonitorName::from(&slug),
        Schedule::cron("0 * * * *", Some("Europe/Berlin")).unwrap(),
        MonitorSettings {
            grace: Duration::from_secs(600),
            max_runtime: Some(Duration::from_secs(1800)),
            failure_threshold: 2,
            ..MonitorSettings::default()
        },
    )
    .unwrap();
    assert_eq!(record.spec, expected);

    let finished = json!({"monitor_slug": "billing-sync", "status": "ok", "check_in_id": id});
    assert_eq!(send(&p, finished).await, (StatusCode::ACCEPTED, id));
    let runs = p.runs("billing-sync").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].run_id, id);
    assert_eq!(runs[0].status, RunStatus::Success);
    assert_eq!(runs[0].source, RunSource::Checkin);
    assert!(runs[0].started_at.is_some() && runs[0].duration_ms.is_some());

    // Without check_in_id: the answer names the run opsdeck opened, and a finish
    // without one closes the latest open run.
    let (_, opened) = send(
        &p,
        json!({"monitor_slug": "billing-sync", "status": "in_progress"}),
    )
    .await;
    let (_, closed) = send(&p, json!({"monitor_slug": "billing-sync", "status": "ok"})).await;
    assert_eq!(opened, closed);
    assert_eq!(p.runs("billing-sync").await.len(), 2);
}

async fn an_error_checkin_carries_its_duration(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("reports").await;
    let body = json!({"monitor_slug": "reports", "status": "error", "duration": 12.5});
    let (status, id) = send(&p, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let runs = p.runs("reports").await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.run_id, id);
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.duration_ms, Some(12_500));
    assert_eq!(run.exit_code, None);
    assert!(run.error.is_some());
}

async fn a_changed_monitor_config_replaces_the_spec_and_an_unchanged_one_writes_nothing(
    db: TestDb,
) {
    let p = Pinger::spawn(db).await;
    let body =
        |config: Value| json!({"monitor_slug": "sync", "status": "ok", "monitor_config": config});
    assert_eq!(send(&p, body(hourly_config())).await.0, StatusCode::CREATED);
    let first = p.record("sync").await.unwrap();
    assert_eq!(
        send(&p, body(hourly_config())).await.0,
        StatusCode::ACCEPTED
    );
    let second = p.record("sync").await.unwrap();
    assert_eq!(
        second.updated_at, first.updated_at,
        "the same config changes no spec"
    );

    let every_ten = json!({"schedule": {"type": "interval", "value": 10, "unit": "minute"}});
    assert_eq!(send(&p, body(every_ten)).await.0, StatusCode::ACCEPTED);
    let third = p.record("sync").await.unwrap();
    assert_eq!(
        third.spec.schedule(),
        &Schedule::every(Duration::from_secs(600)).unwrap()
    );
    assert_eq!(p.runs("sync").await.len(), 3, "every check-in was recorded");
}

async fn checkins_refuse_bad_fields_and_callers_without_the_scope(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("known").await;
    let cases = [
        (
            json!({"monitor_slug": "unknown", "status": "ok"}),
            StatusCode::NOT_FOUND,
            "monitor_config",
        ),
        (
            json!({"monitor_slug": "known", "status": "done"}),
            StatusCode::BAD_REQUEST,
            "`status`",
        ),
        (
            json!({"monitor_slug": "Known", "status": "ok"}),
            StatusCode::BAD_REQUEST,
            "`monitor_slug`",
        ),
        (
            json!({"monitor_slug": "known", "status": "ok", "check_in_id": "x"}),
            StatusCode::BAD_REQUEST,
            "`check_in_id`",
        ),
        (
            json!({"monitor_slug": "known", "status": "ok", "duration": -1}),
            StatusCode::BAD_REQUEST,
            "`duration`",
        ),
        (
            json!({"monitor_slug": "known", "status": "ok", "monitor_config":
            {"schedule": {"type": "crontab", "value": "61 * * * *"}}}),
            StatusCode::BAD_REQUEST,
            "`monitor_config.schedule.value`",
        ),
        (
            json!({"monitor_slug": "known", "status": "ok", "monitor_config":
            {"schedule": {"type": "interval", "value": 0, "unit": "hour"}}}),
            StatusCode::BAD_REQUEST,
            "`monitor_config.schedule.value`",
        ),
        (
            json!({"monitor_slug": "known", "status": "ok", "monitor_config":
            {"schedule": {"type": "crontab", "value": "@daily"}, "failure_issue_threshold": 0}}),
            StatusCode::BAD_REQUEST,
            "`monitor_config.failure_issue_threshold`",
        ),
        (
            json!({"monitor_slug": "known", "status": "ok", "monitor_config":
            {"schedule": {"type": "fortnightly"}}}),
            StatusCode::BAD_REQUEST,
            "monitor_config.schedule",
        ),
    ];
    for (body, status, named) in cases {
        let response = checkin(&p, Some(&p.key), &body).await;
        assert_eq!(response.status(), status, "{body}");
        let answer: Value = response.json().await.unwrap();
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{body}: {message}");
    }
    assert!(
        p.runs("known").await.is_empty(),
        "refused check-ins store nothing"
    );

    let good = json!({"monitor_slug": "known", "status": "ok"});
    let jobs_only = key(&p.app, "jobs", &[Scope::Jobs]).await;
    let personal = p.app.mint_role(Role::Admin).await.1;
    refusal(
        checkin(&p, Some(&jobs_only), &good).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    refusal(
        checkin(&p, Some(&personal), &good).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    refusal(
        checkin(&p, None, &good).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let wrong = checkin(&p, Some("opsdeck_key_wrong"), &good).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(p.runs("known").await.is_empty());
    assert_eq!(send(&p, good).await.0, StatusCode::ACCEPTED);
}
