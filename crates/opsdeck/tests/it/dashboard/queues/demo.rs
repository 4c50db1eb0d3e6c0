//! `serve --demo`'s queues, in-process: the demo's own push source shows lively queues
//! with a day of history and redacted failures, and a retry from the dashboard reaches the
//! demo's own webhook, after which the next snapshot no longer lists the job.

use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_server::demo;
use reqwest::StatusCode;
use serde_json::Value;

use super::page;
use crate::dashboard::client;
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

const QUEUES: [&str; 4] = ["emails", "payments", "webhooks-out", "reports"];

async fn failed_ids(app: &TestApp, token: &str, queue: &str) -> Vec<String> {
    let jobs: Value = app
        .client
        .get(app.url(&format!("/ops/queues/shop/{queue}/jobs?state=failed")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jobs["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("{jobs}"))
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_lively_queues_and_retries_through_its_own_webhook() {
    let mut notes = None;
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.rate_limit.enabled = false;
        notes = Some(demo::prepare(config, true));
    })
    .await;
    demo::seed(&app.state, &notes.expect("prepared"))
        .await
        .unwrap();
    let (_, operator) = app.mint_role(Role::Operator).await;

    let (status, list) = page(&app, &operator, "/queues").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains("data-source=\"shop\" data-status=\"ok\""),
        "{list}"
    );
    for queue in QUEUES {
        assert!(
            list.contains(&format!("data-queue=\"{queue}\"")),
            "{queue}: {list}"
        );
    }
    let mut failing = None;
    for queue in QUEUES {
        let (status, body) = page(&app, &operator, &format!("/queues/shop/{queue}")).await;
        assert_eq!(status, StatusCode::OK, "{queue}");
        assert!(
            body.contains("id=\"backlog-chart\""),
            "a day of history: {body}"
        );
        for secret in [
            "0000 0000 0002",
            "Hunter2pass",
            "sk_live_51Hx9demo",
            "jane.doe@",
        ] {
            assert!(!body.contains(secret), "{secret} leaked: {body}");
        }
        if failing.is_none()
            && let Some(id) = failed_ids(&app, &operator, queue).await.first()
        {
            failing = Some((queue, id.clone()));
        }
    }
    let (queue, id) = failing.expect("the demo has failed jobs");

    // A retry from the dashboard: the demo's webhook answers, the job is queued again.
    let response = client()
        .post(app.url(&format!("/queues/shop/{queue}/jobs/{id}/retry")))
        .bearer_auth(&operator)
        .form(&[("reason", "trying the demo")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("done=retry&result=done"), "{location}");
    wait_for_async(
        Duration::from_secs(15),
        "the next snapshot to show the job gone",
        || {
            let (app, operator, id) = (&app, operator.clone(), id.clone());
            async move { (!failed_ids(app, &operator, queue).await.contains(&id)).then_some(()) }
        },
    )
    .await;
    app.shutdown().await.unwrap();
}
