//! A webhook receiver for tests: axum on 127.0.0.1:0, recording every request and
//! answering each path with scripted statuses.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::task::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Value,
    /// The body's bytes as they came (a signature covers these).
    pub raw: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// By webhook name (the first path segment), in arrival order.
    received: HashMap<String, Vec<Received>>,
    /// Statuses to answer next, by name; then `fallback`, else 200.
    script: HashMap<String, VecDeque<u16>>,
    fallback: HashMap<String, u16>,
}

/// Answers `POST /{name}/{anything…}`; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/{name}/{*rest}", post(receive))
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

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// Answers the next requests for `name` with `statuses`, in order.
    pub fn script(&self, name: &str, statuses: impl IntoIterator<Item = u16>) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .script
            .entry(name.to_owned())
            .or_default()
            .extend(statuses);
    }

    /// Answers every unscripted request for `name` with `status`.
    pub fn always(&self, name: &str, status: u16) {
        self.inner
            .lock()
            .unwrap()
            .fallback
            .insert(name.to_owned(), status);
    }

    /// What `name` has received so far.
    pub fn requests(&self, name: &str) -> Vec<Received> {
        let inner = self.inner.lock().unwrap();
        inner.received.get(name).cloned().unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((name, _rest)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let raw = body;
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let mut inner = inner.lock().unwrap();
    inner
        .received
        .entry(name.clone())
        .or_default()
        .push(Received { headers, body, raw });
    let scripted = inner.script.get_mut(&name).and_then(VecDeque::pop_front);
    let status = scripted
        .or_else(|| inner.fallback.get(&name).copied())
        .unwrap_or(200);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = if status.is_success() {
        "ok"
    } else {
        "receiver says no"
    };
    (status, body)
}
