//! Alert delivery to real webhook receivers, on both backends: the app runs in-process, a
//! [`Receiver`] (axum on 127.0.0.1:0) records what it is sent and answers as scripted.
//! Proves one notification per event and webhook in each format, retries after a failure,
//! giving up after `max_attempts`, and the delivery log at `GET /ops/alerts` (readable by a
//! viewer, never showing a webhook's URL or header secrets).

mod api;
mod receiver;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use opsdeck_core::alert::{AlertEvent, AlertKind, AlertSource, Delivery, DeliveryFilter};
use opsdeck_core::secret::Secret;
use opsdeck_server::alerts::payload;
use opsdeck_server::config::{Config, WebhookConfig, WebhookFormat};
use serde_json::Value;

pub use receiver::Receiver;

use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

on_both_backends!(
    each_event_reaches_each_webhook_once_in_its_format,
    a_failed_attempt_is_retried_until_delivered,
    attempts_run_out_and_the_delivery_fails,
);

const WAIT: Duration = Duration::from_secs(15);
/// Stands for the secret part of a webhook URL; must never be shown.
const URL_SECRET: &str = "T0SECRET/B0SECRET/xoxo-url-secret-0123456789";
const HEADER_SECRET: &str = "header-secret-9876543210";

/// A webhook entry for `receiver`'s path `name`, its URL carrying [`URL_SECRET`].
pub fn webhook(receiver: &Receiver, name: &str, format: WebhookFormat) -> WebhookConfig {
    WebhookConfig {
        name: name.to_owned(),
        url: Secret::new(receiver.url(&format!("{name}/{URL_SECRET}"))),
        format,
        headers: BTreeMap::from([("X-Hook-Token".to_owned(), Secret::new(HEADER_SECRET.into()))]),
    }
}

/// Fast retries, so tests wait milliseconds, not seconds.
fn fast(config: &mut Config, hooks: Vec<WebhookConfig>) {
    config.alerts.initial_backoff = Duration::from_millis(50);
    config.alerts.max_backoff = Duration::from_millis(200);
    config.alerts.max_attempts = 3;
    config.alerts.timeout = Duration::from_secs(5);
    config.alerts.dashboard_url = Some("https://ops.example.com".into());
    config.alerts.webhooks = hooks;
}

fn event(subject: &str, kind: AlertKind) -> AlertEvent {
    AlertEvent::new(
        AlertSource::Health,
        subject,
        kind,
        "fail",
        &format!("health check {subject} is failing"),
        format!("/health/{subject}"),
        Utc::now(),
    )
    .with_from("pass")
    .with_detail("connection refused")
}

async fn deliveries(app: &TestApp) -> Vec<Delivery> {
    app.state
        .store()
        .list_alert_deliveries(&DeliveryFilter {
            limit: 500,
            ..DeliveryFilter::default()
        })
        .await
        .expect("list deliveries")
}

/// Waits until `count` deliveries exist and none is pending; returns them.
async fn settled(app: &TestApp, count: usize) -> Vec<Delivery> {
    wait_for_async(WAIT, "every delivery to finish", || async {
        let all = deliveries(app).await;
        (all.len() == count && all.iter().all(|d| d.state.as_str() != "pending")).then_some(all)
    })
    .await
}

async fn each_event_reaches_each_webhook_once_in_its_format(db: TestDb) {
    let receiver = Receiver::start().await;
    let hooks = vec![
        webhook(&receiver, "ops", WebhookFormat::Json),
        webhook(&receiver, "chat", WebhookFormat::Slack),
    ];
    let app = TestApp::spawn_with(db, |c| fast(c, hooks)).await;
    let down = event("db", AlertKind::Down);
    let recovered = event("cache", AlertKind::Recovered);
    assert!(app.state.alerts().notify(down.clone()));
    assert!(app.state.alerts().notify(recovered.clone()));

    let all = settled(&app, 4).await;
    assert!(
        all.iter()
            .all(|d| d.state.as_str() == "delivered" && d.attempts == 1),
        "{all:#?}"
    );
    // Everything is delivered, so nothing more is coming: the counts are final.
    let json = receiver.requests("ops");
    let slack = receiver.requests("chat");
    assert_eq!(
        (json.len(), slack.len()),
        (2, 2),
        "one per event and webhook"
    );

    for request in json.iter().chain(&slack) {
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.header("x-hook-token"),
            Some(HEADER_SECRET),
            "configured header sent"
        );
        assert!(
            request
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("opsdeck/"))
        );
    }
    let doc = json
        .iter()
        .find(|r| r.body["event"]["subject"] == "db")
        .expect("the db event as JSON");
    assert_eq!(doc.body["type"], "opsdeck.alert");
    assert_eq!(doc.body["event"]["id"], down.id.to_string());
    assert_eq!(
        doc.header("x-opsdeck-event"),
        Some(down.id.to_string().as_str())
    );
    assert_eq!(doc.body["event"]["kind"], "down");
    assert_eq!(
        (&doc.body["event"]["from"], &doc.body["event"]["to"]),
        (&Value::from("pass"), &Value::from("fail"))
    );
    assert_eq!(
        doc.body["event"]["link"],
        "https://ops.example.com/health/db"
    );
    assert_eq!(doc.body["event"]["detail"], "connection refused");
    assert_eq!(doc.body["delivery"]["webhook"], "ops");
    assert_eq!(doc.body["delivery"]["attempt"], 1);
    assert!(doc.body["opsdeck"]["version"].is_string());

    let texts: Vec<&str> = slack
        .iter()
        .map(|r| r.body["text"].as_str().expect("text"))
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(":red_circle: db is down")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(":large_green_circle: cache is recovered")),
        "{texts:?}"
    );
    let attachment = &slack
        .iter()
        .find(|r| {
            r.body["text"]
                .as_str()
                .is_some_and(|t| t.contains("db is down"))
        })
        .expect("db on slack")
        .body["attachments"][0];
    assert_eq!(
        attachment["title_link"],
        "https://ops.example.com/health/db"
    );
    assert!(attachment["color"].is_string());

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("opsdeck_alert_deliveries_total{webhook=\"ops\",outcome=\"delivered\"} 2"),
        "{metrics}"
    );
    app.shutdown().await.expect("clean shutdown");
}

async fn a_failed_attempt_is_retried_until_delivered(db: TestDb) {
    let receiver = Receiver::start().await;
    receiver.script("flaky", [500]);
    let hooks = vec![webhook(&receiver, "flaky", WebhookFormat::Json)];
    let app = TestApp::spawn_with(db, |c| fast(c, hooks)).await;
    let sent = event("db", AlertKind::Down);
    app.state.alerts().notify(sent.clone());

    let delivery = settled(&app, 1).await.remove(0);
    assert_eq!(delivery.state.as_str(), "delivered");
    assert_eq!(delivery.attempts, 2);
    let error = delivery.last_error.as_deref().expect("the failure is kept");
    assert!(error.starts_with("HTTP 500"), "{error}");
    assert!(delivery.delivered_at.is_some());

    let requests = receiver.requests("flaky");
    assert_eq!(requests.len(), 2, "one failure, one retry");
    for (request, attempt) in requests.iter().zip([1, 2]) {
        assert_eq!(
            request.body["event"]["id"],
            sent.id.to_string(),
            "same event"
        );
        assert_eq!(request.body["delivery"]["attempt"], attempt);
    }
    app.shutdown().await.expect("clean shutdown");
}

async fn attempts_run_out_and_the_delivery_fails(db: TestDb) {
    let receiver = Receiver::start().await;
    receiver.always("down", 503);
    let unreachable = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        format!("http://127.0.0.1:{port}/{URL_SECRET}")
    };
    let mut dead = webhook(&receiver, "dead", WebhookFormat::Slack);
    dead.url = Secret::new(unreachable);
    let hooks = vec![webhook(&receiver, "down", WebhookFormat::Json), dead];
    let app = TestApp::spawn_with(db, |c| fast(c, hooks)).await;
    app.state.alerts().notify(event("db", AlertKind::Down));

    let all = settled(&app, 2).await;
    for delivery in &all {
        assert_eq!(delivery.state.as_str(), "failed", "{delivery:#?}");
        assert_eq!(delivery.attempts, 3, "max_attempts");
        assert!(delivery.delivered_at.is_none());
    }
    let error = |name: &str| {
        all.iter()
            .find(|d| d.webhook == name)
            .and_then(|d| d.last_error.clone())
            .expect("an error")
    };
    assert!(error("down").starts_with("HTTP 503"), "{}", error("down"));
    let connect = error("dead");
    assert!(connect.contains("connect"), "{connect}");
    assert!(!connect.contains("SECRET"), "no URL in errors: {connect}");
    assert_eq!(receiver.requests("down").len(), 3);
    app.shutdown().await.expect("clean shutdown");
}

#[test]
fn json_payload_links_absolute_and_counts_attempts() {
    let event = event("db", AlertKind::Down);
    let mut delivery = Delivery::pending(&event, "ops", Utc::now());
    let doc = payload::json_document(&delivery, Some("https://ops.example.com/"));
    assert_eq!(doc["event"]["link"], "https://ops.example.com/health/db");
    assert_eq!(doc["delivery"]["attempt"], 1);
    delivery.attempts = 2;
    let doc = payload::json_document(&delivery, None);
    assert_eq!(
        doc["event"]["link"], "/health/db",
        "a path without dashboard_url"
    );
    assert_eq!(doc["delivery"]["attempt"], 3);
}

#[test]
fn slack_payload_escapes_text_and_links_only_absolute_urls() {
    let event = event("db", AlertKind::Degraded).with_detail("a < b & ```x```");
    let message = payload::slack_message(&event, Some("https://ops.example.com"));
    let text = message["text"].as_str().expect("text");
    assert!(
        text.starts_with(":large_yellow_circle: db is degraded"),
        "{text}"
    );
    let attachment = &message["attachments"][0];
    assert_eq!(
        attachment["title_link"],
        "https://ops.example.com/health/db"
    );
    let body = attachment["text"].as_str().expect("text");
    assert!(body.contains("```a &lt; b &amp; '''x'''```"), "{body}");
    let unlinked = payload::slack_message(&event, None);
    assert!(unlinked["attachments"][0].get("title_link").is_none());
    assert!(
        unlinked["attachments"][0]["text"]
            .as_str()
            .expect("text")
            .ends_with("/health/db")
    );
}
