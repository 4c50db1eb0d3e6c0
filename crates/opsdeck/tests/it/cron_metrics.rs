//! The cron families on `/metrics` (issue 5 item 10), on both backends: monitors made by
//! the admin API and the configuration, pinged over real HTTP, then scraped: each family
//! and value as `/ops/cron` shows it, a deleted monitor's series gone. On PostgreSQL a
//! stalled database leaves `/metrics` answering quickly with the previous values.

use std::time::{Duration, Instant};

use opsdeck_core::auth::Role;
use opsdeck_core::secret::Secret;
use opsdeck_server::config::MonitorDefinition;
use reqwest::Method;
use serde_json::{Value, json};

use crate::pings::{Pinger, roomy};
use crate::support::app::TestApp;
use crate::support::chaos::ChaosProxy;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

on_both_backends!(cron_monitors_are_scraped_with_their_figures_and_leave_when_deleted);

/// Past `[metrics] cron_monitor_series`, only the first monitors by slug get series; the
/// counts by status still count every monitor, and the scrape says how many were left out.
#[tokio::test]
async fn series_per_monitor_stop_at_the_cap_and_the_counts_cover_every_monitor() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        roomy(config);
        config.metrics.cron_monitor_series = 2;
    })
    .await;
    let (_, token) = app.mint_role(Role::Admin).await;
    for slug in ["charlie", "alpha", "bravo"] {
        let body = json!({"slug": slug, "interval": "1d", "reason": "metrics test"});
        assert_eq!(
            admin(&app, Method::POST, "/ops/cron", &token, body).await,
            201
        );
    }
    let text = app.metrics().await;
    for (monitor, listed) in [("alpha", true), ("bravo", true), ("charlie", false)] {
        assert_eq!(
            of(&text, "opsdeck_cron_monitor_up", monitor).is_some(),
            listed,
            "{monitor}:\n{text}"
        );
        assert_eq!(status(&text, monitor, "new").is_some(), listed, "{monitor}");
    }
    assert_eq!(
        sample(&text, "opsdeck_cron_monitors{status=\"new\"}"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "opsdeck_cron_monitors{status=\"down\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "opsdeck_cron_monitor_series_omitted"),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains("opsdeck_cron_runs{"),
        "no run counts while monitors are left out:\n{text}"
    );
    app.shutdown().await.unwrap();
}

/// The value of the sample `series` (name and labels as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().expect("a sample value"))
}

fn status(text: &str, monitor: &str, status: &str) -> Option<f64> {
    let series =
        format!("opsdeck_cron_monitor_status{{monitor=\"{monitor}\",status=\"{status}\"}}");
    sample(text, &series)
}

fn of(text: &str, family: &str, monitor: &str) -> Option<f64> {
    sample(text, &format!("{family}{{monitor=\"{monitor}\"}}"))
}

fn runs(text: &str, monitor: &str, status: &str) -> Option<f64> {
    let series = format!("opsdeck_cron_runs{{monitor=\"{monitor}\",status=\"{status}\"}}");
    sample(text, &series)
}

async fn admin(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> u16 {
    let response = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("admin request");
    response.status().as_u16()
}

/// A config monitor, `from-config`, expected hourly and never heard from.
fn with_config_monitor(config: &mut opsdeck_server::config::Config) {
    roomy(config);
    config.cron.monitors = vec![MonitorDefinition {
        interval: Some(Duration::from_secs(3600)),
        ..serde_json::from_value(json!({"slug": "from-config"})).expect("definition")
    }];
}

async fn cron_monitors_are_scraped_with_their_figures_and_leave_when_deleted(db: TestDb) {
    let p = Pinger::spawn_with(db, with_config_monitor).await;
    let app = &p.app;
    let (_, token) = app.mint_role(Role::Admin).await;
    for slug in ["backup", "etl"] {
        let body = json!({"slug": slug, "interval": "1d", "reason": "metrics test"});
        assert_eq!(
            admin(app, Method::POST, "/ops/cron", &token, body).await,
            201
        );
    }
    let rid = uuid::Uuid::new_v4();
    p.ok(&format!("backup/start?rid={rid}")).await;
    p.ok(&format!("backup/0?rid={rid}")).await;
    let failed = p.ping(Method::POST, "etl/fail", "disk full").await;
    assert_eq!(failed.status(), 200);

    let text = app.metrics().await;
    // One status per monitor is 1, the others 0; `up` is 0 only when down.
    for (monitor, shown) in [("backup", "up"), ("etl", "down"), ("from-config", "new")] {
        for candidate in ["new", "up", "running", "late", "down", "paused"] {
            let expected = if candidate == shown { 1.0 } else { 0.0 };
            assert_eq!(
                status(&text, monitor, candidate),
                Some(expected),
                "{monitor} {candidate}:\n{text}"
            );
        }
    }
    assert_eq!(of(&text, "opsdeck_cron_monitor_up", "backup"), Some(1.0));
    assert_eq!(of(&text, "opsdeck_cron_monitor_up", "etl"), Some(0.0));
    assert_eq!(
        of(&text, "opsdeck_cron_monitor_up", "from-config"),
        Some(1.0)
    );

    let backup = p.record("backup").await.expect("backup stored");
    let last_success = of(
        &text,
        "opsdeck_cron_last_success_timestamp_seconds",
        "backup",
    );
    let stored = backup
        .last_success_at
        .expect("a success")
        .timestamp_millis() as f64
        / 1000.0;
    assert_eq!(last_success, Some(stored));
    assert_eq!(
        of(&text, "opsdeck_cron_last_success_timestamp_seconds", "etl"),
        None,
        "no success yet: no sample"
    );
    let duration_ms = backup
        .last_run
        .and_then(|run| run.duration_ms)
        .expect("timed");
    assert_eq!(
        of(&text, "opsdeck_cron_last_duration_seconds", "backup"),
        Some(duration_ms as f64 / 1000.0)
    );
    let next = of(
        &text,
        "opsdeck_cron_next_expected_timestamp_seconds",
        "backup",
    );
    let expected_next = stored + 86_400.0;
    assert!(
        next.is_some_and(|n| (n - expected_next).abs() < 5.0),
        "{next:?} vs {expected_next}"
    );
    assert_eq!(
        of(
            &text,
            "opsdeck_cron_next_expected_timestamp_seconds",
            "from-config"
        ),
        None,
        "a monitor never heard from expects nothing"
    );
    assert_eq!(of(&text, "opsdeck_cron_failure_streak", "etl"), Some(1.0));
    assert_eq!(
        of(&text, "opsdeck_cron_failure_streak", "backup"),
        Some(0.0)
    );
    assert_eq!(runs(&text, "backup", "success"), Some(1.0));
    assert_eq!(runs(&text, "etl", "failed"), Some(1.0));
    assert_eq!(runs(&text, "etl", "success"), None, "statuses without runs");
    assert!(text.contains("# TYPE opsdeck_cron_runs gauge"), "{text}");

    let deleted = json!({"reason": "metrics test"});
    assert_eq!(
        admin(app, Method::DELETE, "/ops/cron/etl", &token, deleted).await,
        204
    );
    // Values are cached for a few seconds: the series go at the next read.
    let text = wait_for_async(Duration::from_secs(15), "etl to leave /metrics", || async {
        let text = app.metrics().await;
        (!text.contains("monitor=\"etl\"")).then_some(text)
    })
    .await;
    assert_eq!(status(&text, "backup", "up"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_database_leaves_metrics_fast_with_the_previous_cron_values() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let (proxy, proxied) = ChaosProxy::for_postgres(&db.url).await;
    let p = Pinger::spawn_with(db, |config| {
        with_config_monitor(config);
        config.database.url = Secret::new(proxied);
        // A pool that waits long for a connection, so the stall is what bounds the scrape.
        config.database.acquire_timeout = Duration::from_secs(30);
    })
    .await;
    let text = p.app.metrics().await;
    assert_eq!(status(&text, "from-config", "new"), Some(1.0), "{text}");

    proxy.blackhole();
    let text = wait_for_async(Duration::from_secs(30), "a refresh to fail", || async {
        let asked = Instant::now();
        let text = p.app.metrics().await;
        let took = asked.elapsed();
        assert!(took < Duration::from_secs(5), "/metrics took {took:?}");
        // Timed out, or refused at once once the database's breaker opened.
        let failed = ["timeout", "error"]
            .map(|reason| {
                sample(
                    &text,
                    &format!("opsdeck_cron_metrics_refresh_errors_total{{reason=\"{reason}\"}}"),
                )
                .unwrap_or(0.0)
            })
            .iter()
            .sum::<f64>();
        (failed >= 1.0).then_some(text)
    })
    .await;
    assert_eq!(
        status(&text, "from-config", "new"),
        Some(1.0),
        "the previous values are served"
    );
    proxy.sever();
}
