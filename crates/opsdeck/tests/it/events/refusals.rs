//! What refuses a request as a whole, storing nothing of it: no key, a key without scope
//! `events`, a personal token, a body over `events.max_body`, more than `events.max_batch`
//! events, a body that is no batch, a spent ingest budget, and a database that cannot
//! commit (503 with `Retry-After`).

use opsdeck_core::auth::Role;
use opsdeck_core::token::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Sender, minutes_ago, statuses};
use crate::pings::{key, refusal};
use crate::support::db::TestDb;

fn usage(id: &str) -> Value {
    json!({"id": id, "type": "usage", "tenant_id": "acme", "at": minutes_ago(1),
           "name": "api.requests", "value": 1})
}

async fn nothing_stored(s: &Sender) {
    let seen = s
        .app
        .state
        .store()
        .search_event_tenants("", 10)
        .await
        .unwrap();
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_ingest_key_with_scope_events_may_post() {
    let s = Sender::start(TestDb::sqlite(), crate::pings::roomy).await;
    let body = Value::from(vec![usage("1")]).to_string();
    let url = s.app.url("/api/v1/events");
    let post = |token: Option<String>| {
        let mut request = s.app.client.post(&url).body(body.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    refusal(
        post(None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let (_, admin) = s.app.mint_role(Role::Admin).await;
    refusal(
        post(Some(admin)).await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let checkins = key(&s.app, "pinger", &[Scope::Checkins, Scope::Jobs]).await;
    refusal(
        post(Some(checkins)).await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    nothing_stored(&s).await;
    let allowed = post(Some(s.key.clone())).await.unwrap();
    assert_eq!(allowed.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_or_malformed_requests_store_nothing() {
    let s = Sender::start(TestDb::sqlite(), |c| {
        c.events.max_body = 2048;
        c.events.max_batch = 3;
        c.events.max_event_size = 300;
    })
    .await;
    let big = format!("[{}]", vec![usage("x").to_string(); 20].join(","));
    assert!(big.len() > 2048);
    let response = s.post(Some("application/json"), big).await;
    let body = refusal(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(body["error"]["request_id"].is_string(), "{body}");
    let four = Value::from(vec![usage("1"), usage("2"), usage("3"), usage("4")]).to_string();
    let response = s.post(Some("application/json"), four).await;
    refusal(response, StatusCode::PAYLOAD_TOO_LARGE, "too_many_events").await;
    for garbage in [
        "hello",
        "[{\"id\": \"1\"},",
        "[1, 2] trailing",
        "[,]",
        "{\"a\": 1}]",
    ] {
        let response = s.post(Some("application/json"), garbage).await;
        if response.status() == StatusCode::OK {
            // An NDJSON line that is no event is refused on its own.
            let answer: Value = response.json().await.unwrap();
            assert!(
                statuses(&answer).iter().all(|s| s == "rejected"),
                "{garbage}: {answer}"
            );
        } else {
            refusal(response, StatusCode::BAD_REQUEST, "invalid_body").await;
        }
    }
    nothing_stored(&s).await;

    // One event over max_event_size is refused alone; the others are stored.
    let mut large = usage("large");
    large["name"] = json!("n".repeat(120));
    large["tenant_id"] = json!("t".repeat(120));
    let answer = s.send(&[usage("1"), large, usage("2")]).await;
    assert_eq!(
        statuses(&answer),
        ["stored", "rejected", "stored"],
        "{answer}"
    );
    assert!(answer["results"][1]["error"]["field"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_ingest_budget_answers_429_per_key() {
    let s = Sender::start(TestDb::sqlite(), |c| {
        c.rate_limit.ingest_per_minute = 1;
        c.rate_limit.ingest_burst = 2;
    })
    .await;
    for n in 0..2 {
        let answer = s.send(&[usage(&n.to_string())]).await;
        assert_eq!(statuses(&answer), ["stored"]);
    }
    let response = s
        .post(
            Some("application/json"),
            Value::from(vec![usage("3")]).to_string(),
        )
        .await;
    assert!(response.headers().contains_key("retry-after"));
    refusal(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let other = key(&s.app, "other-app", &[Scope::Events]).await;
    let response = s
        .app
        .client
        .post(s.app.url("/api/v1/events"))
        .bearer_auth(other)
        .body(Value::from(vec![usage("3")]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "another key has its own budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_commit_answers_503_and_acknowledges_nothing() {
    let s = Sender::start(TestDb::sqlite(), |_| {}).await;
    // The key is checked (and cached) while the database is up.
    assert_eq!(statuses(&s.send(&[usage("1")]).await), ["stored"]);
    s.app.state.store().close().await;
    let response = s
        .post(
            Some("application/json"),
            Value::from(vec![usage("2")]).to_string(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
}
