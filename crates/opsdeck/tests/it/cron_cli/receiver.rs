//! A stand-in opsdeck for the CLI tests: axum on 127.0.0.1:0 recording healthchecks-style
//! pings (`/ping/{key}/{slug}[/{kind}]`) and admin creates (`POST /ops/cron`), answering
//! as SPEC §4 says the real one does.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::support::wait_for;

/// One ping as received.
#[derive(Debug, Clone)]
pub struct Ping {
    pub method: Method,
    pub key: String,
    pub slug: String,
    /// What followed the slug: "" (success), "start", "fail", "log" or an exit status.
    pub kind: String,
    pub query: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Ping {
    pub fn rid(&self) -> Option<&str> {
        self.query.get("rid").map(String::as_str)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One admin request as received.
#[derive(Debug, Clone)]
pub struct AdminRequest {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Debug, Default)]
struct Inner {
    pings: Vec<Ping>,
    admin: Vec<AdminRequest>,
    body_limit: Option<usize>,
    existing: HashSet<String>,
}

pub struct Receiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/ping/{key}/{slug}", any(ping_success))
            .route("/ping/{key}/{slug}/{kind}", any(ping))
            .route("/ops/cron", post(create))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver");
        });
        Receiver { addr, inner, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Announces a `Ping-Body-Limit` on every ping answer.
    pub fn set_body_limit(&self, limit: usize) {
        self.inner.lock().unwrap().body_limit = Some(limit);
    }

    /// Makes `POST /ops/cron` answer 409 for `slug`.
    pub fn add_existing(&self, slug: &str) {
        self.inner.lock().unwrap().existing.insert(slug.to_owned());
    }

    pub fn pings(&self) -> Vec<Ping> {
        self.inner.lock().unwrap().pings.clone()
    }

    pub fn admin(&self) -> Vec<AdminRequest> {
        self.inner.lock().unwrap().admin.clone()
    }

    /// Waits until `n` pings arrived.
    pub async fn wait_pings(&self, n: usize) -> Vec<Ping> {
        wait_for(Duration::from_secs(15), &format!("{n} pings"), || {
            let pings = self.pings();
            (pings.len() >= n).then_some(pings)
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

async fn ping_success(
    state: Shared,
    method: Method,
    Path((key, slug)): Path<(String, String)>,
    query: Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    record(state, method, key, slug, String::new(), query, body)
}

async fn ping(
    state: Shared,
    method: Method,
    Path((key, slug, kind)): Path<(String, String, String)>,
    query: Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    record(state, method, key, slug, kind, query, body)
}

fn record(
    State(inner): Shared,
    method: Method,
    key: String,
    slug: String,
    kind: String,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.pings.push(Ping {
        method,
        key,
        slug,
        kind,
        query,
        body: body.to_vec(),
    });
    match inner.body_limit {
        Some(limit) => (
            StatusCode::OK,
            [("ping-body-limit", limit.to_string())],
            "OK",
        )
            .into_response(),
        None => (StatusCode::OK, "OK").into_response(),
    }
}

async fn create(State(inner): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let slug = body["slug"].as_str().unwrap_or_default().to_owned();
    let mut inner = inner.lock().unwrap();
    inner.admin.push(AdminRequest {
        path: "/ops/cron".to_owned(),
        authorization: authorization(&headers),
        body,
    });
    if inner.existing.contains(&slug) {
        let envelope = serde_json::json!({"error": {"code": "conflict", "message": "exists", "request_id": "r"}});
        return (StatusCode::CONFLICT, axum::Json(envelope)).into_response();
    }
    inner.existing.insert(slug);
    (StatusCode::CREATED, axum::Json(serde_json::json!({}))).into_response()
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
