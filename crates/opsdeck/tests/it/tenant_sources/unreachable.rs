//! A database that does not answer: a server that accepts connections and says nothing, a
//! closed port, a missing SQLite file, a connection frozen mid-session. Each query fails on its own, within its budget, with a
//! message that names the problem and never the URL's password.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opsdeck_connectors::tenants::{QueryKind, TenantError, TenantQuery, TenantSources};
use opsdeck_core::secret::Secret;
use tokio::net::TcpListener;

use super::fixture::{AppDb, Kind};
use super::tenant;
use crate::support::chaos::ChaosProxy;

const PASSWORD: &str = "sekrit-pw-never-shown";

/// A TCP server on 127.0.0.1 that accepts every connection and never answers; the number of
/// connections it accepted.
pub async fn silent_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, accepted)
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn profile(name: &str, url: String) -> TenantQuery {
    TenantQuery {
        name: name.to_owned(),
        url: Secret::new(url),
        sql: "SELECT name FROM accounts WHERE id = $1".to_owned(),
        kind: QueryKind::Profile,
        mask: Vec::new(),
        timeout: Duration::from_millis(500),
        row_limit: 1,
    }
}

#[tokio::test]
async fn an_unreachable_database_fails_fast_and_alone_without_its_password() {
    let (silent, accepted) = silent_server().await;
    let closed = closed_port().await;
    let missing = std::env::temp_dir().join(format!("opsdeck-none-{}.db", uuid::Uuid::new_v4()));
    let queries = vec![
        profile(
            "pg-silent",
            format!("postgres://app:{PASSWORD}@127.0.0.1:{silent}/app"),
        ),
        profile(
            "mysql-silent",
            format!("mysql://app:{PASSWORD}@127.0.0.1:{silent}/app"),
        ),
        profile(
            "pg-closed",
            format!("postgres://app:{PASSWORD}@127.0.0.1:{closed}/app"),
        ),
        profile(
            "mysql-closed",
            format!("mariadb://app:{PASSWORD}@127.0.0.1:{closed}/app"),
        ),
        profile("sqlite-missing", format!("sqlite://{}", missing.display())),
    ];
    let sources = TenantSources::new(None, queries);
    let started = Instant::now();
    let outcomes = sources.run_all(&tenant("acme")).await;
    // Each has a budget of its timeout plus a second; none hangs.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    for outcome in &outcomes {
        let err = outcome.result.as_ref().expect_err(&outcome.name);
        assert!(
            matches!(err, TenantError::Unreachable(_) | TenantError::Timeout(_)),
            "{}: {err:?}",
            outcome.name
        );
        let text = err.to_string();
        assert!(!text.contains(PASSWORD), "{}: {text}", outcome.name);
    }
    assert!(
        accepted.load(Ordering::SeqCst) > 0,
        "the silent server was reached"
    );
    assert!(
        !missing.exists(),
        "a read-only source never creates a database"
    );
}

/// A database that stops answering in the middle of the session (a network cut, a frozen
/// server): its query fails within its budget — the server's own timeout cannot reach the
/// client — and once the network is back, the next query answers on a fresh connection.
async fn a_frozen_connection_fails_within_the_budget_and_recovers(db: AppDb) {
    let mut url = reqwest::Url::parse(&db.url).unwrap();
    let upstream: std::net::SocketAddr = format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap_or(match db.kind {
            Kind::Mysql => 3306,
            _ => 5432,
        })
    )
    .parse()
    .unwrap();
    let proxy = ChaosProxy::start(upstream).await;
    url.set_port(Some(proxy.addr().port())).unwrap();
    let mut account = profile("account", url.to_string());
    account.timeout = Duration::from_millis(300);
    let sources = TenantSources::new(None, vec![account]);

    let first = sources.run_query("account", &tenant("acme")).await.unwrap();
    assert_eq!(first.rows.len(), 1);

    proxy.blackhole();
    let started = Instant::now();
    let frozen = sources.run_query("account", &tenant("acme")).await;
    assert!(
        matches!(
            frozen,
            Err(TenantError::Timeout(_) | TenantError::Unreachable(_))
        ),
        "{frozen:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    proxy.restore();
    let again = sources.run_query("account", &tenant("acme")).await.unwrap();
    assert_eq!(again.rows.len(), 1);
}

#[tokio::test]
async fn postgres_a_frozen_connection_fails_within_the_budget_and_recovers() {
    let Some(db) = AppDb::postgres().await else {
        return;
    };
    a_frozen_connection_fails_within_the_budget_and_recovers(db).await;
}

#[tokio::test]
async fn mariadb_a_frozen_connection_fails_within_the_budget_and_recovers() {
    let Some(db) = AppDb::mysql().await else {
        return;
    };
    a_frozen_connection_fails_within_the_budget_and_recovers(db).await;
}
