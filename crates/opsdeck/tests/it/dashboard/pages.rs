//! The dashboard over plain HTTP: every page for every role (walked from the route table),
//! the navigation each role sees, security headers, static assets, and the overview's time
//! to first byte.

use std::time::{Duration, Instant};

use opsdeck_core::auth::{Permission, Role};
use opsdeck_core::cron::{MonitorSource, MonitorSpec};
use opsdeck_core::ids::Slug;
use opsdeck_server::config::{PushKeys, SourceConfig};
use opsdeck_server::queues::record_snapshot;
use opsdeck_server::router::{Access, Kind, route_table};
use reqwest::{Method, StatusCode};

use super::{client, fast_health};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

/// A page route with its parameters filled with something that exists (the monitor and
/// the queue with its failed job are created by the test that walks the pages).
fn page_path(template: &str) -> String {
    template
        .replace("{name}", "opsdeck-database")
        .replace("{slug}", PROBE_MONITOR)
        .replace("{source}", "probe-source")
        .replace("{queue}", "probe-queue")
        .replace("{id}", "probe-job")
}

const PROBE_MONITOR: &str = "dashboard-probe";

fn assert_page_headers(response: &reqwest::Response, what: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name} header"))
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"), "{what}");
    let csp = header("content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
    assert!(!header("referrer-policy").is_empty(), "{what}");
}

/// Nothing the CSP would block: no inline script, style element or style attribute.
fn assert_no_inline_code(body: &str, what: &str) {
    assert!(!body.contains("<style"), "{what}: inline <style>");
    assert!(!body.contains(" style="), "{what}: style attribute");
    for (i, _) in body.match_indices("<script") {
        let tag_end = body[i..].find('>').map(|e| i + e).unwrap();
        assert!(body[i..tag_end].contains("src="), "{what}: inline <script>");
        assert!(
            body[tag_end + 1..].starts_with("</script>"),
            "{what}: script with a body"
        );
    }
}

#[tokio::test]
async fn every_page_answers_its_roles_and_refuses_or_redirects_the_rest() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.rate_limit.enabled = false;
        c.queues.sources = vec![SourceConfig::push("probe-source", PushKeys::default())];
        // A tenant query for `/tenants/{id}/queries/{name}`, read from opsdeck's own SQLite
        // file (any readable database does).
        c.tenants.url = Some(c.database.url.clone());
        c.tenants.queries = vec![opsdeck_server::config::TenantQueryConfig {
            name: "opsdeck-database".to_owned(),
            url: None,
            sql: "SELECT $1 AS tenant".to_owned(),
            kind: opsdeck_connectors::tenants::QueryKind::Profile,
            mask: Vec::new(),
            timeout: None,
            row_limit: None,
        }];
    })
    .await;
    let snapshot = serde_json::from_value(serde_json::json!({
        "counts": {"failed": 1}, "failures": [{"id": "probe-job", "error": "boom"}]
    }))
    .unwrap();
    record_snapshot(app.state.queues(), "probe-queue", snapshot)
        .await
        .unwrap();
    let spec = MonitorSpec::auto_created(Slug::parse(PROBE_MONITOR).unwrap());
    let store = app.state.store();
    let now = chrono::Utc::now();
    store
        .create_monitor(&spec, MonitorSource::Api, now)
        .await
        .unwrap();
    let http = client();
    let mut tokens = Vec::new();
    for role in Role::ALL {
        tokens.push((role, app.mint_role(role).await.1));
    }
    let table = route_table();
    let pages: Vec<_> = table
        .routes()
        .iter()
        .filter(|r| r.kind == Kind::Html && r.method == Method::GET && r.path != "/login")
        .filter(|r| r.path != "/static/{file}")
        .collect();
    assert!(pages.len() >= 10, "the dashboard's pages: {pages:?}");
    for route in pages {
        let Access::Requires(permission) = route.access else {
            panic!("{} is an HTML page but public", route.path);
        };
        let path = page_path(&route.path);
        let anonymous = http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "{path}");
        let location = anonymous.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with("/login?next=%2F") || location.starts_with("/login?next=/"),
            "{path}: {location}"
        );
        for (role, token) in &tokens {
            let what = format!("GET {path} as {role}");
            let response = http
                .get(app.url(&path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            if role.allows(permission) {
                assert_eq!(response.status(), StatusCode::OK, "{what}");
                assert_page_headers(&response, &what);
                let body = response.text().await.unwrap();
                assert_no_inline_code(&body, &what);
            } else {
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
                // A browser gets a page saying so, not the JSON API's envelope.
                assert_page_headers(&response, &what);
                let body = response.text().await.unwrap();
                assert!(
                    body.contains("Not allowed") && body.contains(role.as_str()),
                    "{what}: {body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_navigation_offers_only_what_the_role_may_open() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let expected = [
        ("/health", Permission::ReadOps),
        ("/cron", Permission::ReadOps),
        ("/queues", Permission::ReadOps),
        ("/alerts", Permission::ReadOps),
        ("/tenants", Permission::ReadTenants),
        ("/audit", Permission::Administer),
        ("/tokens", Permission::Administer),
    ];
    for role in Role::ALL {
        let (_, token) = app.mint_role(role).await;
        let body = client()
            .get(app.url("/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let nav = &body[body.find("<nav").unwrap()..body.find("</nav>").unwrap()];
        for (href, permission) in expected {
            let link = format!("href=\"{href}\"");
            assert_eq!(
                nav.contains(&link),
                role.allows(permission),
                "{role} and the {href} link: {nav}"
            );
        }
        assert!(
            body.contains(&format!("role-{role}")),
            "the header names the role"
        );
        assert!(body.contains("action=\"/logout\""), "a logout form");
    }
}

#[tokio::test]
async fn static_assets_are_served_with_types_and_long_caching() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let login = client().get(app.url("/login")).send().await.unwrap();
    assert_page_headers(&login, "GET /login");
    let body = login.text().await.unwrap();
    assert_no_inline_code(&body, "GET /login");
    for (file, content_type) in [
        ("app.css", "text/css"),
        ("app.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let start = body
            .find(&format!("/static/{file}?v="))
            .unwrap_or_else(|| panic!("the login page links {file}: {body}"));
        let href = &body[start..start + body[start..].find('"').unwrap()];
        let response = client().get(app.url(href)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{href}");
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{href}: {:?}",
            headers["content-type"]
        );
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable"),
            "{href}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let etag = headers["etag"].clone();
        let again = client()
            .get(app.url(href))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{href}");
        // An outdated version in the URL is served, but not cached for good.
        let stale = client()
            .get(app.url(&format!("/static/{file}?v=0")))
            .send()
            .await
            .unwrap();
        assert_eq!(stale.headers()["cache-control"], "no-cache");
    }
    let missing = client()
        .get(app.url("/static/nope.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn overview_first_byte_is_measured() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| fast_health(c, None)).await;
    let (_, token) = app.mint_role(Role::Viewer).await;
    let http = client();
    let mut times = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        let response = http
            .get(app.url("/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.unwrap();
    }
    times.sort();
    eprintln!(
        "overview time to first byte over {} requests: median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        times.len(),
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() * 9 / 10].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
    );
}

/// Opening a page is audited; the page's own in-place refreshes are not (one open tab
/// would otherwise add an entry every few seconds), but a refused refresh is.
#[tokio::test]
async fn page_views_are_audited_and_their_refreshes_are_not() {
    use opsdeck_core::audit::AuditFilter;

    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    for path in ["/", "/overview/live", "/overview/live"] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let anonymous = app.get("/overview/live").await;
    assert_eq!(anonymous.url().path(), "/login", "sent to sign in");
    let count = |action: &'static str| {
        let store = app.state.store().clone();
        async move {
            store
                .list_audit(&AuditFilter {
                    action: Some(action.to_owned()),
                    ..AuditFilter::default()
                })
                .await
                .unwrap()
                .len()
        }
    };
    wait_for_async(
        Duration::from_secs(10),
        "the page view's audit entry",
        || async {
            (count("GET /").await == 1 && count("GET /overview/live").await == 1).then_some(())
        },
    )
    .await;
    // The one refresh entry is the refused, anonymous one.
    let refresh = app
        .state
        .store()
        .list_audit(&AuditFilter {
            action: Some("GET /overview/live".to_owned()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(refresh[0].record.actor.is_none(), "{refresh:?}");
}
