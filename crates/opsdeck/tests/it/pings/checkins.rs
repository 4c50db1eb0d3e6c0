//! Sentry-style JSON check-ins at `POST /api/v1/checkins`: a `monitor_config` creates the
//! monitor or changes only what it carries of a stored one, `check_in_id` pairs `in_progress` with its finish, `duration` times a finish
//! nobody saw start; refusals name the field, and only an ingest key with scope `checkins`
//! gets in.

use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_core::cron::{
    MonitorSettings, MonitorSource, MonitorSpec, RunSource, RunStatus, Schedule,
};
use opsdeck_core::ids::{MonitorName, Slug};
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
    a_changed_monitor_config_changes_what_it_sends_and_an_unchanged_one_writes_nothing,
    a_checkin_keeps_what_an_admin_defined_and_the_source,
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

async fn a_changed_monitor_config_changes_what_it_sends_and_an_unchanged_one_writes_nothing(
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
    assert_eq!(
        third.spec.settings(),
        first.spec.settings(),
        "fields left out keep their values"
    );
    assert_eq!(third.source, MonitorSource::Checkin);
    assert_eq!(p.runs("sync").await.len(), 3, "every check-in was recorded");
}

/// Creates a monitor through `POST /ops/cron` as an admin would, with everything a
/// check-in's config cannot say.
async fn define_as_admin(p: &Pinger, slug: &str) {
    let (_, admin) = p.app.mint_role(Role::Admin).await;
    let definition = json!({
        "slug": slug, "name": "Nightly backup", "schedule": "30 2 * * *",
        "tz": "Europe/Berlin", "grace": "15m", "max_runtime": "2h", "min_runtime": "2m",
        "failure_threshold": 3, "tags": ["db", "nightly"], "tenant_id": "acme",
        "maintenance": [{"schedule": "0 3 * * 0", "duration": "1h"}], "paused": true,
        "reason": "monitor the backup",
    });
    let response = (p.app.client.post(p.app.url("/ops/cron")))
        .bearer_auth(admin)
        .json(&definition)
        .send()
        .await
        .expect("create monitor");
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn a_checkin_keeps_what_an_admin_defined_and_the_source(db: TestDb) {
    // The evaluator ticks once at start and not again: the version then counts writes.
    let p = Pinger::spawn_with(db, |config| {
        super::roomy(config);
        config.cron.evaluate_interval = Duration::from_secs(3600);
    })
    .await;
    define_as_admin(&p, "backup").await;
    let defined = p.record("backup").await.unwrap();
    assert_eq!(defined.source, MonitorSource::Api);

    // An SDK moves the job to 04:00 and widens the margin, nothing else.
    let body =
        |config: Value| json!({"monitor_slug": "backup", "status": "ok", "monitor_config": config});
    let moved =
        json!({"schedule": {"type": "crontab", "value": "0 4 * * *"}, "checkin_margin": 20});
    assert_eq!(send(&p, body(moved.clone())).await.0, StatusCode::ACCEPTED);
    let changed = p.record("backup").await.unwrap();
    let expected = MonitorSpec::new(
        defined.spec.slug().clone(),
        defined.spec.name().clone(),
        // Sent without a time zone: the stored one stays.
        Schedule::cron("0 4 * * *", Some("Europe/Berlin")).unwrap(),
        MonitorSettings {
            grace: Duration::from_secs(20 * 60),
            ..defined.spec.settings().clone()
        },
    )
    .unwrap();
    assert_eq!(changed.spec, expected);
    assert_eq!(changed.spec.name().as_str(), "Nightly backup");
    let settings = changed.spec.settings();
    assert_eq!(
        settings.tenant_id.as_ref().map(|t| t.as_str()),
        Some("acme")
    );
    assert_eq!(settings.tags.iter().collect::<Vec<_>>(), ["db", "nightly"]);
    assert_eq!(settings.maintenance.len(), 1);
    assert_eq!(settings.min_runtime, Some(Duration::from_secs(120)));
    assert_eq!(settings.max_runtime, Some(Duration::from_secs(7200)));
    assert_eq!(settings.failure_threshold, 3);
    assert!(changed.spec.is_paused());
    assert_eq!(
        changed.source,
        MonitorSource::Api,
        "the monitor stays the admin's"
    );
    assert_eq!(changed.version, defined.version + 2, "the spec and the run");

    // The same config again: the run is written, the spec is not.
    assert_eq!(send(&p, body(moved)).await.0, StatusCode::ACCEPTED);
    let again = p.record("backup").await.unwrap();
    assert_eq!(again.spec, changed.spec);
    assert_eq!(again.updated_at, changed.updated_at);
    assert_eq!(again.version, changed.version + 1, "the run alone");

    // A max_runtime within the stored min_runtime cannot apply: the check-in is recorded,
    // the spec left as it is.
    let contradicting =
        json!({"schedule": {"type": "crontab", "value": "0 4 * * *"}, "max_runtime": 1});
    assert_eq!(send(&p, body(contradicting)).await.0, StatusCode::ACCEPTED);
    let kept = p.record("backup").await.unwrap();
    assert_eq!(kept.spec, changed.spec);
    assert_eq!(kept.version, again.version + 1);
    assert_eq!(
        p.runs("backup").await.len(),
        3,
        "every check-in was recorded"
    );
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
