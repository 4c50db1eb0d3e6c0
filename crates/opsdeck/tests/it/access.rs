//! The proof of SPEC §2's access rules over every route the router serves (walked from the
//! route table, not a hand-kept list), for every kind of caller: nobody, an ingest key, each
//! role, a revoked token, an expired token and malformed credentials.

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_core::token::{Grant, Scope, Scopes};
use opsdeck_server::router::{Access, Kind, route_table};
use reqwest::{Method, StatusCode};

use crate::support;
use crate::support::app::TestApp;
use crate::support::db::TestDb;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    Ingest,
    Personal(Role),
    Revoked,
    Expired,
    Malformed,
}

struct Caller {
    who: Who,
    authorization: Option<String>,
}

async fn callers(app: &TestApp) -> Vec<Caller> {
    let mut callers = vec![Caller {
        who: Who::Nobody,
        authorization: None,
    }];
    for role in Role::ALL {
        let (_, secret) = app.mint(role.as_str(), Grant::Role(role), None).await;
        callers.push(Caller {
            who: Who::Personal(role),
            authorization: Some(format!("Bearer {secret}")),
        });
    }
    let (_, key) = app
        .mint(
            "ingest",
            Grant::Scopes(Scopes::new([Scope::Checkins, Scope::Jobs, Scope::Events]).unwrap()),
            None,
        )
        .await;
    callers.push(Caller {
        who: Who::Ingest,
        authorization: Some(format!("Bearer {key}")),
    });
    let (id, revoked) = app.mint("revoked", Grant::Role(Role::Admin), None).await;
    assert!(
        app.state
            .store()
            .revoke_token(id, Utc::now())
            .await
            .unwrap()
    );
    callers.push(Caller {
        who: Who::Revoked,
        authorization: Some(format!("Bearer {revoked}")),
    });
    let (_, expired) = app
        .mint(
            "expired",
            Grant::Role(Role::Admin),
            Some(Utc::now() - chrono::Duration::seconds(1)),
        )
        .await;
    callers.push(Caller {
        who: Who::Expired,
        authorization: Some(format!("Bearer {expired}")),
    });
    let (_, admin) = app.mint("truncated", Grant::Role(Role::Admin), None).await;
    for malformed in [
        "Bearer".to_owned(),
        "Basic YWRtaW46YWRtaW4=".to_owned(),
        "Bearer not-an-opsdeck-token".to_owned(),
        format!("Bearer {}", &admin[..admin.len() - 1]),
        // The last character changed to another one: the checksum no longer matches.
        format!(
            "Bearer {}{}",
            &admin[..admin.len() - 1],
            if admin.ends_with('x') { 'y' } else { 'x' }
        ),
    ] {
        callers.push(Caller {
            who: Who::Malformed,
            authorization: Some(malformed),
        });
    }
    callers
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_spec_section_two_says() {
    // Dozens of bad credentials from one address would trip the failed-auth limit, which
    // rate_limits.rs proves on its own; here every answer must come from authorization.
    // Impersonation on, so its routes answer as configured, not only as disabled.
    let app = TestApp::spawn_with(TestDb::sqlite(), crate::impersonation::enable).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let callers = callers(&app).await;
    let table = route_table();
    let mut checked = 0;
    for route in table.routes() {
        for caller in &callers {
            let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
            let mut request = client
                .request(method, app.url(&support::concrete_path(&route.path)))
                .header("content-type", "application/json")
                .body("{}");
            if let Some(value) = &caller.authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let what = format!(
                "{} {} as {:?} ({:?})",
                route.method, route.path, caller.who, caller.authorization
            );
            let bad_credentials =
                matches!(caller.who, Who::Revoked | Who::Expired | Who::Malformed);
            match route.access {
                Access::Public if route.path.contains("{key}") => {
                    // A ping URL: the key in its path is the credential, and the
                    // placeholder is a wrong one whoever calls (pings.rs proves that a
                    // right one gets through).
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                }
                Access::Public => {
                    if bad_credentials {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    } else {
                        assert!(
                            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                            "{what}: {status}"
                        );
                    }
                }
                Access::ScrapeToken => {
                    let allowed = matches!(caller.who, Who::Personal(role) if role.allows(opsdeck_core::auth::Permission::ReadOps));
                    if allowed {
                        assert_eq!(status, StatusCode::OK, "{what}");
                    } else if matches!(caller.who, Who::Ingest) {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    } else {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    }
                }
                // The ingest key minted above carries every scope.
                Access::Ingest(_) => match caller.who {
                    Who::Ingest => assert!(
                        status != StatusCode::UNAUTHORIZED
                            && status != StatusCode::FORBIDDEN
                            && !status.is_server_error(),
                        "{what}: an ingest key gets through, got {status}"
                    ),
                    Who::Personal(_) => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
                    Who::Nobody | Who::Revoked | Who::Expired | Who::Malformed => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                        let body: serde_json::Value = response.json().await.unwrap();
                        assert!(body["error"]["code"].is_string(), "{what}: envelope");
                    }
                },
                Access::Requires(permission) => match caller.who {
                    Who::Nobody if route.kind == Kind::Html => {
                        assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
                    }
                    Who::Nobody | Who::Revoked | Who::Expired | Who::Malformed => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                        let body: serde_json::Value = response.json().await.unwrap();
                        assert!(body["error"]["code"].is_string(), "{what}: envelope");
                    }
                    Who::Ingest => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
                    Who::Personal(role) if role.allows(permission) => assert!(
                        status != StatusCode::UNAUTHORIZED
                            && status != StatusCode::FORBIDDEN
                            && !status.is_server_error(),
                        "{what}: the right role gets through, got {status}"
                    ),
                    Who::Personal(_) => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
                },
            }
            checked += 1;
        }
    }
    assert!(
        checked >= table.routes().len() * 10,
        "walked {checked} route × caller pairs"
    );
}

/// An app on a fresh SQLite database whose clock only moves when the test says so: for
/// proving that expiry is checked on every request, also for credentials the app has cached.
pub(crate) struct ClockedApp {
    pub clock: std::sync::Arc<opsdeck_core::ManualClock>,
    pub state: opsdeck_server::state::AppState,
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ClockedApp {
    pub(crate) async fn spawn() -> Self {
        let db = TestDb::sqlite();
        let clock = std::sync::Arc::new(opsdeck_core::ManualClock::new(Utc::now()));
        let app = opsdeck_server::Application::build(
            support::app::test_config(&db.url),
            opsdeck_server::BuildOptions {
                clock: clock.clone(),
            },
        )
        .await
        .expect("build app");
        let addr = app.local_addr().expect("local addr");
        let state = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // The database goes only once the app has stopped writing to it.
        tokio::spawn(async move {
            let _ = app.run_until(async move { drop(stopped.await) }).await;
            drop(db);
        });
        Self {
            clock,
            state,
            addr,
            stop: Some(stop),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A personal token created at the app's "now", expiring `lifetime` later if given.
    pub(crate) async fn mint(
        &self,
        role: Role,
        lifetime: Option<chrono::Duration>,
    ) -> (uuid::Uuid, String) {
        use opsdeck_core::Clock as _;
        let now = self.clock.now();
        let new = opsdeck_core::token::NewToken {
            name: opsdeck_core::ids::TokenName::parse(role.as_str()).unwrap(),
            grant: Grant::Role(role),
            created_by: Some("test".into()),
            expires_at: lifetime.map(|lifetime| now + lifetime),
        };
        let secret = opsdeck_core::token::generate(new.kind());
        let record = self
            .state
            .store()
            .create_token(&new, &secret.hash, &secret.display, now)
            .await
            .unwrap();
        (record.id, secret.secret.expose().to_owned())
    }
}

impl Drop for ClockedApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn whoami(client: &reqwest::Client, url: &str, token: &str) -> StatusCode {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_token_revoked_through_the_api_is_refused_at_once_though_it_was_just_cached() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (viewer_id, viewer) = app.mint_role(Role::Viewer).await;
    let url = app.url("/ops/session");
    // Two successes: the second is served from the credential cache.
    for _ in 0..2 {
        assert_eq!(whoami(&app.client, &url, &viewer).await, StatusCode::OK);
    }
    let revoked = app
        .client
        .delete(app.url(&format!("/ops/tokens/{viewer_id}")))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"reason": "laptop lost"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = app
        .client
        .get(&url)
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
    // The admin's own cached token is untouched by revoking another.
    assert_eq!(whoami(&app.client, &url, &admin).await, StatusCode::OK);
}

#[tokio::test]
async fn a_token_revoked_by_another_process_stops_working_within_the_cache_lifetime() {
    // What `opsdeck token revoke` or another replica does: write the database behind this
    // process's back. The cached success may be served for up to the cache's lifetime (the
    // README promises no more), then the store's answer counts. (Polling must not trip the
    // read limit.)
    // Impersonation on, so its routes answer as configured, not only as disabled.
    let app = TestApp::spawn_with(TestDb::sqlite(), crate::impersonation::enable).await;
    let (viewer_id, viewer) = app.mint_role(Role::Viewer).await;
    let url = app.url("/ops/session");
    assert_eq!(whoami(&app.client, &url, &viewer).await, StatusCode::OK);
    let revoked_at = std::time::Instant::now();
    assert!(
        app.state
            .store()
            .revoke_token(viewer_id, Utc::now())
            .await
            .unwrap()
    );
    let ttl = opsdeck_server::auth::cache::TTL;
    let status = support::wait_for_async(ttl * 2, "the revocation to take effect", || {
        let client = app.client.clone();
        let url = url.clone();
        let viewer = viewer.clone();
        async move {
            let status = whoami(&client, &url, &viewer).await;
            (status == StatusCode::UNAUTHORIZED).then_some(status)
        }
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        revoked_at.elapsed() <= ttl + std::time::Duration::from_secs(1),
        "took {:?}, the cache lifetime is {ttl:?}",
        revoked_at.elapsed()
    );
}

#[tokio::test]
async fn a_cached_token_is_refused_the_instant_it_expires() {
    let app = ClockedApp::spawn().await;
    let client = reqwest::Client::new();
    let url = app.url("/ops/session");
    let (_, token) = app
        .mint(Role::Viewer, Some(chrono::Duration::hours(1)))
        .await;
    for _ in 0..2 {
        assert_eq!(whoami(&client, &url, &token).await, StatusCode::OK);
    }
    // Just before the deadline it still works (and stays cached); at the deadline it does not,
    // though far less wall-clock time than the cache's lifetime has passed.
    app.clock.advance(std::time::Duration::from_secs(3600 - 1));
    assert_eq!(whoami(&client, &url, &token).await, StatusCode::OK);
    app.clock.advance(std::time::Duration::from_secs(1));
    let refused = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_tokens_are_not_cached_so_guessing_stays_rate_limited() {
    // The same well-formed but unknown token, again and again from one address: every try
    // is a failed authentication, and the failed-auth limit answers 429 long before the
    // tries run out. Nothing is remembered that would let a retry skip that.
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.rate_limit.failed_auth_per_minute = 1;
        c.rate_limit.failed_auth_burst = 3;
    })
    .await;
    let unknown = opsdeck_core::token::generate(opsdeck_core::token::TokenKind::Personal);
    let url = app.url("/ops/session");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(whoami(&app.client, &url, unknown.secret.expose()).await);
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3], "{statuses:?}");
    assert!(
        statuses[3..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}
