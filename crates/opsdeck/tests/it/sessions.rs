//! Dashboard sessions over real HTTP: sign-in with a token sets a hardened cookie, the
//! session authenticates, state changes need same-origin and the CSRF token, logout and
//! token revocation end the session, and sign-in events are audited.

use opsdeck_core::Clock as _;
use opsdeck_core::audit::AuditFilter;
use opsdeck_core::auth::Role;
use opsdeck_core::session::SessionHash;
use reqwest::StatusCode;
use serde_json::json;

use crate::access::ClockedApp;
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;
use std::time::Duration;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in; returns the `name=value` cookie pair.
async fn sign_in(app: &TestApp, token: &str) -> String {
    let response = client()
        .post(app.url("/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", token), ("next", "/ops/instances")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/ops/instances");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Secure",
        "Max-Age=",
    ] {
        assert!(
            cookie.contains(attribute),
            "cookie has {attribute}: {cookie}"
        );
    }
    assert!(cookie.starts_with("opsdeck_session="));
    cookie.split(';').next().unwrap().to_owned()
}

async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    let body: serde_json::Value = client()
        .get(app.url("/ops/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["method"], "session");
    body["csrf_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_page_renders_and_a_bad_token_is_refused_and_audited() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let page = client()
        .get(app.url("/login?next=/ops/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"token\"") && html.contains("value=\"/ops/audit\""));

    let refused = client()
        .post(app.url("/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", "opsdeck_pat_wrong"), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("set-cookie").is_none());
    let html = refused.text().await.unwrap();
    assert!(html.contains("not a valid opsdeck token"), "{html}");
    assert!(!html.contains("evil.example"), "open redirects are dropped");

    let cross_site = client()
        .post(app.url("/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        cross_site.status(),
        StatusCode::FORBIDDEN,
        "login CSRF is refused"
    );

    // Failed sign-ins are queued to the audit writer behind the response: wait for it.
    let store = app.state.store().clone();
    let entries = wait_for_async(Duration::from_secs(5), "the failed sign-in entry", || {
        let store = store.clone();
        async move {
            let entries = store
                .list_audit(&AuditFilter {
                    action: Some("auth.login_failed".into()),
                    ..AuditFilter::default()
                })
                .await
                .unwrap();
            (!entries.is_empty()).then_some(entries)
        }
    })
    .await;
    assert_eq!(entries.len(), 1);
}

#[tokio::test]
async fn a_session_works_needs_csrf_for_writes_and_ends_on_logout() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let cookie = sign_in(&app, &admin).await;
    let http = client();

    let read = http
        .get(app.url("/ops/instances"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);

    let csrf = csrf_of(&app, &cookie).await;
    let create = |csrf: Option<&str>, site: &str| {
        let mut request = http
            .post(app.url("/ops/tokens"))
            .header("cookie", &cookie)
            .header("sec-fetch-site", site)
            .json(&json!({"name": "made-in-browser", "role": "viewer", "reason": "test"}));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    assert_eq!(
        create(None, "same-origin").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        create(Some("wrong"), "same-origin").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        create(Some(&csrf), "cross-site").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        create(Some(&csrf), "same-origin").await.unwrap().status(),
        StatusCode::CREATED
    );

    // Logout needs the form's CSRF token too.
    let bad_logout = http
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf_token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_logout.status(), StatusCode::FORBIDDEN);
    let logout = http
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = http
        .get(app.url("/ops/instances"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the session ended"
    );

    let store = app.state.store();
    for action in ["auth.login", "auth.logout", "token.created"] {
        let found = store
            .list_audit(&AuditFilter {
                action: Some(action.into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{action} audited once");
    }
}

#[tokio::test]
async fn revoking_the_token_ends_its_sessions() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (viewer_id, viewer) = app.mint_role(Role::Viewer).await;
    let cookie = sign_in(&app, &viewer).await;
    let http = client();
    assert_eq!(
        http.get(app.url("/ops/instances"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let revoke = http
        .delete(app.url(&format!("/ops/tokens/{viewer_id}")))
        .bearer_auth(&admin)
        .json(&json!({"reason": "left the team"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let after = http
        .get(app.url("/ops/instances"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let page = http
        .get(app.url("/login"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the login page still opens with a dead cookie"
    );
}

/// Signs in to a [`ClockedApp`]; returns the `name=value` cookie pair.
async fn sign_in_clocked(app: &ClockedApp, token: &str) -> String {
    let response = client()
        .post(app.url("/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", token), ("next", "/ops/session")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn session_status(app: &ClockedApp, cookie: &str) -> StatusCode {
    client()
        .get(app.url("/ops/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_cached_session_is_still_touched_and_ends_the_instant_it_idles_out() {
    let app = ClockedApp::spawn().await;
    let idle = app.state.config().session.idle_timeout;
    let (_, token) = app.mint(Role::Viewer, None).await;
    let cookie = sign_in_clocked(&app, &token).await;
    let secret = cookie.split_once('=').unwrap().1;
    let hash = SessionHash::of(secret).unwrap();
    assert_eq!(session_status(&app, &cookie).await, StatusCode::OK);

    // Busy: a request shortly before each idle deadline keeps the session alive, because it
    // is still written down as seen although the session itself comes from the cache.
    for _ in 0..3 {
        app.clock.advance(idle - Duration::from_secs(1));
        assert_eq!(session_status(&app, &cookie).await, StatusCode::OK);
        let stored = app
            .state
            .store()
            .find_session(&hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.last_seen_at.timestamp_millis(),
            app.clock.now().timestamp_millis(),
            "the request was recorded as the session's last use"
        );
    }
    // Idle: at the deadline it is over, with no wall-clock time for a cache entry to age.
    app.clock.advance(idle);
    assert_eq!(
        session_status(&app, &cookie).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_cached_session_ends_the_instant_its_token_expires() {
    let app = ClockedApp::spawn().await;
    let (_, token) = app
        .mint(Role::Viewer, Some(chrono::Duration::minutes(10)))
        .await;
    let cookie = sign_in_clocked(&app, &token).await;
    assert_eq!(session_status(&app, &cookie).await, StatusCode::OK);
    app.clock.advance(Duration::from_secs(10 * 60 - 1));
    assert_eq!(session_status(&app, &cookie).await, StatusCode::OK);
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(
        session_status(&app, &cookie).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_cached_session_ends_at_once_on_logout_and_on_revoking_its_token() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (viewer_id, viewer) = app.mint_role(Role::Viewer).await;
    let http = client();
    let get = |cookie: String| {
        let request = http.get(app.url("/ops/session")).header("cookie", cookie);
        async move { request.send().await.unwrap().status() }
    };

    // Logout: the next request with the same cookie (a copy an attacker kept) is anonymous.
    let cookie = sign_in(&app, &viewer).await;
    let csrf = csrf_of(&app, &cookie).await;
    assert_eq!(get(cookie.clone()).await, StatusCode::OK);
    let logout = http
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(get(cookie).await, StatusCode::UNAUTHORIZED);

    // Revocation of the token it was opened with.
    let cookie = sign_in(&app, &viewer).await;
    for _ in 0..2 {
        assert_eq!(get(cookie.clone()).await, StatusCode::OK);
    }
    let revoke = http
        .delete(app.url(&format!("/ops/tokens/{viewer_id}")))
        .bearer_auth(&admin)
        .json(&json!({"reason": "left the team"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(cookie).await, StatusCode::UNAUTHORIZED);
}
