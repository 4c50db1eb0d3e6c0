//! `GET /ops/alerts`, the delivery log over HTTP, on both backends: readable by a viewer,
//! refused without a principal, filtered and paged, and never showing a webhook's URL or
//! header secrets.

use opsdeck_core::alert::AlertKind;
use opsdeck_core::auth::Role;
use opsdeck_server::config::WebhookFormat;
use serde_json::Value;

use super::{HEADER_SECRET, Receiver, event, fast, settled, webhook};
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(the_delivery_log_is_for_viewers_and_hides_webhook_secrets);

async fn the_delivery_log_is_for_viewers_and_hides_webhook_secrets(db: TestDb) {
    let receiver = Receiver::start().await;
    receiver.always("broken", 500);
    let hooks = vec![
        webhook(&receiver, "ops", WebhookFormat::Json),
        webhook(&receiver, "broken", WebhookFormat::Json),
    ];
    let app = TestApp::spawn_with(db, |c| fast(c, hooks)).await;
    app.state.alerts().notify(event("db", AlertKind::Down));
    app.state.alerts().notify(event("web", AlertKind::Degraded));
    settled(&app, 4).await;
    let viewer = app.mint_role(Role::Viewer).await.1;
    let get = |query: &'static str| {
        let request = app.client.get(app.url(&format!("/ops/alerts{query}")));
        let viewer = viewer.clone();
        async move {
            let response = request.bearer_auth(viewer).send().await.expect("request");
            let status = response.status().as_u16();
            let text = response.text().await.expect("body");
            (status, text)
        }
    };

    let (status, text) = get("").await;
    assert_eq!(status, 200, "{text}");
    assert!(
        !text.contains("SECRET") && !text.contains(HEADER_SECRET),
        "{text}"
    );
    assert!(!text.contains(&receiver.url("")), "no webhook URL: {text}");
    let page: Value = serde_json::from_str(&text).expect("json");
    let listed = page["deliveries"].as_array().expect("deliveries");
    assert_eq!(listed.len(), 4);
    let first = &listed[0];
    for field in ["id", "webhook", "state", "attempts", "created_at", "event"] {
        assert!(!first[field].is_null(), "{field} in {first}");
    }
    assert_eq!(page["next"], Value::Null, "one page");

    let (_, failed) = get("?state=failed&subject=db").await;
    let failed: Value = serde_json::from_str(&failed).expect("json");
    let failed = failed["deliveries"].as_array().expect("deliveries").clone();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["webhook"], "broken");
    assert_eq!(failed[0]["event"]["subject"], "db");
    assert_eq!(failed[0]["attempts"], 3);
    assert!(
        failed[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("HTTP 500"))
    );
    assert!(failed[0]["next_attempt_at"].is_null(), "finished");

    // Paging: one at a time, following `next`, gives all four once, newest first.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/ops/alerts?limit=1{cursor}");
        let response = app
            .client
            .get(app.url(&path))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("page");
        let page: Value = response.json().await.expect("json");
        seen.extend(
            page["deliveries"]
                .as_array()
                .expect("deliveries")
                .iter()
                .map(|d| d["id"].clone()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let ids: Vec<Value> = listed.iter().map(|d| d["id"].clone()).collect();
    assert_eq!(seen, ids);

    for bad in ["?state=sent", "?limit=0", "?cursor=nope", "?colour=red"] {
        let (status, text) = get(bad).await;
        assert_eq!(status, 400, "{bad}: {text}");
        assert!(text.contains("invalid_query"), "{bad}: {text}");
    }
    let anonymous = app.get("/ops/alerts").await;
    assert_eq!(anonymous.status().as_u16(), 401);
    app.shutdown().await.expect("clean shutdown");
}
