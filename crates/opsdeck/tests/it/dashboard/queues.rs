//! The Queues pages over HTTP, on a `push` source fed by the test as an application would:
//! the list, a queue and a job for each role, with the operators' buttons only for those who
//! may use them (and the server refusing the others anyway); a long job list paged with its
//! filter kept; a stale source shown stale,
//! never as empty; a `read_only` source offering no action and refusing its forms; the
//! forms refusing a missing reason and a bad CSRF token; the bulk retry
//! without JavaScript, dry run then confirmation, reaching the application's webhook with
//! one audit entry. The same flow in Chromium is in `browser`, the demo's queues in `demo`.

mod browser;
mod demo;

use std::time::Duration;

use opsdeck_core::audit::{AuditFilter, AuditRecord};
use opsdeck_core::auth::Role;
use opsdeck_core::secret::Secret;
use opsdeck_core::token::Scope;
use opsdeck_server::config::{PushKeys, SourceConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{client, form_value, sign_in};
use crate::alerts::Receiver;
use crate::pings::key;
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

const SECRET: &str = "whsec-dashboard-0123456789";
const QUEUE_PAGE: &str = "/queues/billing/payments";

/// An app with the push source `billing`, whose retry webhook is `receiver`'s `app/retry`,
/// and `legacy`, a push source that never posts.
async fn app_with_queues(db: TestDb, receiver: &Receiver) -> TestApp {
    let keys = PushKeys {
        retry_webhook: Some(Secret::new(receiver.url("app/retry"))),
        webhook_secret: Some(Secret::new(SECRET.to_owned())),
    };
    TestApp::spawn_with(db, |config| {
        config.rate_limit.enabled = false;
        config.session.secure_cookie = false;
        config.queues.sources = vec![
            SourceConfig {
                poll_interval: Some(Duration::from_secs(60)),
                ..SourceConfig::push("billing", keys)
            },
            SourceConfig::push("legacy", PushKeys::default()),
        ];
    })
    .await
}

/// What the application reports of `payments`: three failures, two of tenant acme.
fn snapshot() -> Value {
    json!({
        "source": "billing",
        "counts": {"waiting": 12, "active": 2, "failed": 3},
        "oldest_waiting_seconds": 95,
        "failures_last_hour": 3,
        "failures": [
            {"id": "m-1", "name": "charge", "tenant_id": "acme",
             "error": "CardError: card 4242 4242 4242 4242 declined for jane@example.com",
             "attempts": 3, "max_attempts": 3},
            {"id": "m-2", "name": "refund", "tenant_id": "globex",
             "error": "timeout calling https://user:hunter2@psp.example/refund", "attempts": 1},
            {"id": "m-3", "name": "charge", "tenant_id": "acme", "error": "card declined"},
        ],
    })
}

/// Posts the snapshot with an ingest key of scope `jobs`.
async fn post_snapshot(app: &TestApp) {
    let ingest = key(app, "billing-worker", &[Scope::Jobs]).await;
    let response = app
        .client
        .post(app.url("/api/v1/queues/payments/snapshot"))
        .bearer_auth(&ingest)
        .json(&snapshot())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{:?}", response.text().await);
}

async fn page(app: &TestApp, token: &str, path: &str) -> (StatusCode, String) {
    let response = client()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Every audit entry of `action`.
async fn entries(app: &TestApp, action: &str) -> Vec<AuditRecord> {
    let filter = AuditFilter {
        action: Some(action.to_owned()),
        ..AuditFilter::default()
    };
    let page = app.state.store().list_audit(&filter).await.unwrap();
    page.into_iter().map(|e| e.record).collect()
}

#[tokio::test]
async fn each_role_sees_the_queues_and_only_operators_their_buttons() {
    let receiver = Receiver::start().await;
    let app = app_with_queues(TestDb::sqlite(), &receiver).await;
    post_snapshot(&app).await;
    for role in [Role::Admin, Role::Operator, Role::Viewer] {
        let (_, token) = app.mint_role(role).await;
        let operates = role != Role::Viewer;

        let (status, list) = page(&app, &token, "/queues").await;
        assert_eq!(status, StatusCode::OK, "{role}: {list}");
        assert!(
            list.contains("data-source=\"billing\" data-status=\"ok\""),
            "{list}"
        );
        assert!(list.contains("href=\"/queues/billing/payments\""), "{list}");
        assert!(list.contains("data-backlog=\"12\""), "{list}");
        assert!(
            list.contains("1 min"),
            "the oldest waiting job's age: {list}"
        );

        let (status, queue) = page(&app, &token, QUEUE_PAGE).await;
        assert_eq!(status, StatusCode::OK, "{role}: {queue}");
        for job in ["m-1", "m-2", "m-3"] {
            assert!(
                queue.contains(&format!("data-job=\"{job}\"")),
                "{job}: {queue}"
            );
        }
        for secret in ["4242 4242", "jane@example.com", "hunter2"] {
            assert!(!queue.contains(secret), "{secret} leaked: {queue}");
        }
        assert!(queue.contains("id=\"backlog-chart\""), "a chart: {queue}");
        assert!(
            queue.contains("No pause here: push sources have no pause"),
            "{queue}"
        );
        assert_eq!(
            queue.contains("id=\"bulk-retry\""),
            operates,
            "{role}: {queue}"
        );
        assert!(
            !queue.contains("id=\"bulk-discard\""),
            "push cannot discard"
        );
        let (_, acme) = page(
            &app,
            &token,
            &format!("{QUEUE_PAGE}?state=failed&tenant_id=acme"),
        )
        .await;
        assert!(
            acme.contains("data-job=\"m-1\"") && !acme.contains("data-job=\"m-2\""),
            "{acme}"
        );
        let (_, searched) = page(&app, &token, &format!("{QUEUE_PAGE}?q=refund")).await;
        assert!(searched.contains("data-job=\"m-2\"") && !searched.contains("data-job=\"m-1\""));

        let (status, job) = page(&app, &token, &format!("{QUEUE_PAGE}/jobs/m-1")).await;
        assert_eq!(status, StatusCode::OK, "{role}: {job}");
        assert!(job.contains("CardError"), "{job}");
        assert!(
            !job.contains("4242 4242") && !job.contains("jane@example.com"),
            "{job}"
        );
        assert_eq!(
            job.contains("id=\"retry-button\""),
            operates,
            "{role}: {job}"
        );
        assert!(!job.contains("id=\"discard-button\""), "{job}");

        let (status, _) = page(&app, &token, "/queues/billing/nothing-here").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = page(&app, &token, &format!("{QUEUE_PAGE}/jobs/m-404")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (_, overview) = page(&app, &token, "/").await;
        assert!(overview.contains("id=\"queue-backlog\">12<"), "{overview}");
        assert!(overview.contains("id=\"queue-failures\">3<"), "{overview}");
    }
    // A viewer's post is refused whatever the page shows, and nothing reaches the webhook.
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    for path in [
        format!("{QUEUE_PAGE}/jobs/m-1/retry"),
        format!("{QUEUE_PAGE}/retry"),
        format!("{QUEUE_PAGE}/pause"),
    ] {
        let response = client()
            .post(app.url(&path))
            .bearer_auth(&viewer)
            .form(&[("reason", "just looking")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(receiver.requests("app").is_empty());
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_long_job_list_is_paged_with_its_filter_kept() {
    let receiver = Receiver::start().await;
    let app = app_with_queues(TestDb::sqlite(), &receiver).await;
    let failures: Vec<Value> = (0..30)
        .map(|i| json!({"id": format!("job-{i:02}"), "tenant_id": "acme", "error": "boom"}))
        .chain([json!({"id": "other", "tenant_id": "globex", "error": "boom"})])
        .collect();
    let snapshot = json!({"source": "billing", "counts": {"failed": 31}, "failures": failures});
    let snapshot = serde_json::from_value(snapshot).unwrap();
    opsdeck_server::queues::record_snapshot(app.state.queues(), "payments", snapshot)
        .await
        .unwrap();
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (_, first) = page(&app, &viewer, &format!("{QUEUE_PAGE}?tenant_id=acme")).await;
    assert_eq!(first.matches("data-job=").count(), 25, "{first}");
    assert!(first.contains("data-job=\"job-00\"") && !first.contains("data-job=\"job-25\""));
    let marker = "href=\"";
    let next = &first[..first.find("rel=\"next\"").expect("a next page")];
    let href = &next[next.rfind(marker).unwrap() + marker.len()..];
    // The page escapes `&` in attributes.
    let href = href[..href.find('"').unwrap()].replace("&#38;", "&");
    assert!(
        href.contains("tenant_id=acme") && href.contains("cursor="),
        "{href}"
    );
    let (status, second) = page(&app, &viewer, &href).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.matches("data-job=").count(), 5, "{second}");
    assert!(second.contains("data-job=\"job-29\"") && !second.contains("data-job=\"other\""));
    assert!(!second.contains("rel=\"next\""), "the last page");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stale_source_is_shown_stale_with_its_last_numbers_never_as_empty() {
    let receiver = Receiver::start().await;
    let keys = PushKeys {
        retry_webhook: Some(Secret::new(receiver.url("app/retry"))),
        webhook_secret: Some(Secret::new(SECRET.to_owned())),
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![
            SourceConfig {
                poll_interval: Some(Duration::from_secs(1)),
                ..SourceConfig::push("billing", keys)
            },
            SourceConfig::push("legacy", PushKeys::default()),
        ];
    })
    .await;
    post_snapshot(&app).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    // The application stops posting: after three missed intervals the source is stale.
    let list = wait_for_async(Duration::from_secs(15), "billing to turn stale", || {
        let (app, viewer) = (&app, viewer.clone());
        async move {
            let (_, list) = page(app, &viewer, "/queues").await;
            list.contains("data-source=\"billing\" data-status=\"stale\"")
                .then_some(list)
        }
    })
    .await;
    let billing = &list[list.find("data-source=\"billing\"").unwrap()..];
    let billing = &billing[..billing.find("</section>").unwrap()];
    assert!(
        billing.contains("Stale: this source has not answered lately"),
        "{billing}"
    );
    assert!(billing.contains("the last known ones"), "{billing}");
    assert!(billing.contains("data-stale=\"true\""), "{billing}");
    assert!(
        billing.contains("data-backlog=\"12\""),
        "last numbers kept: {billing}"
    );
    // A source that never answered has no numbers: it says so, not "no queues".
    let legacy = &list[list.find("data-source=\"legacy\"").unwrap()..];
    assert!(
        legacy.starts_with("data-source=\"legacy\" data-status=\"stale\""),
        "{legacy}"
    );
    assert!(legacy.contains("No numbers were ever received"), "{legacy}");
    assert!(!legacy[..legacy.find("</section>").unwrap()].contains("reports no queue"));

    let (_, queue) = page(&app, &viewer, QUEUE_PAGE).await;
    assert!(queue.contains("id=\"queue-stale\""), "{queue}");
    let (_, overview) = page(&app, &viewer, "/").await;
    assert!(
        overview.contains("data-stale-source=\"billing\""),
        "{overview}"
    );
    assert!(
        overview.contains("data-stale-source=\"legacy\""),
        "{overview}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_read_only_source_offers_no_action_and_refuses_its_forms() {
    let receiver = Receiver::start().await;
    let keys = PushKeys {
        retry_webhook: Some(Secret::new(receiver.url("app/retry"))),
        webhook_secret: Some(Secret::new(SECRET.to_owned())),
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![SourceConfig {
            read_only: true,
            ..SourceConfig::push("billing", keys)
        }];
    })
    .await;
    post_snapshot(&app).await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let (_, list) = page(&app, &operator, "/queues").await;
    assert!(
        list.contains("<span class=\"tag\">read_only</span>"),
        "{list}"
    );
    let (_, queue) = page(&app, &operator, QUEUE_PAGE).await;
    assert!(!queue.contains("id=\"bulk-retry\""), "{queue}");
    assert!(
        queue.contains("Not offered here, retry: the source is read_only."),
        "{queue}"
    );
    let (_, job) = page(&app, &operator, &format!("{QUEUE_PAGE}/jobs/m-1")).await;
    assert!(!job.contains("id=\"retry-button\""), "{job}");
    assert!(job.contains("retry: the source is read_only"), "{job}");
    let response = client()
        .post(app.url(&format!("{QUEUE_PAGE}/jobs/m-1/retry")))
        .bearer_auth(&operator)
        .form(&[("reason", "trying anyway")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Not retried: queue source billing is read_only"),
        "{body}"
    );
    assert!(receiver.requests("app").is_empty());
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn forms_refuse_a_missing_reason_and_a_bad_csrf_token_then_bulk_retry_without_script() {
    let receiver = Receiver::start().await;
    let app = app_with_queues(TestDb::sqlite(), &receiver).await;
    post_snapshot(&app).await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let cookie = sign_in(&app, &operator).await;
    let http = client();
    let get = |path: String| {
        let request = http.get(app.url(&path)).header("cookie", &cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let request = http
            .post(app.url(&path))
            .header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
            .form(&form);
        async move { request.send().await.unwrap() }
    };
    let job = get(format!("{QUEUE_PAGE}/jobs/m-1")).await;
    let csrf = form_value(&job, "csrf_token");
    let retry_one = format!("{QUEUE_PAGE}/jobs/m-1/retry");

    let refused = post(retry_one.clone(), vec![("csrf_token", csrf.clone())]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("Say why"));
    let forged = post(
        retry_one.clone(),
        vec![
            ("csrf_token", "forged".into()),
            ("reason", "a reason".into()),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    for path in [format!("{QUEUE_PAGE}/retry"), format!("{QUEUE_PAGE}/pause")] {
        let forged = post(path.clone(), vec![("reason", "a reason".into())]).await;
        assert_eq!(
            forged.status(),
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        let refused = post(path.clone(), vec![("csrf_token", csrf.clone())]).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    assert!(
        receiver.requests("app").is_empty(),
        "nothing refused reached the webhook"
    );
    // Pause: the page says why not, and the form is refused the same way.
    let pause = post(
        format!("{QUEUE_PAGE}/pause"),
        vec![
            ("csrf_token", csrf.clone()),
            ("reason", "provider down".into()),
        ],
    )
    .await;
    assert_eq!(pause.status(), StatusCode::CONFLICT);
    assert!(pause.text().await.unwrap().contains("Not paused: "));

    // One job: retried through the webhook, and the page says so.
    let done = post(
        retry_one,
        vec![
            ("csrf_token", csrf.clone()),
            ("reason", "ticket 7, one job".into()),
        ],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    assert!(get(location).await.contains("Retry done."));
    assert_eq!(receiver.requests("app").len(), 1);

    // Bulk, without script: the dry run's page shows the count of tenant acme's failures …
    let confirm = post(
        format!("{QUEUE_PAGE}/retry"),
        vec![
            ("csrf_token", csrf.clone()),
            ("reason", "acme's charges, ticket 8".into()),
            ("state", "failed".into()),
            ("tenant_id", "acme".into()),
        ],
    )
    .await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("data-count=\"2\""), "{confirm}");
    let selection = form_value(&confirm, "selection");
    assert_eq!(form_value(&confirm, "expected_count"), "2");
    assert_eq!(
        receiver.requests("app").len(),
        1,
        "a dry run changes nothing"
    );
    // … a wrong count is refused …
    let wrong = post(
        format!("{QUEUE_PAGE}/retry"),
        vec![
            ("csrf_token", csrf.clone()),
            ("reason", "acme's charges, ticket 8".into()),
            ("selection", selection.clone()),
            ("expected_count", "3".into()),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::CONFLICT);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("run the dry run again")
    );
    // … a count that matches, once.
    let bulk = |selection: String| {
        post(
            format!("{QUEUE_PAGE}/retry"),
            vec![
                ("csrf_token", csrf.clone()),
                ("reason", "acme's charges, confirmed".into()),
                ("selection", selection),
                ("expected_count", "2".into()),
                ("state", "failed".into()),
            ],
        )
    };
    let done = bulk(selection.clone()).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("done=retry") && location.contains("count=2"),
        "{location}"
    );
    assert!(get(location).await.contains("Retried 2 job(s)."));
    let retried: Vec<String> = receiver.requests("app")[1..]
        .iter()
        .map(|r| r.body["job_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(retried, ["m-1", "m-3"]);
    let again = bulk(selection).await;
    assert_eq!(
        again.status(),
        StatusCode::CONFLICT,
        "a selection is used once"
    );
    assert_eq!(receiver.requests("app").len(), 3);
    let entries = entries(&app, "queue.jobs.retried").await;
    assert!(
        entries
            .iter()
            .any(|e| e.reason.as_deref() == Some("acme's charges, confirmed")),
        "{entries:#?}"
    );
    app.shutdown().await.unwrap();
}
