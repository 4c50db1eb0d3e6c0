//! The commands the tokens page shows name opsdeck as the browser reached it: the `Host`
//! it asked for, and the `X-Forwarded-Proto`/`X-Forwarded-Host` of a proxy only when that
//! proxy is in `server.trusted_proxies`, as for client addresses.

use opsdeck_core::auth::Role;
use opsdeck_server::config::{Cidr, TrustedProxies};
use reqwest::StatusCode;

use super::client;
use crate::support::app::TestApp;
use crate::support::db::TestDb;

/// The tokens page as fetched with `headers`.
async fn tokens_page(app: &TestApp, token: &str, headers: &[(&str, &str)]) -> String {
    let mut request = client().get(app.url("/tokens")).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

fn curl_base(page: &str) -> &str {
    let start = page.find("curl -X POST ").expect("a curl example") + "curl -X POST ".len();
    let end = start + page[start..].find("/ops/tokens").expect("the route");
    &page[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_commands_name_the_address_the_browser_used() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let page = tokens_page(&app, &admin, &[]).await;
    assert_eq!(curl_base(&page), app.url(""), "the address asked for");
    let page = tokens_page(&app, &admin, &[("host", "ops.example.com:8443")]).await;
    assert_eq!(curl_base(&page), "http://ops.example.com:8443");
    // Nobody trusted forwards: the headers of a client are not taken.
    let forged = [
        ("host", "ops.example.com"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "phish.example"),
    ];
    let page = tokens_page(&app, &admin, &forged).await;
    assert_eq!(curl_base(&page), "http://ops.example.com");
    // A host that is no bare host is not shown.
    let page = tokens_page(&app, &admin, &[("host", "user@evil.example")]).await;
    assert!(!curl_base(&page).contains("evil"), "{}", curl_base(&page));
    app.shutdown().await.unwrap();

    let proxied = TestApp::spawn_with(TestDb::sqlite(), |config| {
        let local: Cidr = "127.0.0.1/32".parse().unwrap();
        config.server.trusted_proxies = TrustedProxies::new(vec![local]);
    })
    .await;
    let (_, admin) = proxied.mint_role(Role::Admin).await;
    let behind = [
        ("host", "10.0.0.7:8080"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "ops.example.com"),
    ];
    let page = tokens_page(&proxied, &admin, &behind).await;
    assert_eq!(curl_base(&page), "https://ops.example.com");
    proxied.shutdown().await.unwrap();
}
