//! SPEC §2 rate limits: failed authentication per client address (with `X-Forwarded-For`
//! believed only from trusted proxies), reads and tighter writes per principal, 429 answers
//! with the envelope, `Retry-After` and the draft `RateLimit` headers; and memory that stays
//! bounded under many distinct keys, on a clock the test moves.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_core::ids::TokenName;
use opsdeck_core::token::{self, Grant, NewToken};
use opsdeck_server::config::{Cidr, Config, Env, RateLimitConfig, TrustedProxies};
use opsdeck_server::ratelimit::{FakeRelativeClock, RateLimits};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::db::TestDb;

const BAD_TOKEN: &str = "opsdeck_pat_not-a-real-token";

async fn admin_token(app: &TestApp, name: &str) -> String {
    let new = NewToken {
        name: TokenName::parse(name).unwrap(),
        grant: Grant::Role(Role::Admin),
        created_by: Some("test".into()),
        expires_at: None,
    };
    let secret = token::generate(new.kind());
    app.state
        .store()
        .create_token(&new, &secret.hash, &secret.display, Utc::now())
        .await
        .unwrap();
    secret.secret.expose().to_owned()
}

/// GET `path` with a bearer token and, optionally, an `X-Forwarded-For` header.
async fn get_as(app: &TestApp, path: &str, token: &str, forwarded_for: Option<&str>) -> Response {
    let mut request = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(addr) = forwarded_for {
        request = request.header("x-forwarded-for", addr);
    }
    request.send().await.unwrap()
}

async fn create_token(app: &TestApp, admin: &str, name: &str) -> Response {
    app.client
        .post(app.url("/ops/tokens"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"name": name, "role": "viewer", "reason": "test"}))
        .send()
        .await
        .unwrap()
}

fn header<'r>(response: &'r Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Asserts a 429 for `policy` with the envelope and every header; returns Retry-After.
async fn assert_limited(response: Response, policy: &str) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&response, "retry-after").parse().unwrap();
    assert!(retry_after >= 1);
    assert!(
        header(&response, "ratelimit-policy").starts_with(&format!("\"{policy}\";q=")),
        "{:?}",
        response.headers()
    );
    assert_eq!(
        header(&response, "ratelimit"),
        format!("\"{policy}\";r=0;t={retry_after}")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!("retry in {retry_after} s")),
        "{message}"
    );
    assert!(body["error"]["request_id"].as_str().is_some());
    retry_after
}

fn limits(tweak: impl FnOnce(&mut RateLimitConfig)) -> impl FnOnce(&mut Config) {
    move |config: &mut Config| tweak(&mut config.rate_limit)
}

#[tokio::test]
async fn brute_force_gets_429_long_before_a_guess_and_then_even_a_valid_token_is_refused() {
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        limits(|l| {
            l.failed_auth_per_minute = 1;
            l.failed_auth_burst = 3;
        }),
    )
    .await;
    let admin = admin_token(&app, "admin").await;
    assert_eq!(
        get_as(&app, "/ops/instances", &admin, None).await.status(),
        StatusCode::OK,
        "a valid token spends nothing"
    );

    for remaining in [2, 1, 0] {
        let response = get_as(&app, "/ops/instances", BAD_TOKEN, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"failed-auth\";q=3;w=180"
        );
        assert!(
            header(&response, "ratelimit").starts_with(&format!("\"failed-auth\";r={remaining}")),
            "{:?}",
            response.headers()
        );
    }
    let retry_after = assert_limited(
        get_as(&app, "/ops/instances", BAD_TOKEN, None).await,
        "failed-auth",
    )
    .await;
    assert!(retry_after <= 60, "one unit refills within a minute");

    // Blocked: the credential is not even looked up, so a valid one fares no better.
    assert_limited(
        get_as(&app, "/ops/instances", &admin, None).await,
        "failed-auth",
    )
    .await;
    // Public routes without credentials still answer.
    assert_eq!(app.get("/livez").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn reads_beyond_the_burst_get_429_while_another_principal_is_unaffected() {
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        limits(|l| {
            l.reads_per_minute = 1;
            l.read_burst = 3;
        }),
    )
    .await;
    let alice = admin_token(&app, "alice").await;
    let bob = admin_token(&app, "bob").await;

    for remaining in [2, 1, 0] {
        let response = get_as(&app, "/ops/instances", &alice, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-policy"), "\"reads\";q=3;w=180");
        assert!(header(&response, "ratelimit").starts_with(&format!("\"reads\";r={remaining}")));
    }
    assert_limited(get_as(&app, "/ops/instances", &alice, None).await, "reads").await;

    let response = get_as(&app, "/ops/instances", &bob, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "ratelimit"), "\"reads\";r=2");
}

#[tokio::test]
async fn writes_have_their_own_tighter_budget() {
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        limits(|l| {
            l.writes_per_minute = 1;
            l.write_burst = 2;
        }),
    )
    .await;
    let admin = admin_token(&app, "admin").await;

    for (i, remaining) in [1, 0].into_iter().enumerate() {
        let response = create_token(&app, &admin, &format!("made-{i}")).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"writes\";q=2;w=120"
        );
        assert!(header(&response, "ratelimit").starts_with(&format!("\"writes\";r={remaining}")));
    }
    assert_limited(create_token(&app, &admin, "one-too-many").await, "writes").await;

    // Reads are a separate budget, untouched by the writes.
    let response = get_as(&app, "/ops/tokens", &admin, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "ratelimit").starts_with("\"reads\";r="));
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(
        tokens["tokens"].as_array().unwrap().len(),
        3,
        "the refused write created nothing"
    );
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_does_not_reset_the_failed_auth_budget() {
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        limits(|l| {
            l.failed_auth_per_minute = 1;
            l.failed_auth_burst = 2;
        }),
    )
    .await;
    for i in 1..=2 {
        let spoofed = format!("203.0.113.{i}");
        let response = get_as(&app, "/ops/instances", BAD_TOKEN, Some(&spoofed)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // A new forged address each time changes nothing: the peer is the client.
    assert_limited(
        get_as(&app, "/ops/instances", BAD_TOKEN, Some("198.51.100.99")).await,
        "failed-auth",
    )
    .await;
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_names_the_client() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.server.trusted_proxies =
            TrustedProxies::new(vec![Cidr::parse("127.0.0.1/32").unwrap()]);
        config.rate_limit.failed_auth_per_minute = 1;
        config.rate_limit.failed_auth_burst = 2;
    })
    .await;
    let admin = admin_token(&app, "admin").await;
    let attacker = Some("203.0.113.7");
    for _ in 0..2 {
        let response = get_as(&app, "/ops/instances", BAD_TOKEN, attacker).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_limited(
        get_as(&app, "/ops/instances", &admin, attacker).await,
        "failed-auth",
    )
    .await;

    // Another client behind the same proxy keeps its own budget.
    let response = get_as(&app, "/ops/instances", &admin, Some("198.51.100.1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = get_as(&app, "/ops/instances", BAD_TOKEN, Some("198.51.100.1")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

fn tight() -> RateLimitConfig {
    RateLimitConfig {
        reads_per_minute: 60,
        read_burst: 2,
        failed_auth_per_minute: 60,
        failed_auth_burst: 2,
        ..RateLimitConfig::default()
    }
}

#[test]
fn memory_stays_bounded_under_many_distinct_keys() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_clock(&tight(), clock.clone());
    let keys = 100_000;
    for i in 0..keys {
        assert!(limits.check_read(&format!("principal-{i}")).is_ok());
    }
    let addresses = 20_000u32;
    for i in 0..addresses {
        let ip = IpAddr::from(Ipv4Addr::from(0x0A00_0000u32 + i));
        assert!(limits.record_failed_auth(ip).is_ok());
    }
    assert_eq!(limits.len(), keys + addresses as usize);

    // Swept at once, every key is still in use.
    limits.retain_recent();
    assert_eq!(limits.len(), keys + addresses as usize);

    // Once the budgets are full again the keys are indistinguishable from unseen ones.
    clock.advance(Duration::from_secs(10));
    assert!(limits.check_read("still-busy").is_ok());
    limits.retain_recent();
    limits.shrink_to_fit();
    assert_eq!(limits.len(), 1, "only the key used since is kept");
}

#[test]
fn a_spent_budget_refills_with_time_and_looking_spends_nothing() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_clock(&tight(), clock.clone());
    let client: IpAddr = "192.0.2.1".parse().unwrap();

    for _ in 0..10 {
        assert!(limits.check_auth_allowed(client).is_ok());
    }
    assert!(limits.is_empty(), "a look adds no key");
    assert!(limits.record_failed_auth(client).is_ok());
    assert!(limits.record_failed_auth(client).is_ok());
    let limited = limits.check_auth_allowed(client).unwrap_err();
    assert_eq!(
        (limited.policy(), limited.retry_after_secs()),
        ("failed-auth", 1)
    );
    assert!(limits.record_failed_auth(client).is_err());

    clock.advance(Duration::from_secs(1));
    assert!(limits.check_auth_allowed(client).is_ok());
    assert!(limits.record_failed_auth(client).is_ok());
    assert!(limits.check_auth_allowed(client).is_err());
}

#[test]
fn ipv6_addresses_count_per_64_and_ingest_keys_have_their_own_budget() {
    let limits = RateLimits::with_clock(&tight(), FakeRelativeClock::default());
    for host in ["2001:db8:1:2::1", "2001:db8:1:2::ffff"] {
        assert!(limits.record_failed_auth(host.parse().unwrap()).is_ok());
    }
    assert!(
        limits
            .check_auth_allowed("2001:db8:1:2:abcd::9".parse().unwrap())
            .is_err()
    );
    assert!(
        limits
            .check_auth_allowed("2001:db8:1:3::1".parse().unwrap())
            .is_ok()
    );

    let key = uuid::Uuid::new_v4();
    let burst = RateLimitConfig::default().ingest_burst;
    for _ in 0..burst {
        assert!(limits.check_ingest(key).is_ok());
    }
    assert_eq!(limits.check_ingest(key).unwrap_err().policy(), "ingest");
    assert!(limits.check_ingest(uuid::Uuid::new_v4()).is_ok());
}

#[test]
fn disabled_limits_refuse_nothing() {
    let config = RateLimitConfig {
        enabled: false,
        ..tight()
    };
    let limits = RateLimits::with_clock(&config, FakeRelativeClock::default());
    let client: IpAddr = "192.0.2.1".parse().unwrap();
    for _ in 0..10 {
        assert!(limits.check_read("someone").unwrap().remaining().is_none());
        assert!(limits.record_failed_auth(client).is_ok());
    }
    assert!(limits.check_auth_allowed(client).is_ok());
    assert!(limits.is_empty());
}

#[test]
fn zero_budgets_are_configuration_errors() {
    let text = "[rate_limit]\nread_burst = 0\nfailed_auth_per_minute = 0\n";
    let errors = Config::from_toml_str(text, "test.toml", &Env::default()).unwrap_err();
    assert!(errors.has("rate_limit.read_burst"), "{errors}");
    assert!(errors.has("rate_limit.failed_auth_per_minute"), "{errors}");
    let config = Config::from_toml_str("[rate_limit]\nenabled = false\n", "t", &Env::default())
        .expect("valid");
    assert!(!config.rate_limit.enabled);
}
