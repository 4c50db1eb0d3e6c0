//! The HTTP contract every route shares: the error envelope for every error, request ids,
//! body limits, content types, timeouts, panics, probes and the guarded `/metrics`.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use opsdeck_server::app::finish_router;
use opsdeck_server::extract::Json;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{METRICS_TOKEN, TestApp};
use crate::support::db::TestDb;

async fn envelope(response: reqwest::Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let id = response
        .headers()
        .get("x-request-id")
        .expect("every response carries x-request-id")
        .to_str()
        .unwrap()
        .to_owned();
    let ct = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let body: Value = response.json().await.expect("JSON body");
    let error = &body["error"];
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        error["request_id"],
        id.as_str(),
        "envelope quotes the request id"
    );
    (status, id, body)
}

#[tokio::test]
async fn unknown_route_and_wrong_method_get_the_envelope() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (status, _, body) = envelope(app.get("/no/such/route").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");

    let response = app.client.post(app.url("/livez")).send().await.unwrap();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, _, body) = envelope(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    assert!(
        allow.is_some_and(|a| a.contains("GET")),
        "Allow header kept"
    );
}

#[tokio::test]
async fn request_ids_are_honoured_when_sane_and_replaced_otherwise() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let sent = "req-2026.11:abc_DEF";
    let response = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", sent)
        .send()
        .await
        .unwrap();
    let (_, id, _) = envelope(response).await;
    assert_eq!(id, sent);

    for insane in ["has space", "quote\"d", &"x".repeat(129), ""] {
        let response = app
            .client
            .get(app.url("/livez"))
            .header("x-request-id", insane)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(id, insane);
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "generated id {id} is a UUID"
        );
    }
    let a = app.get("/livez").await.headers()["x-request-id"].clone();
    let b = app.get("/livez").await.headers()["x-request-id"].clone();
    assert_ne!(a, b, "generated ids are unique");
}

#[derive(Debug, serde::Deserialize)]
#[expect(dead_code, reason = "fields exist to be deserialized")]
struct Probe {
    name: String,
    inner: Inner,
}

#[derive(Debug, serde::Deserialize)]
#[expect(dead_code, reason = "fields exist to be deserialized")]
struct Inner {
    count: u32,
}

async fn explode() -> &'static str {
    panic!("handler exploded")
}

/// Serves test routes behind the production middleware stack and state.
async fn serve_test_routes(app: &TestApp) -> String {
    let routes = Router::new()
        .route(
            "/echo",
            post(|Json(p): Json<Probe>| async move { format!("{p:?}") }),
        )
        .route("/panic", get(explode))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
    let state = app.state.clone();
    let router = finish_router(routes, state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = opsdeck_server::serve::Limits::of(&app.state.config().server);
    tokio::spawn(opsdeck_server::serve::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    format!("http://{addr}")
}

#[tokio::test]
async fn bodies_are_limited_typed_and_parsed_with_field_names() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.server.body_limit = 1024;
        c.server.request_timeout = Duration::from_millis(300);
    })
    .await;
    let base = serve_test_routes(&app).await;
    let client = &app.client;
    let post_json = |body: String| {
        client
            .post(format!("{base}/echo"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let ok = post_json(r#"{"name":"a","inner":{"count":3}}"#.into())
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let big = format!(r#"{{"name":"{}","inner":{{"count":1}}}}"#, "x".repeat(4096));
    let (status, _, body) = envelope(post_json(big).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "payload_too_large");

    let text = client
        .post(format!("{base}/echo"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, _, body) = envelope(text).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"]["code"], "unsupported_media_type");

    let (status, _, body) = envelope(post_json("{\"name\": ".into()).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_json");

    let (status, _, body) = envelope(
        post_json(r#"{"name":"a","inner":{"count":"many"}}"#.into())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_field");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("inner.count"),
        "names the field: {message}"
    );

    let (status, _, body) =
        envelope(post_json(r#"{"inner":{"count":1}}"#.into()).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("name"),
        "{body}"
    );

    let (status, _, body) =
        envelope(client.get(format!("{base}/panic")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"]["code"], "internal");
    assert!(
        !body.to_string().contains("exploded"),
        "5xx bodies are opaque"
    );

    let (status, _, body) =
        envelope(client.get(format!("{base}/slow")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "unavailable");
}

#[tokio::test]
async fn livez_answers_health_json() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let response = app.get("/livez").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/health+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "pass"}));
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn metrics_need_the_scrape_token_and_count_requests_by_route_template() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    app.get("/livez").await;
    app.get("/ops/instances/secret-looking-path").await;

    let (status, _, _) = envelope(app.get("/metrics").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let text = app.metrics().await;
    assert!(
        text.contains(r#"opsdeck_http_requests_total{method="GET",route="/livez",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        !text.contains("secret-looking-path"),
        "raw paths never become labels"
    );
    assert!(text.contains("opsdeck_http_request_duration_seconds_bucket"));
    assert!(text.contains("process_resident_memory_bytes"));
    assert!(text.contains("process_cpu_seconds_total"));
    assert!(text.contains("opsdeck_build_info{version="));
    assert!(!text.contains(METRICS_TOKEN));
}

#[tokio::test]
async fn metrics_without_a_configured_token_do_not_exist() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| c.metrics.token = None).await;
    let (status, _, _) = envelope(app.get("/metrics").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let with_any = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_any.status(),
        StatusCode::UNAUTHORIZED,
        "a bad credential is refused first"
    );
}
