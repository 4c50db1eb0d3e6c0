//! What opsdeck shows of BullMQ queues: counts and lists as BullMQ reports them, redacted
//! jobs, refused versions, an unreachable Redis.

use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_server::config::SourceConfig;
use serde_json::{Value, json};

use super::fixture::{Bull, Lib, QUEUE, SOURCE, get_json, polled_queue};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

/// Failed, waiting (one with a priority), delayed jobs; then opsdeck's counts and lists
/// against BullMQ's own `getJobCounts` and `getJobs`.
async fn counts_and_lists_match_bullmq(lib: Lib) {
    let bull = Bull::new(lib);
    let failed = bull
        .failed_jobs(
            json!([
                {"name": "send", "data": {"tenantId": "acme", "n": 1}},
                {"name": "send", "data": {"tenantId": "globex", "n": 2}},
                {"name": "send", "data": {"tenantId": "acme", "n": 3}},
            ]),
            "smtp refused",
        )
        .await;
    bull.node(
        "add",
        json!({"jobs": [
            {"name": "later", "data": {"tenantId": "acme"}},
            {"name": "urgent", "data": {"tenantId": "acme"}, "opts": {"priority": 3}},
            {"name": "tomorrow", "data": {}, "opts": {"delay": 86_400_000}},
        ]}),
    )
    .await;
    let bullmq = bull.counts().await;
    let c = &bullmq["counts"];
    let app = bull.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let queue = polled_queue(&app, &viewer, |_| true).await;
    let waiting = c["waiting"].as_u64().unwrap()
        + c["paused"].as_u64().unwrap_or(0)
        + c["prioritized"].as_u64().unwrap();
    for (state, expected) in [
        ("waiting", waiting),
        ("scheduled", c["delayed"].as_u64().unwrap()),
        ("active", c["active"].as_u64().unwrap()),
        ("failed", c["failed"].as_u64().unwrap()),
        ("completed", c["completed"].as_u64().unwrap()),
    ] {
        assert_eq!(
            queue["counts"][state]["count"], expected,
            "{state}: opsdeck {queue}, bullmq {bullmq}"
        );
    }
    assert_eq!((waiting, c["failed"].as_u64()), (2, Some(3)), "{bullmq}");
    assert_eq!(queue["paused"], false);
    assert_eq!(queue["failures_last_hour"], 3, "{queue}");
    assert!(
        queue["oldest_waiting_seconds"].as_f64().is_some(),
        "{queue}"
    );
    let (_, overview) = get_json(&app, &viewer, "/ops/queues").await;
    let version = overview["sources"][0]["version"]
        .as_str()
        .unwrap_or_default();
    let expected = match lib {
        Lib::V6 => "bullmq:6.",
        Lib::V5 => "bullmq:5.",
    };
    assert!(version.starts_with(expected), "{overview}");

    // The failed list, newest first as BullMQ lists it, two per page.
    let mut ids = Vec::new();
    let mut path = format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state=failed&limit=2");
    loop {
        let (status, page) = get_json(&app, &viewer, &path).await;
        assert_eq!(status, 200, "{page}");
        for job in page["jobs"].as_array().unwrap() {
            assert_eq!(job["error"], "smtp refused", "{job}");
            assert_eq!(job["name"], "send");
            ids.push(job["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => {
                path = format!(
                    "/ops/queues/{SOURCE}/{QUEUE}/jobs?state=failed&limit=2&cursor={}",
                    urlencoding(next)
                )
            }
            None => break,
        }
    }
    let listed: Vec<String> = serde_json::from_value(bullmq["failed"].clone()).unwrap();
    assert_eq!(ids, listed, "opsdeck's failed list is BullMQ's");
    let mut sorted = failed.clone();
    sorted.sort();
    ids.sort();
    assert_eq!(ids, sorted);

    let (_, acme) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state=failed&tenant_id=acme"),
    )
    .await;
    assert_eq!(acme["jobs"].as_array().unwrap().len(), 2, "{acme}");

    let (_, waiting_page) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state=waiting"),
    )
    .await;
    let mut shown: Vec<String> = waiting_page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    let mut waiting_ids: Vec<String> = serde_json::from_value(bullmq["waiting"].clone()).unwrap();
    shown.sort();
    waiting_ids.sort();
    assert_eq!(shown, waiting_ids, "{waiting_page}");
    app.shutdown().await.expect("clean shutdown");
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn bullmq6_counts_and_lists_match_bullmq() {
    counts_and_lists_match_bullmq(Lib::V6).await;
}

#[tokio::test]
async fn bullmq5_counts_and_lists_match_bullmq() {
    counts_and_lists_match_bullmq(Lib::V5).await;
}

#[tokio::test]
async fn bullmq_payloads_and_stacks_come_out_redacted() {
    let bull = Bull::new(Lib::V6);
    let ids = bull
        .failed_jobs(
            json!([{
                "name": "charge",
                "data": {
                    "tenantId": "acme",
                    "email": "jane@example.com",
                    "card": "4242 4242 4242 4242",
                    "apiToken": "tok_live_9f8e7d6c5b4a",
                    "detail": "for jane@example.com card 4111-1111-1111-1111 token=abcdef123456",
                },
            }]),
            "charge declined",
        )
        .await;
    let app = bull.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    polled_queue(&app, &viewer, |_| true).await;
    let (status, list) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state=failed"),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let (status, job) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs/{}", ids[0]),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    for text in [list.to_string(), job.to_string()] {
        for secret in [
            "jane@example.com",
            "4242 4242 4242 4242",
            "4111-1111-1111-1111",
            "tok_live_9f8e7d6c5b4a",
            "abcdef123456",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    let attempts = job["attempts"].as_array().unwrap();
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("charge declined for [email] card [card]"),
        "{job}"
    );
    let stack = attempts[0]["stack"].as_str().unwrap();
    assert!(stack.contains("driver.js"), "the stack is shown: {stack}");
    assert_eq!(job["summary"]["tenant_id"], "acme");
    assert_eq!(job["summary"]["attempts"], 1);
    let keys: Vec<&str> = job["payload"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k[0].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"email") && keys.contains(&"card"), "{job}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bullmq_an_unknown_version_is_refused_and_left_alone() {
    let bull = Bull::new(Lib::V6);
    let ids = bull.failed_jobs(json!([{"data": {}}]), "boom").await;
    let mut redis = bull.redis();
    let _: () = redis::cmd("HSET")
        .arg(bull.key("meta"))
        .arg("version")
        .arg("bullmq:7.0.0")
        .query(&mut redis)
        .unwrap();
    let app = bull.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source = wait_for_async(Duration::from_secs(10), "the refusal", || async {
        let (_, overview) = get_json(&app, &viewer, "/ops/queues").await;
        let source = overview["sources"][0].clone();
        source["error"].is_string().then_some(source)
    })
    .await;
    let error = source["error"].as_str().unwrap();
    assert!(
        error.contains("bullmq:7.0.0") && error.contains("bullmq:5.x and bullmq:6.x"),
        "{source}"
    );
    assert_eq!(source["status"], "stale", "{source}");
    let (status, body) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state=failed"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("unsupported")),
        "{body}"
    );
    let (status, _) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs/{}", ids[0]),
    )
    .await;
    assert_eq!(status, 409);

    let operator = super::fixture::principal(Role::Operator);
    let caller = opsdeck_server::ops::Caller::new(&operator, None, None);
    let reason = opsdeck_server::ops::Reason::parse("try it anyway").unwrap();
    let ops = app.state.ops();
    for paused in [true, false] {
        let err = opsdeck_server::ops::queues::set_paused(
            &app.state,
            ops.act(&caller, &reason),
            SOURCE,
            QUEUE,
            paused,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "unsupported");
    }
    let meta: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(bull.key("meta"))
        .query(&mut redis)
        .unwrap();
    assert!(
        !meta.iter().any(|(k, _)| k == "paused"),
        "nothing written: {meta:?}"
    );
    let failed: Vec<String> = redis::cmd("ZRANGE")
        .arg(bull.key("failed"))
        .arg(0)
        .arg(-1)
        .query(&mut redis)
        .unwrap();
    assert_eq!(failed, ids);
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bullmq_an_unreachable_redis_is_stale_and_the_view_answers_at_once() {
    // A port nothing listens on: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let source = SourceConfig {
        poll_interval: Some(Duration::from_secs(1)),
        ..SourceConfig::system(
            SOURCE,
            opsdeck_connectors::queues::bullmq::Bullmq::new(
                &format!("redis://:s3cret-pw@127.0.0.1:{port}"),
                "bull",
            ),
        )
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source: Value = wait_for_async(
        Duration::from_secs(10),
        "the source to be stale",
        || async {
            let (status, overview) = get_json(&app, &viewer, "/ops/queues").await;
            assert_eq!(status, 200, "{overview}");
            let source = overview["sources"][0].clone();
            (source["status"] == "stale" && source["error"].is_string()).then_some(source)
        },
    )
    .await;
    let text = source.to_string();
    assert!(
        text.contains("unreachable") || text.contains("connect"),
        "{source}"
    );
    assert!(!text.contains("s3cret-pw"), "{source}");
    let (status, body) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state=failed"),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    app.shutdown().await.expect("clean shutdown");
}
