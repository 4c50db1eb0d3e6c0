//! Trusted proxy identity headers: believed from a trusted peer with the role map applied,
//! ignored (and stripped) from any other peer in every spelling, refused when ambiguous.

use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderName};
use opsdeck_core::auth::Role;
use opsdeck_server::auth::proxy::{identity_header_names, strip_identity_headers};
use opsdeck_server::config::{Cidr, Config, Env, ProxyConfig, RoleMap, TrustedProxies};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{admin_probe, audited};
use crate::support::app::TestApp;
use crate::support::db::TestDb;

/// Proxy auth on, trusting `trusted`, with a role map and no rate limits.
async fn app_trusting(trusted: &str) -> TestApp {
    TestApp::spawn_with(TestDb::sqlite(), |c| {
        let proxy = &mut c.auth.proxy;
        proxy.enabled = true;
        proxy.trusted = TrustedProxies::new(vec![Cidr::parse(trusted).expect("cidr")]);
        proxy.role_map = RoleMap::new([
            ("ops-admins".to_owned(), Role::Admin),
            ("engineering".to_owned(), Role::Viewer),
        ]);
        c.rate_limit.enabled = false;
    })
    .await
}

/// A GET written byte for byte, so header names keep exactly the spelling given (an HTTP
/// client library would normalise them); returns the status code.
async fn raw_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"))
}

const ADA: (&str, &str) = ("X-Forwarded-Email", "ada@example.com");

#[tokio::test]
async fn headers_from_a_trusted_peer_authenticate_with_the_mapped_role() {
    let app = app_trusting("127.0.0.1/32").await;
    let probe = admin_probe(&app).await;
    let viewer = [ADA, ("X-Forwarded-Groups", "engineering, other")];
    assert_eq!(raw_get(app.addr, "/ops/instances", &viewer).await, 200);
    assert_eq!(raw_get(probe, "/probe/admin", &viewer).await, 403);
    let admin = [ADA, ("X-Forwarded-Groups", "engineering,ops-admins")];
    assert_eq!(raw_get(probe, "/probe/admin", &admin).await, 200);

    let entries = audited(&app, "proxy:ada@example.com").await;
    let actor = entries[0].record.actor.as_ref().expect("actor");
    assert_eq!(actor.method, "proxy");
    // No identity at all from the trusted proxy: an anonymous request, as usual.
    assert_eq!(raw_get(app.addr, "/ops/instances", &[]).await, 401);
}

#[tokio::test]
async fn ambiguous_or_unmapped_identities_from_a_trusted_peer_are_refused() {
    let app = app_trusting("127.0.0.1/32").await;
    let groups = ("X-Forwarded-Groups", "engineering");
    for (case, headers) in [
        (
            "no mapped group",
            vec![ADA, ("X-Forwarded-Groups", "marketing")],
        ),
        ("no groups, no default role", vec![ADA]),
        (
            "email twice",
            vec![ADA, ("X-Forwarded-Email", "eve@example.com"), groups],
        ),
        (
            "underscore variant",
            vec![ADA, ("X_Forwarded_Email", "eve@example.com"), groups],
        ),
        ("groups without email", vec![groups]),
    ] {
        assert_eq!(
            raw_get(app.addr, "/ops/instances", &headers).await,
            401,
            "{case}"
        );
    }
}

#[tokio::test]
async fn headers_from_an_untrusted_peer_never_authenticate_in_any_spelling() {
    let app = app_trusting("10.0.0.0/8").await;
    let admin = ("X-Forwarded-Groups", "ops-admins");
    for email in [
        "X-Forwarded-Email",
        "x-forwarded-email",
        "X-FORWARDED-EMAIL",
        "x_forwarded_email",
        "X_FORWARDED-EMAIL",
    ] {
        let headers = [(email, "ada@example.com"), admin];
        assert_eq!(
            raw_get(app.addr, "/ops/instances", &headers).await,
            401,
            "{email}"
        );
    }
    // Through the ordinary client too, and with proxy auth off altogether.
    let response = app
        .client
        .get(app.url("/ops/instances"))
        .header("x-forwarded-email", "ada@example.com")
        .header("x-forwarded-groups", "ops-admins")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let off = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.server.trusted_proxies =
            TrustedProxies::new(vec![Cidr::parse("127.0.0.1").expect("cidr")]);
        c.auth.proxy.role_map = RoleMap::new([("ops-admins".to_owned(), Role::Admin)]);
    })
    .await;
    let headers = [ADA, admin];
    assert_eq!(
        raw_get(off.addr, "/ops/instances", &headers).await,
        401,
        "proxy auth off"
    );
}

#[test]
fn stripping_removes_every_spelling_of_an_identity_header_and_nothing_else() {
    let mut headers = HeaderMap::new();
    for name in [
        "x_forwarded_email",
        "X-FORWARDED-EMAIL",
        "x-forwarded_groups",
        "X_Forwarded_User",
        "x-forwarded-access-token",
        "x-custom-email",
        "x-request-id",
        "x-forwarded-for",
    ] {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
        headers.append(name, "value".parse().expect("value"));
    }
    let config = ProxyConfig {
        user_header: Some("X-Custom-Email".to_owned()),
        ..ProxyConfig::default()
    };
    strip_identity_headers(&mut headers, &identity_header_names(&config));
    let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    left.sort_unstable();
    assert_eq!(left, ["x-forwarded-for", "x-request-id"]);
}

#[test]
fn proxy_settings_that_trust_too_much_or_nobody_are_configuration_errors() {
    let parse = |text: &str| Config::from_toml_str(text, "test.toml", &Env::default());
    let roles = "role_map = { admins = \"admin\" }\n";
    let errors = parse(&format!("[auth.proxy]\nenabled = true\n{roles}")).expect_err("nobody");
    assert!(errors.has("auth.proxy.trusted"), "{errors}");
    let everyone = format!("[auth.proxy]\nenabled = true\ntrusted = [\"0.0.0.0/0\"]\n{roles}");
    assert!(
        parse(&everyone)
            .expect_err("everyone")
            .has("auth.proxy.trusted")
    );
    let unmapped = "[auth.proxy]\nenabled = true\ntrusted = [\"10.0.0.1\"]\n";
    assert!(
        parse(unmapped)
            .expect_err("no roles")
            .has("auth.proxy.role_map")
    );
    let same = format!(
        "[auth.proxy]\nenabled = true\ntrusted = [\"10.0.0.1\"]\n{roles}groups_header = \"x_forwarded_email\"\n"
    );
    assert!(
        parse(&same)
            .expect_err("same header")
            .has("auth.proxy.groups_header")
    );
    // The server's trusted proxies stand in for an empty list.
    let inherited = "[server]\ntrusted_proxies = [\"10.0.0.1\"]\n[auth.proxy]\nenabled = true\ndefault_role = \"viewer\"\n";
    let config = parse(inherited).expect("valid");
    assert!(config.auth.proxy.enabled);
}
