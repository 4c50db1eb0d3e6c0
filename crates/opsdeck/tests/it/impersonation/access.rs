//! Who may impersonate, and what a refused or malformed request leaves behind: nothing.

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_server::router::{Access, route_table};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ClockedApp, enable};
use crate::support::db::TestDb;

/// Every impersonation route the router serves, from the route table.
fn impersonation_routes() -> Vec<(Method, String, Access)> {
    route_table()
        .routes()
        .iter()
        .filter(|r| r.path.contains("impersonation"))
        .map(|r| {
            let method = Method::from_bytes(r.method.as_str().as_bytes()).unwrap();
            (method, r.path.clone(), r.access)
        })
        .collect()
}

async fn nothing_stored(app: &ClockedApp, admin: &str) {
    let (status, listed) = app
        .get_json(Some(admin), "/ops/tenants/acme/impersonations")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["impersonations"], json!([]));
    let (_, audit) = app
        .get_json(Some(admin), "/ops/audit?action=impersonation.started")
        .await;
    assert_eq!(audit["entries"], json!([]));
}

#[tokio::test]
async fn viewers_and_operators_are_refused_every_impersonation_route() {
    let app = ClockedApp::spawn(TestDb::sqlite(), Utc::now(), enable).await;
    let (_, admin) = app.mint(Role::Admin).await;
    let issued = app.started(&admin, "acme", "user_1", "5m").await;
    let jti = issued["jti"].as_str().unwrap();
    let routes = impersonation_routes();
    // The JSON API's five, and the dashboard's page and two forms.
    assert_eq!(routes.len(), 8, "{routes:?}");
    let mut guarded = 0;
    for role in [Role::Viewer, Role::Operator] {
        let (_, secret) = app.mint(role).await;
        for (method, path, access) in &routes {
            let Access::Requires(_) = access else {
                continue;
            };
            let path = path.replace("{id}", "acme").replace("{jti}", jti);
            let response = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(&secret)
                .json(&json!({"user_id": "user_1", "reason": "curious", "ttl": "5m"}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{role} {method} {path}"
            );
            if path.starts_with("/ops/") {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "forbidden");
            } else {
                // The dashboard's refusal is a page saying so.
                let body = response.text().await.unwrap();
                assert!(
                    body.contains("Not allowed"),
                    "{role} {method} {path}: {body}"
                );
            }
            guarded += 1;
        }
    }
    assert_eq!(guarded, 12);
    let (_, listed) = app
        .get_json(Some(&admin), "/ops/tenants/acme/impersonations")
        .await;
    let listed = listed["impersonations"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "only the admin's");
    assert!(
        listed[0]["revoked_at"].is_null(),
        "not ended by a refused DELETE"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_and_change_nothing() {
    let app = ClockedApp::spawn(TestDb::sqlite(), Utc::now(), enable).await;
    let (_, support) = app.mint(Role::Support).await;
    let (_, admin) = app.mint(Role::Admin).await;
    let cases = [
        (
            json!({"user_id": "user_1", "ttl": "5m"}),
            "invalid_field",
            "reason",
        ),
        (
            json!({"user_id": "user_1", "reason": "  ", "ttl": "5m"}),
            "reason_required",
            "reason",
        ),
        (
            json!({"user_id": "user_1", "reason": "r", "ttl": "61m"}),
            "invalid_field",
            "ttl",
        ),
        (
            json!({"user_id": "user_1", "reason": "r", "ttl": "2h"}),
            "invalid_field",
            "ttl",
        ),
        (
            json!({"user_id": "user_1", "reason": "r", "ttl": "30s"}),
            "invalid_field",
            "ttl",
        ),
        (
            json!({"user_id": "user_1", "reason": "r", "ttl": "soon"}),
            "invalid_field",
            "ttl",
        ),
        (
            json!({"user_id": "", "reason": "r"}),
            "invalid_field",
            "user_id",
        ),
        (
            json!({"user_id": "a\u{0}b", "reason": "r"}),
            "invalid_field",
            "user_id",
        ),
        (
            json!({"user_id": "x".repeat(257), "reason": "r"}),
            "invalid_field",
            "user_id",
        ),
        (json!({"reason": "r"}), "invalid_field", "user_id"),
        (
            json!({"user_id": "u", "reason": "r", "scope": "all"}),
            "invalid_field",
            "scope",
        ),
    ];
    for (body, code, field) in cases {
        let response = app.start(&support, "acme", body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
    }
    // A tenant id that does not parse, and an end without a reason.
    let response = app
        .start(
            &support,
            "no%20spaces",
            json!({"user_id": "u", "reason": "r"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let issued = app.started(&support, "acme", "user_1", "5m").await;
    let jti = issued["jti"].as_str().unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/ops/tenants/acme/impersonations/{jti}")))
        .bearer_auth(&support)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = app
        .client
        .delete(app.url("/ops/tenants/acme/impersonations/not-a-uuid"))
        .bearer_auth(&support)
        .json(&json!({"reason": "r"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (_, listed) = app
        .get_json(Some(&admin), "/ops/tenants/acme/impersonations")
        .await;
    let listed = listed["impersonations"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "only the one well-formed request");
    assert!(listed[0]["revoked_at"].is_null());
    let (_, audit) = app
        .get_json(Some(&admin), "/ops/audit?action=impersonation.started")
        .await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn without_configuration_the_routes_say_how_to_enable_and_the_key_set_is_empty() {
    let app = ClockedApp::spawn(TestDb::sqlite(), Utc::now(), |_| {}).await;
    let (_, admin) = app.mint(Role::Admin).await;
    let response = app
        .start(
            &admin,
            "acme",
            json!({"user_id": "u", "reason": "r", "ttl": "5m"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "impersonation_disabled");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[impersonation] enabled = true")
    );
    let (status, _) = app
        .get_json(Some(&admin), "/ops/tenants/acme/impersonations")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, keys) = app.get_json(None, "/ops/impersonation/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys, json!({"keys": []}));
    nothing_stored_when_disabled(&app).await;
}

async fn nothing_stored_when_disabled(app: &ClockedApp) {
    use opsdeck_core::Clock as _;
    let keys = app
        .state
        .store()
        .published_keys(app.clock.now() - chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(keys.is_empty(), "no key is made while impersonation is off");
}

#[tokio::test]
async fn a_refused_request_stores_nothing_even_for_the_right_role() {
    let app = ClockedApp::spawn(TestDb::sqlite(), Utc::now(), enable).await;
    let (_, admin) = app.mint(Role::Admin).await;
    let response = app
        .start(&admin, "acme", json!({"user_id": "u", "ttl": "5m"}))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    nothing_stored(&app, &admin).await;
}

#[tokio::test]
async fn request_entries_name_the_tenant_of_the_path_decoded_and_only_a_valid_one() {
    let app = ClockedApp::spawn(TestDb::sqlite(), Utc::now(), enable).await;
    let (_, admin) = app.mint(Role::Admin).await;
    // `a%40b` is tenant `a@b`, however the client escaped it.
    let started = app.started(&admin, "a%40b", "user_1", "5m").await;
    let (_, listed) = app
        .get_json(Some(&admin), "/ops/tenants/a@b/impersonations")
        .await;
    assert_eq!(listed["impersonations"][0]["jti"], started["jti"]);
    assert_eq!(listed["impersonations"][0]["tenant_id"], "a@b");
    let refused = app
        .start(
            &admin,
            "no%20spaces",
            json!({"user_id": "u", "reason": "r"}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let entries = crate::support::wait_for_async(
        std::time::Duration::from_secs(5),
        "the request entries",
        || async {
            let (_, page) = app
                .get_json(
                    Some(&admin),
                    "/ops/audit?target=route:%2Fops%2Ftenants%2Fno%2520spaces%2Fimpersonations",
                )
                .await;
            let refused = page["entries"].as_array().cloned().unwrap_or_default();
            let (_, page) = app
                .get_json(Some(&admin), "/ops/audit?tenant_id=a%40b")
                .await;
            let named = page["entries"].as_array().cloned().unwrap_or_default();
            (refused.len() == 1 && named.len() >= 3).then_some((refused, named))
        },
    )
    .await;
    let (refused, named) = entries;
    assert!(
        refused[0]["tenant_id"].is_null(),
        "an id that does not parse names no tenant"
    );
    let actions: Vec<&str> = named.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "POST /ops/tenants/{id}/impersonations",
        "GET /ops/tenants/{id}/impersonations",
        "impersonation.started",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
}
