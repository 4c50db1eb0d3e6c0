//! Dashboard actions and admin pages over plain HTTP: the guarded "run now" form (role,
//! session CSRF token, reason, audit entry), the audit log's filters and paging, and the
//! tokens page, which never shows a secret.

use std::time::Duration;

use opsdeck_core::alert::AlertEvent;
use opsdeck_core::audit::AuditFilter;
use opsdeck_core::auth::Role;
use opsdeck_core::health::{Status, StatusChange};
use opsdeck_core::ids::CheckName;
use reqwest::StatusCode;

use super::{WEBHOOK_SECRET, alerting, client, fast_health, form_value, sign_in};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

#[tokio::test]
async fn run_now_form_is_for_operators_with_a_reason_and_the_session_csrf_token() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        fast_health(c, None);
        c.session.secure_cookie = false;
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let http = client();
    let run = "/health/opsdeck-database/run";

    let page = http
        .get(app.url("/health/opsdeck-database"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Run now"), "a viewer sees no run button");
    let refused = http
        .post(app.url(run))
        .bearer_auth(&viewer)
        .form(&[("reason", "curious")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A session: the form must carry the session's token and a reason.
    let cookie = sign_in(&app, &operator).await;
    let page = http
        .get(app.url("/health/opsdeck-database"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Run now"), "an operator sees the run button");
    let csrf = form_value(&page, "csrf_token");
    let post = |fields: Vec<(&'static str, String)>| {
        http.post(app.url(run))
            .header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
            .form(&fields)
            .send()
    };
    let forged = post(vec![
        ("csrf_token", "forged".into()),
        ("reason", "x".into()),
    ])
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let reasonless = post(vec![("csrf_token", csrf.clone()), ("reason", "  ".into())])
        .await
        .unwrap();
    assert_eq!(reasonless.status(), StatusCode::BAD_REQUEST);
    assert!(reasonless.text().await.unwrap().contains("Say why"));
    let ran = post(vec![
        ("csrf_token", csrf.clone()),
        ("reason", "checking after the failover".into()),
    ])
    .await
    .unwrap();
    assert_eq!(ran.status(), StatusCode::SEE_OTHER);
    assert_eq!(ran.headers()["location"], "/health/opsdeck-database?ran=1");
    let entries = wait_for_async(Duration::from_secs(10), "the run's audit entry", || async {
        let filter = AuditFilter {
            action: Some("health.check.run".into()),
            ..AuditFilter::default()
        };
        let entries = app.state.store().list_audit(&filter).await.unwrap();
        (!entries.is_empty()).then_some(entries)
    })
    .await;
    let record = &entries[0].record;
    assert_eq!(
        record.reason.as_deref(),
        Some("checking after the failover")
    );
    assert_eq!(record.target.as_ref().unwrap().id, "opsdeck-database");
    assert_eq!(record.actor.as_ref().unwrap().name, "operator");
}

#[tokio::test]
async fn audit_page_filters_and_pages_and_tokens_page_shows_no_secret() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| c.rate_limit.enabled = false).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (_, secret) = app.mint_role(Role::Viewer).await;
    let http = client();
    let get = |path: &str| http.get(app.url(path)).bearer_auth(&admin).send();

    // Enough requests for two pages of audit entries.
    for _ in 0..55 {
        get("/cron").await.unwrap();
    }
    let page = wait_for_async(Duration::from_secs(10), "55 audited requests", || async {
        let body = get("/audit?action=GET+%2Fcron")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.contains("Older entries").then_some(body)
    })
    .await;
    assert!(page.contains("GET /cron"));
    assert!(!page.contains("GET /tokens"), "the filter holds");
    let bad = get("/audit?since=yesterday").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("since"));
    let by_actor = get("/audit?actor=nobody-by-this-name").await.unwrap();
    assert!(by_actor.text().await.unwrap().contains("No entries match"));

    let tokens = get("/tokens").await.unwrap().text().await.unwrap();
    assert!(tokens.contains("viewer") && tokens.contains("admin"));
    assert!(
        tokens.contains(&secret[..16]),
        "the display prefix is shown"
    );
    assert!(!tokens.contains(&secret), "never the secret");
}

#[tokio::test]
async fn alerts_page_lists_deliveries_without_webhook_secrets() {
    let receiver = crate::alerts::Receiver::start().await;
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| alerting(c, &receiver)).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let http = client();
    let get = |path: &str| http.get(app.url(path)).bearer_auth(&viewer).send();
    let empty = get("/alerts").await.unwrap().text().await.unwrap();
    assert!(empty.contains("No alerts"), "nothing has been raised yet");

    // What a health check's flip from pass to fail raises.
    let change = StatusChange {
        name: CheckName::parse("dependency").unwrap(),
        from: Some(Status::Pass),
        to: Status::Fail,
        at: chrono::Utc::now(),
        output: Some("connection refused".into()),
    };
    assert!(
        app.state
            .alerts()
            .notify(AlertEvent::for_check(&change).unwrap())
    );
    let page = wait_for_async(Duration::from_secs(20), "the delivered alert", || async {
        let body = get("/alerts").await.ok()?.text().await.ok()?;
        body.contains("pill state-delivered").then_some(body)
    })
    .await;
    assert!(
        page.contains("health check dependency is failing"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/health/dependency\""),
        "links the check"
    );
    assert!(page.contains(">hook<"), "names the webhook");
    assert!(!page.contains(WEBHOOK_SECRET), "never the webhook URL");
    assert_eq!(receiver.requests("hook").len(), 1);

    let overview = get("/overview/live").await.unwrap().text().await.unwrap();
    assert!(overview.contains("health check dependency is failing"));
    assert!(overview.contains("delivered to 1 of 1"));
    assert!(!overview.contains(WEBHOOK_SECRET));

    let other = get("/alerts?subject=other")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(other.contains("No alerts"));
    let bad = get("/alerts?state=lost").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
