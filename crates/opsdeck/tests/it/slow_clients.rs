//! SPEC §8, "slow or huge requests do not starve others": proven with raw TCP clients that
//! stall part-way through a request's head or body, and with more connections from one
//! address than it may open, while another client is served.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use opsdeck_core::auth::Role;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::app::TestApp;
use crate::support::db::TestDb;

/// Everything the server sends until it closes the connection, or until `within`.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A client whose connections come from another loopback address than the stalled ones.
fn other_client() -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_heads_are_answered_408_and_a_flood_from_one_address_is_capped() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.server.header_timeout = Duration::from_secs(1);
        c.server.max_connections_per_client = 20;
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /livez HTTP/1.1\r\nHost: opsdeck\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(stream);
    }

    // Past the per-address limit: refused at once, with when to retry.
    let mut extra = TcpStream::connect(app.addr).await.unwrap();
    let refused = read_to_close(&mut extra, Duration::from_secs(5)).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("retry-after: 1"), "{refused}");
    assert!(refused.contains("too_many_connections"), "{refused}");

    // Another client is served meanwhile.
    let other = other_client();
    let response = other.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Each stalled head is answered 408 once the header timeout passes.
    let began = Instant::now();
    for stream in &mut stalled {
        let answer = read_to_close(stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(answer.contains("request_timeout"), "{answer}");
    }
    assert!(began.elapsed() < Duration::from_secs(10));

    // Their slots are free again.
    let again = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if app.get("/livez").await.status() == StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(again.is_ok(), "the address can connect again");
}

#[tokio::test]
async fn an_idle_connection_is_closed_without_an_answer() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.server.header_timeout = Duration::from_millis(500);
    })
    .await;
    // Never sent a byte.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    assert_eq!(read_to_close(&mut idle, Duration::from_secs(5)).await, "");

    // Answered, then kept alive and quiet.
    let mut kept = TcpStream::connect(app.addr).await.unwrap();
    kept.write_all(b"GET /livez HTTP/1.1\r\nHost: opsdeck\r\n\r\n")
        .await
        .unwrap();
    let text = read_to_close(&mut kept, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        !text.contains("408"),
        "an idle keep-alive connection gets no 408: {text}"
    );
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_changes_nothing() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.server.body_timeout = Duration::from_millis(500);
    })
    .await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let tokens_before = app.state.store().list_tokens().await.unwrap().len();
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /ops/tokens HTTP/1.1\r\nHost: opsdeck\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"name\":\"slow\","
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert_eq!(
        app.state.store().list_tokens().await.unwrap().len(),
        tokens_before
    );

    // A huge body: 413, whoever sends it.
    let huge = "x".repeat(2 << 20);
    let response = other_client()
        .post(app.url("/ops/tokens"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
