//! `/readyz` tells the truth about opsdeck's own database: proven by breaking the
//! connection to a real PostgreSQL with a chaos proxy. And shutdown lets a request that is
//! in flight finish.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::chaos::ChaosProxy;
use crate::support::db::TestDb;
use crate::support::{wait_for, wait_for_async};

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let response = app.get("/readyz").await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn readyz_passes_on_sqlite() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "pass");
}

#[tokio::test]
async fn readyz_fails_while_postgres_is_unreachable_and_recovers() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let (proxy, proxied) = ChaosProxy::for_postgres(&db.url).await;
    let app = TestApp::spawn_with(db, |c| {
        c.database.url = opsdeck_core::secret::Secret::new(proxied);
        c.database.acquire_timeout = Duration::from_secs(1);
    })
    .await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);

    proxy.sever();
    let body = wait_for_async(Duration::from_secs(15), "readyz to fail", || async {
        let (status, body) = readyz(&app).await;
        (status == StatusCode::SERVICE_UNAVAILABLE).then_some(body)
    })
    .await;
    assert_eq!(body["status"], "fail");
    assert_eq!(body["error"]["code"], "not_ready");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no details leak: {body}"
    );
    assert_eq!(
        app.get("/livez").await.status(),
        StatusCode::OK,
        "liveness ignores the database"
    );

    proxy.restore();
    wait_for_async(Duration::from_secs(15), "readyz to recover", || async {
        (readyz(&app).await.0 == StatusCode::OK).then_some(())
    })
    .await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let (proxy, proxied) = ChaosProxy::for_postgres(&db.url).await;
    let mut app = TestApp::spawn_with(db, |c| {
        c.database.url = opsdeck_core::secret::Secret::new(proxied);
        // Keep the background loops off the database during the test.
        c.background.heartbeat_interval = Duration::from_secs(24 * 3600);
        c.background.leader_lease = Duration::from_secs(24 * 3600);
    })
    .await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    // The election's first query is done once this replica leads; nothing else touches the
    // database until the heartbeat, hours away.
    wait_for_async(Duration::from_secs(10), "leadership", || async {
        app.metrics()
            .await
            .contains("opsdeck_leader 1")
            .then_some(())
    })
    .await;

    proxy.blackhole();
    let in_flight = {
        let client = app.client.clone();
        let url = app.url("/readyz");
        tokio::spawn(async move { client.get(url).send().await })
    };
    // The readiness query reached the (stalled) database: the request is in flight.
    wait_for(
        Duration::from_secs(10),
        "the readiness query to stall",
        || (proxy.swallowed() > 0).then_some(()),
    )
    .await;
    let stopping = app.begin_shutdown();
    let response = in_flight
        .await
        .unwrap()
        .expect("in-flight request completes, not reset");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    proxy.sever();
    tokio::time::timeout(Duration::from_secs(20), stopping)
        .await
        .expect("shutdown completes")
        .unwrap()
        .expect("clean shutdown");
}
