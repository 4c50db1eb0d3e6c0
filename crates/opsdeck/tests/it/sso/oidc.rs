//! OIDC bearer tokens: accepted with the mapped role, refused for every way a token can be
//! wrong, key rotation followed through an unknown-`kid` refetch, and a key set on disk.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use opsdeck_core::auth::Role;
use opsdeck_server::config::{Config, Env, RoleMap};
use opsdeck_server::{Application, BuildOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{AUDIENCE, ISSUER, JwksServer, TestKey, admin_probe, audited, claims, jwks};
use crate::support::app::{TestApp, test_config};
use crate::support::db::TestDb;

/// `[auth.oidc]` for the test issuer, with a role map, and no rate limits in the way of
/// a series of refused tokens.
fn configure(config: &mut Config, source: impl FnOnce(&mut Config)) {
    let oidc = &mut config.auth.oidc;
    oidc.issuer = Some(ISSUER.to_owned());
    oidc.audience = Some(AUDIENCE.to_owned());
    oidc.role_map = RoleMap::new([
        ("engineering".to_owned(), Role::Viewer),
        ("ops-oncall".to_owned(), Role::Operator),
        ("ops-admins".to_owned(), Role::Admin),
    ]);
    config.rate_limit.enabled = false;
    source(config);
}

async fn app_with_url(url: &str) -> TestApp {
    TestApp::spawn_with(TestDb::sqlite(), |c| {
        configure(c, |c| c.auth.oidc.jwks_url = Some(url.to_owned()))
    })
    .await
}

async fn get(app: &TestApp, url: String, token: &str) -> reqwest::Response {
    app.client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

async fn status(app: &TestApp, path: &str, token: &str) -> StatusCode {
    get(app, app.url(path), token).await.status()
}

#[tokio::test]
async fn a_valid_token_authenticates_with_the_most_privileged_mapped_role() {
    let key = TestKey::es256("k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let app = app_with_url(&idp.url).await;
    let probe = admin_probe(&app).await;

    let viewer = key.sign(&claims(json!(["engineering", "unmapped"])));
    assert_eq!(
        status(&app, "/ops/instances", &viewer).await,
        StatusCode::OK
    );
    let refused = get(&app, format!("http://{probe}/probe/admin"), &viewer).await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "a viewer is not an admin"
    );

    // Several mapped groups: the most privileged wins; a single string claim works too.
    let admin = key.sign(&claims(json!(["engineering", "ops-admins", "ops-oncall"])));
    let allowed = get(&app, format!("http://{probe}/probe/admin"), &admin).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    let oncall = key.sign(&claims(json!("ops-oncall")));
    let operator = get(&app, format!("http://{probe}/probe/admin"), &oncall).await;
    assert_eq!(operator.status(), StatusCode::FORBIDDEN);

    let entries = audited(&app, &format!("oidc:{ISSUER}#user-7")).await;
    let actor = entries[0].record.actor.as_ref().expect("actor");
    assert_eq!(
        (actor.name.as_str(), actor.method.as_str()),
        ("ada@example.com", "oidc")
    );
}

/// An unsigned token: `{"alg":"none"}` and an empty signature.
fn unsigned(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"));
    format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "JWT"})),
        part(claims)
    )
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused_with_401_and_a_reason() {
    let key = TestKey::es256("k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let app = app_with_url(&idp.url).await;
    let good = claims(json!(["ops-admins"]));
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    let now = chrono::Utc::now().timestamp();
    let impostor = TestKey::es256("k1");
    // The classic confusion: HMAC keyed with the public key, hoping it is used as a secret.
    let public_bytes = serde_json::to_vec(&key.jwk).expect("jwk bytes");
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("k1".to_owned());
    let hs256 = jsonwebtoken::encode(&hs_header, &good, &EncodingKey::from_secret(&public_bytes))
        .expect("hs256");
    let cases = [
        (
            "expired",
            key.sign(&with("exp", json!(now - 120))),
            "expired",
        ),
        (
            "not yet valid",
            key.sign(&with("nbf", json!(now + 600))),
            "not valid yet",
        ),
        (
            "wrong issuer",
            key.sign(&with("iss", json!("https://evil.test"))),
            "issuer",
        ),
        (
            "wrong audience",
            key.sign(&with("aud", json!("someone-else"))),
            "audience",
        ),
        (
            "no subject",
            key.sign(
                &good
                    .as_object()
                    .map(|o| {
                        let mut o = o.clone();
                        o.remove("sub");
                        Value::Object(o)
                    })
                    .expect("object"),
            ),
            "sub",
        ),
        ("another key, same kid", impostor.sign(&good), "signature"),
        (
            "unknown kid",
            TestKey::es256("k9").sign(&good),
            "unknown key",
        ),
        ("alg none", unsigned(&good), "algorithm"),
        ("HS256 with the public key", hs256, "algorithm"),
        (
            "no mapped group",
            key.sign(&with("groups", json!(["marketing"]))),
            "no role",
        ),
        (
            "no group claim",
            key.sign(&with("groups", Value::Null)),
            "no role",
        ),
    ];
    for (case, token, reason) in cases {
        let response = get(&app, app.url("/ops/instances"), &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        let body = response.text().await.expect("body");
        assert!(body.contains(reason), "{case}: {body}");
        assert!(!body.contains(&token), "{case}: the token is echoed");
    }
}

#[tokio::test]
async fn a_rotated_key_is_fetched_on_first_use_and_refetches_are_rate_limited() {
    let old = TestKey::es256("2026-01");
    let idp = JwksServer::start(jwks(&[&old])).await;
    let app = app_with_url(&idp.url).await;
    let viewer = claims(json!(["engineering"]));
    assert_eq!(
        status(&app, "/ops/instances", &old.sign(&viewer)).await,
        StatusCode::OK
    );
    let fetched = idp.fetches();

    // The provider rotates to a key of another family; the first token naming it is
    // accepted after one refetch.
    let new = TestKey::ed25519("2026-02");
    idp.serve(jwks(&[&new]));
    assert_eq!(
        status(&app, "/ops/instances", &new.sign(&viewer)).await,
        StatusCode::OK
    );
    assert_eq!(
        idp.fetches(),
        fetched + 1,
        "one refetch for the unknown kid"
    );
    assert_eq!(
        status(&app, "/ops/instances", &old.sign(&viewer)).await,
        StatusCode::UNAUTHORIZED,
        "the retired key is gone"
    );

    // More unknown kids within the minute do not reach the provider.
    for kid in ["x1", "x2", "x3"] {
        let token = TestKey::es256(kid).sign(&viewer);
        assert_eq!(
            status(&app, "/ops/instances", &token).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(idp.fetches(), fetched + 1, "unknown kids are rate limited");
}

#[tokio::test]
async fn a_key_set_file_works_in_place_of_a_url() {
    let key = TestKey::ed25519("file-key");
    let path = std::env::temp_dir().join(format!(
        "opsdeck-jwks-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, jwks(&[&key]).to_string()).expect("write JWKS");
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        configure(c, |c| c.auth.oidc.jwks_file = Some(path.clone()))
    })
    .await;
    let token = key.sign(&claims(json!(["engineering"])));
    assert_eq!(status(&app, "/ops/instances", &token).await, StatusCode::OK);
    let other = TestKey::ed25519("other").sign(&claims(json!(["engineering"])));
    assert_eq!(
        status(&app, "/ops/instances", &other).await,
        StatusCode::UNAUTHORIZED
    );
    let _ = std::fs::remove_file(&path);

    // A key set file that cannot be read stops start-up instead of refusing every token.
    let db = TestDb::sqlite();
    let mut config = test_config(&db.url);
    configure(&mut config, |c| c.auth.oidc.jwks_file = Some(path.clone()));
    let err = Application::build(config, BuildOptions::default())
        .await
        .expect_err("missing JWKS file");
    assert!(format!("{err:#}").contains("jwks_file"), "{err:#}");
}

#[test]
fn oidc_settings_that_cannot_work_are_configuration_errors() {
    let parse = |text: &str| Config::from_toml_str(text, "test.toml", &Env::default());
    let base = "[auth.oidc]\nissuer = \"https://idp.test\"\naudience = \"opsdeck\"\njwks_url = \"https://idp.test/certs\"\nrole_map = { admins = \"admin\" }\n";
    parse(base).expect("a complete setup is valid");
    for (extra, key) in [
        ("algorithms = [\"HS256\"]\n", "auth.oidc.algorithms"),
        ("algorithms = [\"none\"]\n", "auth.oidc.algorithms"),
        ("jwks_file = \"/etc/jwks.json\"\n", "auth.oidc.jwks_file"),
        ("leeway = \"1h\"\n", "auth.oidc.leeway"),
    ] {
        let errors = parse(&format!("{base}{extra}")).expect_err(extra);
        assert!(errors.has(key), "{extra}: {errors}");
    }
    let errors = parse("[auth.oidc]\nissuer = \"https://idp.test\"\n").expect_err("incomplete");
    for key in [
        "auth.oidc.audience",
        "auth.oidc.jwks_url",
        "auth.oidc.role_map",
    ] {
        assert!(errors.has(key), "{key}: {errors}");
    }
    let errors = parse("[auth.oidc]\naudience = \"opsdeck\"\n").expect_err("no issuer");
    assert!(errors.has("auth.oidc.issuer"), "{errors}");
    let errors = parse("[auth.oidc.role_map]\nadmins = \"root\"\n").expect_err("bad role");
    assert!(
        errors
            .issues()
            .iter()
            .any(|i| i.path.starts_with("auth.oidc.role_map")),
        "{errors}"
    );
}
