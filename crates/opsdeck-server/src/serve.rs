//! The HTTP listener (SPEC §8, "slow or huge requests do not starve others"): hyper's
//! connection loop with the limits `axum::serve` does not set.
//! - **Header timeout**: a client has `server.header_timeout` to send a request's head. One
//!   that sent part of a head and stalled (slowloris) is answered `408 Request Timeout` and
//!   closed; an idle keep-alive connection is closed without a word.
//! - **Connections**: at most `server.max_connections` at once, and at most
//!   `server.max_connections_per_client` from one address (trusted proxies, which carry many
//!   clients, are exempt); past either, a new connection is answered `503` with
//!   `Retry-After` and closed, so a flood from one address cannot take every slot.
//! - Bodies are bounded by the router's layers (`server.body_limit`, 413; `body_timeout`, 408).
//!
//! Shutdown stops accepting, lets each connection finish its request in flight, and closes
//! idle ones at once.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::TrustedProxies;

/// The limits of [`serve`].
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// Peers exempt from the per-client limit.
    pub trusted_proxies: TrustedProxies,
}

impl Limits {
    /// The limits `[server]` sets.
    pub fn of(server: &crate::config::ServerConfig) -> Self {
        Self {
            header_timeout: server.header_timeout,
            max_connections: server.max_connections,
            max_connections_per_client: server.max_connections_per_client,
            trusted_proxies: server.trusted_proxies.clone(),
        }
    }
}

/// How long a refusal (503, 408) may take to write before the connection is just closed.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` resolves, then until every connection has
/// finished its request in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    let (stop, stopping) = watch::channel(false);
    let connections = TaskTracker::new();
    let counts = Arc::new(Counts::default());
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(error = %err, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let exempt = limits.trusted_proxies.contains(remote.ip());
        let Some(slot) = counts.admit(remote.ip(), exempt, &limits) else {
            connections.spawn(refuse(stream));
            continue;
        };
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(remote));
                    request.map(Body::new)
                });
        connections.spawn(serve_connection(
            stream,
            TowerToHyperService::new(service),
            builder.clone(),
            stopping.clone(),
            slot,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn serve_connection<S>(
    stream: TcpStream,
    service: TowerToHyperService<S>,
    builder: Arc<Builder<TokioExecutor>>,
    mut stopping: watch::Receiver<bool>,
    _slot: Slot,
) where
    S: tower::Service<axum::http::Request<Incoming>, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let (io, writer, partial) = Watched::new(stream);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = *stopping.borrow();
    if closing {
        connection.as_mut().graceful_shutdown();
    }
    let result = loop {
        tokio::select! {
            result = connection.as_mut() => break result,
            _ = stopping.changed(), if !closing => {
                // The request in flight is finished; an idle connection closes at once.
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    };
    let Err(err) = result else {
        return;
    };
    let header_timeout = err
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_timeout);
    if header_timeout && partial.load(Ordering::Acquire) {
        let mut writer = writer.lock().await;
        answer_and_close(
            &mut *writer,
            "408 Request Timeout",
            "",
            "request_timeout",
            "the request's head did not arrive in time (server.header_timeout)",
        )
        .await;
    } else {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

/// Answers a connection over the limits with 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    answer_and_close(
        &mut stream,
        "503 Service Unavailable",
        "retry-after: 1\r\n",
        "too_many_connections",
        "too many connections are open; retry shortly",
    )
    .await;
}

/// Writes one response outside hyper (`status` like `408 Request Timeout`, `headers` each
/// ending in CRLF) with the error envelope, then closes the writing side; gives up after
/// [`REFUSAL_WRITE`].
async fn answer_and_close<W: AsyncWrite + Unpin>(
    writer: &mut W,
    status: &str,
    headers: &str,
    code: &str,
    message: &str,
) {
    let body = serde_json::json!({"error": {"code": code, "message": message, "request_id": ""}})
        .to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}connection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        writer.write_all(response.as_bytes()).await?;
        writer.shutdown().await
    })
    .await;
}

/// Open connections, in all and per client address.
#[derive(Debug, Default)]
struct Counts {
    inner: Mutex<CountsInner>,
}

#[derive(Debug, Default)]
struct CountsInner {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl Counts {
    fn lock(&self) -> std::sync::MutexGuard<'_, CountsInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a connection from `client`, if the limits leave one.
    fn admit(self: &Arc<Self>, client: IpAddr, exempt: bool, limits: &Limits) -> Option<Slot> {
        let mut counts = self.lock();
        if counts.total >= limits.max_connections {
            return None;
        }
        let mine = counts.per_client.entry(client).or_insert(0);
        if !exempt && *mine >= limits.max_connections_per_client {
            return None;
        }
        *mine += 1;
        counts.total += 1;
        Some(Slot {
            counts: self.clone(),
            client,
        })
    }
}

/// One admitted connection; gives its place back when dropped.
#[derive(Debug)]
struct Slot {
    counts: Arc<Counts>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock();
        counts.total -= 1;
        if let Some(mine) = counts.per_client.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
}

/// A connection that notes whether the client has sent bytes no response followed yet (part
/// of a request), and whose writing half outlives hyper's hold on it, so a stalled request
/// can still be answered 408 after hyper gives up on it.
struct Watched {
    read: OwnedReadHalf,
    write: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    partial: Arc<AtomicBool>,
}

type SharedWriter = Arc<tokio::sync::Mutex<OwnedWriteHalf>>;

impl Watched {
    fn new(stream: TcpStream) -> (Self, SharedWriter, Arc<AtomicBool>) {
        let (read, write) = stream.into_split();
        let write = Arc::new(tokio::sync::Mutex::new(write));
        let partial = Arc::new(AtomicBool::new(false));
        (
            Self {
                read,
                write: write.clone(),
                partial: partial.clone(),
            },
            write,
            partial,
        )
    }

    /// Runs `f` on the writing half; only hyper writes while it holds the connection, so
    /// the lock is never contended.
    fn with_writer<T>(
        &self,
        f: impl FnOnce(Pin<&mut OwnedWriteHalf>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match self.write.try_lock() {
            Ok(mut writer) => f(Pin::new(&mut *writer)),
            Err(_) => Poll::Ready(Err(io::Error::other("connection writer in use"))),
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.read).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.partial.store(true, Ordering::Release);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // A response is going out: what was read so far was a whole request.
        self.partial.store(false, Ordering::Release);
        self.with_writer(|writer| writer.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.partial.store(false, Ordering::Release);
        self.with_writer(|writer| writer.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with_writer(|writer| writer.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with_writer(|writer| writer.poll_shutdown(cx))
    }
}
