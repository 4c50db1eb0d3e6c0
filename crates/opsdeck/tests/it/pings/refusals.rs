//! What a ping is refused for, and how: unknown slugs (404), bad input (400), wrong keys
//! (one and the same 401 whether the slug exists or not), the failed-authentication
//! budget of an address and the ingest budget of a key (429).

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_core::token::{self, Grant, Scope, TokenKind};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{Pinger, key, refusal};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(
    unknown_slugs_and_bad_input_are_refused_and_store_nothing,
    every_wrong_key_gets_the_same_401_whether_the_slug_exists_or_not,
    failed_key_lookups_spend_the_address_budget,
    each_key_has_its_own_ingest_budget,
);

async fn unknown_slugs_and_bad_input_are_refused_and_store_nothing(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("backup").await;
    let cases = [
        ("nothing-here", StatusCode::NOT_FOUND, "not_found"),
        ("nothing-here/start", StatusCode::NOT_FOUND, "not_found"),
        (
            "backup?rid=not-a-uuid",
            StatusCode::BAD_REQUEST,
            "invalid_rid",
        ),
        ("backup/start?rid=", StatusCode::BAD_REQUEST, "invalid_rid"),
        ("backup/0?rid=123", StatusCode::BAD_REQUEST, "invalid_rid"),
        ("Backup", StatusCode::BAD_REQUEST, "invalid_slug"),
        ("backup/256", StatusCode::BAD_REQUEST, "invalid_exit_status"),
        // Only the ping URLs' own clients can be named; a typo is not a silent `ping`.
        (
            "backup?source=bogus",
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "backup/start?source=scheduler",
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
    ];
    for (rest, status, code) in cases {
        let response = p.ping(Method::GET, rest, "").await;
        assert!(response.headers().contains_key("ping-body-limit"), "{rest}");
        let body = refusal(response, status, code).await;
        assert!(body["error"]["request_id"].is_string(), "{rest}: {body}");
        if rest.contains("source=") {
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("exec"), "says what is accepted: {body}");
        }
    }
    assert!(p.runs("backup").await.is_empty());
    assert!(p.record("nothing-here").await.is_none());
}

/// The body of a refusal without its request id, which differs per request.
async fn anonymous(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let mut body: Value = response.json().await.unwrap();
    body["error"].as_object_mut().unwrap().remove("request_id");
    (status, body)
}

async fn every_wrong_key_gets_the_same_401_whether_the_slug_exists_or_not(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("backup").await;
    let app = &p.app;
    let (revoked_id, revoked) = app
        .mint("revoked", Grant::Scopes(scopes(&[Scope::Checkins])), None)
        .await;
    app.state
        .store()
        .revoke_token(revoked_id, Utc::now())
        .await
        .unwrap();
    let expired = app
        .mint(
            "expired",
            Grant::Scopes(scopes(&[Scope::Checkins])),
            Some(Utc::now() - chrono::Duration::seconds(1)),
        )
        .await
        .1;
    let jobs_only = key(app, "jobs only", &[Scope::Jobs, Scope::Events]).await;
    let personal = app.mint_role(Role::Admin).await.1;
    let never_stored = token::generate(TokenKind::IngestKey)
        .secret
        .expose()
        .to_owned();
    let truncated = p.key[..p.key.len() - 1].to_owned();
    let wrong_keys = [
        ("revoked", revoked),
        ("expired", expired),
        ("without scope checkins", jobs_only),
        ("a personal token", personal),
        ("never stored", never_stored),
        ("truncated", truncated),
        ("malformed", "not-a-key".to_owned()),
    ];
    let mut answers = Vec::new();
    for (what, wrong) in &wrong_keys {
        for slug in ["backup", "nothing-here", "backup/start", "nothing-here/1"] {
            let url = app.url(&format!("/ping/{wrong}/{slug}"));
            let response = app.client.get(&url).send().await.unwrap();
            assert_eq!(response.headers()["ping-body-limit"], "102400");
            let answer = anonymous(response).await;
            assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{what} key, {slug}");
            answers.push(answer);
        }
        let head = app.client.head(app.url(&format!("/ping/{wrong}/backup")));
        let head = head.send().await.unwrap();
        assert_eq!(head.status(), StatusCode::UNAUTHORIZED, "{what} key, HEAD");
    }
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "one answer for every wrong key: {answers:#?}"
    );
    assert_eq!(answers[0].1["error"]["code"], "invalid_ping_key");
    assert!(
        p.runs("backup").await.is_empty(),
        "refused pings store nothing"
    );
    p.ok("backup").await;
}

fn scopes(scopes: &[Scope]) -> token::Scopes {
    token::Scopes::new(scopes.iter().copied()).unwrap()
}

async fn failed_key_lookups_spend_the_address_budget(db: TestDb) {
    let p = Pinger::spawn_with(db, |c| {
        c.rate_limit.failed_auth_burst = 3;
        c.rate_limit.failed_auth_per_minute = 1;
    })
    .await;
    p.monitor("backup").await;
    let wrong = token::generate(TokenKind::IngestKey);
    let url = p
        .app
        .url(&format!("/ping/{}/backup", wrong.secret.expose()));
    for _ in 0..3 {
        let response = p.app.client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = p.app.client.get(&url).send().await.unwrap();
    assert!(blocked.headers().contains_key("retry-after"));
    refusal(blocked, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Blocked: not even a valid key is looked up from this address now.
    let valid = p.ping(Method::GET, "backup", "").await;
    assert_eq!(valid.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(p.runs("backup").await.is_empty());
}

async fn each_key_has_its_own_ingest_budget(db: TestDb) {
    let p = Pinger::spawn_with(db, |c| {
        c.rate_limit.ingest_burst = 2;
        c.rate_limit.ingest_per_minute = 1;
    })
    .await;
    p.monitor("busy").await;
    p.ok("busy").await;
    p.ok("busy").await;
    let limited = p.ping(Method::GET, "busy", "").await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    refusal(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    let other = key(&p.app, "other", &[Scope::Checkins]).await;
    let url = p.app.url(&format!("/ping/{other}/busy"));
    let response = p.app.client.get(&url).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "another key has its own budget"
    );
    assert_eq!(p.runs("busy").await.len(), 3);
}
