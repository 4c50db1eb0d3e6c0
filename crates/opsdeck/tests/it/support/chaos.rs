//! A TCP proxy between opsdeck and its database that tests can break: `blackhole` stalls
//! every connection (bytes are swallowed and counted, nothing is delivered or closed),
//! `sever` closes every connection and refuses new ones, `restore` lets traffic flow again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const FLOWING: u8 = 0;
const BLACKHOLE: u8 = 1;
const SEVERED: u8 = 2;

pub struct ChaosProxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    swallowed: Arc<AtomicU64>,
    changed: watch::Sender<u8>,
    task: tokio::task::JoinHandle<()>,
}

impl ChaosProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let mode = Arc::new(AtomicU8::new(FLOWING));
        let (changed, _) = watch::channel(FLOWING);
        let swallowed = Arc::new(AtomicU64::new(0));
        let task = {
            let mode = mode.clone();
            let swallowed = swallowed.clone();
            let changed = changed.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if mode.load(Ordering::SeqCst) == SEVERED {
                        drop(client);
                        continue;
                    }
                    tokio::spawn(pipe(
                        client,
                        upstream,
                        mode.clone(),
                        swallowed.clone(),
                        changed.subscribe(),
                    ));
                }
            })
        };
        Self {
            addr,
            mode,
            swallowed,
            changed,
            task,
        }
    }

    /// A proxy in front of the PostgreSQL server `url` names, and `url` pointed at it.
    pub async fn for_postgres(url: &str) -> (Self, String) {
        let upstream = through_proxy(url, "127.0.0.1:1".parse().expect("addr")).1;
        let proxy = Self::start(upstream).await;
        let proxied = through_proxy(url, proxy.addr()).0;
        (proxy, proxied)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        let _ = self.changed.send(mode);
    }

    /// Bytes swallowed while blackholed: more than zero means a query is stuck in flight.
    pub fn swallowed(&self) -> u64 {
        self.swallowed.load(Ordering::SeqCst)
    }

    pub fn blackhole(&self) {
        self.set(BLACKHOLE);
    }

    pub fn sever(&self) {
        self.set(SEVERED);
    }

    pub fn restore(&self) {
        self.set(FLOWING);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.set(SEVERED);
        self.task.abort();
    }
}

async fn pipe(
    client: TcpStream,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    swallowed: Arc<AtomicU64>,
    mut changed: watch::Receiver<u8>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    loop {
        let current = mode.load(Ordering::SeqCst);
        if current == SEVERED {
            return;
        }
        let deliver = current == FLOWING;
        tokio::select! {
            _ = changed.changed() => continue,
            n = client_read.read(&mut up) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) if !deliver => { swallowed.fetch_add(n as u64, Ordering::SeqCst); }
                Ok(n) => if server_write.write_all(&up[..n]).await.is_err() { return },
            },
            n = server_read.read(&mut down) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) if !deliver => {}
                Ok(n) => if client_write.write_all(&down[..n]).await.is_err() { return },
            },
        }
    }
}

/// Points a PostgreSQL URL at `proxy`; also returns the server's own address.
fn through_proxy(url: &str, proxy: SocketAddr) -> (String, SocketAddr) {
    let after_scheme = url.find("://").expect("scheme") + 3;
    let host_start = url[after_scheme..]
        .find('@')
        .map_or(after_scheme, |i| after_scheme + i + 1);
    let host_end = host_start + url[host_start..].find('/').expect("database name");
    let upstream: SocketAddr = url[host_start..host_end]
        .replace("localhost", "127.0.0.1")
        .parse()
        .expect("test PostgreSQL URL has host:port");
    let proxied = format!("{}{}{}", &url[..host_start], proxy, &url[host_end..]);
    (proxied, upstream)
}
