//! The application's cron endpoints, as a test stands them up: axum on 127.0.0.1:0,
//! recording every request with its arrival time. `/fail` answers 500 and echoes the
//! `x-token` header and the query (an endpoint that leaks what it was sent), `/hang` never
//! answers, every other path answers 200.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub at: SystemTime,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Stops serving when dropped.
#[derive(Debug)]
pub struct Endpoints {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: JoinHandle<()>,
}

impl Endpoints {
    pub async fn start() -> Endpoints {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(receive).with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the endpoints");
        let addr = listener.local_addr().expect("endpoints address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the endpoints");
        });
        Endpoints { addr, hits, task }
    }

    /// The URL of `path_and_query` on this server.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// The requests to `path` so far, in arrival order.
    pub fn hits(&self, path: &str) -> Vec<Hit> {
        let hits = self.hits.lock().unwrap();
        hits.iter().filter(|h| h.path == path).cloned().collect()
    }
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(hits): State<Arc<Mutex<Vec<Hit>>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let hit = Hit {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        at: SystemTime::now(),
    };
    hits.lock().unwrap().push(hit.clone());
    match hit.path.as_str() {
        "/fail" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "boom: the queue is stuck ({} / {})",
                hit.header("x-token").unwrap_or("none"),
                hit.query.as_deref().unwrap_or("none")
            ),
        )
            .into_response(),
        "/hang" => std::future::pending().await,
        _ => (StatusCode::OK, "done").into_response(),
    }
}
