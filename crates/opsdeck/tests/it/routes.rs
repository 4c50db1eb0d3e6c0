//! Proofs over the route table itself: every route the router serves is either on SPEC §2's
//! public list or refuses a request without a principal, and every JSON route is in the
//! OpenAPI document (and the document names no route that is not served).

use std::collections::BTreeSet;

use opsdeck_server::router::{Access, Kind, methods_of, route_table};
use reqwest::{Method, StatusCode};

use crate::support;
use crate::support::app::TestApp;
use crate::support::db::TestDb;

/// SPEC §2: the only routes reachable without a principal.
const PUBLIC: [(&str, &str); 6] = [
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/static/{file}"),
    ("GET", "/ops/impersonation/jwks.json"),
];

/// SPEC §2's `/ping/…`, by HEAD, GET and POST: public, as the ingest key in the path is
/// the credential.
const PING_PATHS: [&str; 5] = [
    "/ping/{key}/{slug}",
    "/ping/{key}/{slug}/start",
    "/ping/{key}/{slug}/fail",
    "/ping/{key}/{slug}/log",
    "/ping/{key}/{slug}/{exit_status}",
];

#[tokio::test]
async fn every_route_is_public_by_name_or_refuses_without_a_principal() {
    let table = route_table();
    let public: BTreeSet<(String, String)> = table
        .routes()
        .iter()
        .filter(|r| r.access == Access::Public)
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    let pings = PING_PATHS
        .iter()
        .flat_map(|p| ["HEAD", "GET", "POST"].map(|m| (m.to_owned(), p.to_string())));
    let expected: BTreeSet<(String, String)> = PUBLIC
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .chain(pings)
        .collect();
    assert_eq!(public, expected, "public routes are exactly SPEC §2's list");

    let app = TestApp::spawn(TestDb::sqlite()).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for route in table.routes() {
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let response = client
            .request(method, app.url(&support::concrete_path(&route.path)))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let what = format!("{} {}", route.method, route.path);
        match (route.access, route.kind) {
            // The placeholder is a wrong ping key; after a few, the address is blocked.
            (Access::Public, _) if route.path.contains("{key}") => assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
                "{what} refuses a wrong key in its path, answered {status}"
            ),
            (Access::Public, _) => assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{what} is public but answered {status}"
            ),
            (Access::ScrapeToken, _) => assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}"),
            (Access::Requires(_), Kind::Html) => {
                assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
                assert!(
                    response.headers()["location"]
                        .to_str()
                        .unwrap()
                        .starts_with("/login")
                );
            }
            (Access::Requires(_) | Access::Ingest(_), _) => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unauthorized", "{what}");
            }
        }
    }
}

#[test]
fn every_json_route_is_in_the_openapi_document_and_nothing_else_is() {
    let table = route_table();
    let doc = table.openapi();
    let version = serde_json::to_value(&doc.openapi).unwrap();
    assert!(
        version.as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1, got {version}"
    );
    let served: BTreeSet<(String, String)> = table
        .routes()
        .iter()
        .filter(|r| r.kind == Kind::Json)
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            methods_of(item)
                .into_iter()
                .map(move |m| (m.to_string(), path.clone()))
        })
        .collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "JSON routes missing from the OpenAPI document: {missing:?}"
    );
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(phantom.is_empty(), "documented but not served: {phantom:?}");
    assert!(served.contains(&("GET".to_owned(), "/ops/openapi.json".to_owned())));
    let json = doc.to_json().unwrap();
    let spec: serde_json::Value = serde_json::from_str(&json).unwrap();
    let audit_params: Vec<&str> = spec["paths"]["/ops/audit"]["get"]["parameters"]
        .as_array()
        .expect("/ops/audit documents its query parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "actor",
        "action",
        "target",
        "tenant_id",
        "since",
        "until",
        "before",
        "limit",
    ] {
        assert!(
            audit_params.contains(&name),
            "/ops/audit documents `{name}`: {audit_params:?}"
        );
    }
    assert!(
        spec["paths"]["/ops/tokens"]["get"].is_object()
            && spec["paths"]["/ops/tokens"]["post"].is_object(),
        "two handlers on one path are both documented"
    );
    let tenant_path = &spec["paths"]["/ops/tenants/{id}/impersonations"];
    assert!(tenant_path["post"].is_object() && tenant_path["get"].is_object());
    assert!(spec["paths"]["/ops/tenants/{id}/impersonations/{jti}"]["delete"].is_object());
    assert!(spec["paths"]["/ops/impersonation/jwks.json"]["get"].is_object());
    assert!(spec["paths"]["/api/v1/impersonations/revoked"]["get"]["parameters"].is_array());
    assert!(
        json.contains("ErrorBody"),
        "the error envelope is a documented schema"
    );
}
