//! `http` and `tcp` probes against local servers, and probes of a dependency that accepts
//! connections but never answers: they hang, and the monitor's timeout must cut them off.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use opsdeck_connectors::health::Probe;
use opsdeck_connectors::health::http::{Http, HttpMethod};
use opsdeck_connectors::health::postgres::Postgres;
use opsdeck_connectors::health::redis::Redis;
use opsdeck_connectors::health::tcp::Tcp;
use opsdeck_connectors::health::tls::Tls;
use opsdeck_core::health::Status;
use opsdeck_core::secret::Secret;
use tokio::net::TcpListener;

use super::{Probes, output};

const TOKEN: &str = "probe-token-not-for-output";

/// A local HTTP server on port 0: `/ok`, `/teapot` (418) and `/private` (200 only with the
/// right `x-probe-token` header).
async fn http_server() -> (String, tokio::task::JoinHandle<()>) {
    let router = Router::new()
        .route("/ok", get(|| async { "all systems go" }))
        .route(
            "/teapot",
            get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
        )
        .route(
            "/private",
            get(|headers: HeaderMap| async move {
                match headers.get("x-probe-token") {
                    Some(value) if value == TOKEN => (StatusCode::OK, "welcome"),
                    _ => (StatusCode::UNAUTHORIZED, "who are you"),
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (base, task)
}

fn http_spec(url: String, expect_status: u16, expect_body: Option<&str>) -> Http {
    Http {
        expect_status,
        expect_body: expect_body.map(str::to_owned),
        ..Http::get(Secret::new(url))
    }
}

#[tokio::test]
async fn http_checks_status_and_body() {
    let (base, server) = http_server().await;
    let probes = Probes::new().await;

    let ok = probes
        .observe(&http_spec(format!("{base}/ok"), 200, Some("systems go")))
        .await;
    assert_eq!(ok.status, Status::Pass, "{ok:?}");

    let teapot = probes
        .observe(&http_spec(format!("{base}/teapot"), 200, None))
        .await;
    assert_eq!(teapot.status, Status::Fail);
    let text = output(&teapot);
    assert!(
        text.contains("418") && text.contains("expected 200"),
        "{text}"
    );

    let expected_teapot = probes
        .observe(&http_spec(format!("{base}/teapot"), 418, None))
        .await;
    assert_eq!(expected_teapot.status, Status::Pass, "{expected_teapot:?}");

    let wrong_body = probes
        .observe(&http_spec(
            format!("{base}/ok"),
            200,
            Some("all systems down"),
        ))
        .await;
    assert_eq!(wrong_body.status, Status::Fail);
    assert!(
        output(&wrong_body).contains("does not contain \"all systems down\""),
        "{wrong_body:?}"
    );
    server.abort();
}

#[tokio::test]
async fn http_sends_headers_and_never_echoes_their_values() {
    let (base, server) = http_server().await;
    let probes = Probes::new().await;
    let spec = |token: &str| Http {
        url: Secret::new(format!("{base}/private")),
        method: HttpMethod::Get,
        expect_status: 200,
        expect_body: Some("welcome".to_owned()),
        headers: BTreeMap::from([("x-probe-token".to_owned(), Secret::new(token.to_owned()))]),
    };
    let with_token = probes.observe(&spec(TOKEN)).await;
    assert_eq!(with_token.status, Status::Pass, "{with_token:?}");

    let wrong = "wrong-token-also-secret";
    let rejected = probes.observe(&spec(wrong)).await;
    assert_eq!(rejected.status, Status::Fail);
    let text = output(&rejected);
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(TOKEN), "{text}");
    server.abort();
}

#[tokio::test]
async fn http_to_a_closed_port_fails_without_credentials_in_output() {
    let probes = Probes::new().await;
    let port = super::closed_port().await;
    let spec = http_spec(
        format!("http://user:http-pass-secret@127.0.0.1:{port}/health?token=query-secret"),
        200,
        None,
    );
    let observation = probes.observe(&spec).await;
    assert_eq!(observation.status, Status::Fail);
    let text = output(&observation);
    assert!(text.contains(&format!("127.0.0.1:{port}/health")), "{text}");
    assert!(
        !text.contains("http-pass-secret") && !text.contains("query-secret"),
        "{text}"
    );
}

#[tokio::test]
async fn tcp_passes_while_the_port_listens_and_fails_once_it_closes() {
    let probes = Probes::new().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let spec = Tcp {
        address: address.clone(),
    };
    let open = probes.observe(&spec).await;
    assert_eq!(open.status, Status::Pass, "{open:?}");

    drop(listener);
    let closed = probes.observe(&spec).await;
    assert_eq!(closed.status, Status::Fail);
    assert!(
        output(&closed).contains(&format!("could not connect to {address}")),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_hung_dependency_is_cut_off_by_the_callers_timeout() {
    // Accepts every connection and holds it open without ever sending a byte.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let hung = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let probes = Probes::new().await;
    let specs: [Box<dyn Probe>; 4] = [
        Box::new(Postgres {
            url: Secret::new(format!("postgres://opsdeck@{address}/ops?sslmode=disable")),
        }),
        Box::new(Redis {
            url: Secret::new(format!("redis://{address}")),
        }),
        Box::new(http_spec(format!("http://{address}/health"), 200, None)),
        Box::new(Tls {
            server_name: Some("localhost".to_owned()),
            ..Tls::new(address.clone())
        }),
    ];
    for spec in &specs {
        let started = Instant::now();
        let result =
            tokio::time::timeout(Duration::from_millis(300), probes.observe(spec.as_ref())).await;
        let took = started.elapsed();
        assert!(
            result.is_err(),
            "the {} probe of a hung server returned instead of hanging: {result:?}",
            spec.describe().kind
        );
        assert!(
            took < Duration::from_secs(2),
            "the {} probe took {took:?} to be cancelled",
            spec.describe().kind
        );
    }
    hung.abort();
}
