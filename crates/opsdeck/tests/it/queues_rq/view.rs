//! What opsdeck shows of RQ queues: counts and lists as RQ's registries say, redacted
//! descriptions and tracebacks, refused layouts and versions, an unreachable Redis.

use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_server::config::SourceConfig;
use serde_json::{Value, json};

use super::fixture::{QUEUE, RqWorld, SOURCE, charge, get_json, polled_queue};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

fn jobs_path(query: &str) -> String {
    format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?{query}")
}

#[tokio::test]
async fn rq_counts_and_lists_match_rqs_registries() {
    let rq = RqWorld::new();
    rq.enqueue(json!([{"func": "ok", "args": ["done-1"]}]))
        .await;
    assert_eq!(rq.work().await.len(), 1);
    let failed = rq
        .failed_jobs(json!([charge("acme"), charge("globex"), charge("acme")]))
        .await;
    let waiting = rq
        .enqueue(json!([{"func": "ok", "args": ["acme"]}, {"func": "ok", "args": ["initech"]}]))
        .await;
    let counts = rq.counts().await;
    let app = rq.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let queue = polled_queue(&app, &viewer, |q| q["failures_last_hour"].is_u64()).await;
    for (state, expected) in [
        ("waiting", &counts["queued"]),
        ("active", &counts["started"]),
        ("failed", &counts["failed"]),
        ("completed", &counts["finished"]),
        ("dead", &counts["canceled"]),
    ] {
        assert_eq!(
            &queue["counts"][state]["count"], expected,
            "{state}: opsdeck {queue}, rq {counts}"
        );
    }
    assert_eq!(
        queue["counts"]["scheduled"]["count"].as_u64(),
        Some(counts["scheduled"].as_u64().unwrap() + counts["deferred"].as_u64().unwrap())
    );
    assert_eq!(
        (&counts["queued"], &counts["failed"], &counts["finished"]),
        (&json!(2), &json!(3), &json!(1)),
        "{counts}"
    );
    assert_eq!(queue["failures_last_hour"], 3, "{queue}");
    assert_eq!(queue["paused"], false, "{queue}");
    let oldest = queue["oldest_waiting_seconds"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&oldest), "{queue}");

    // The failed list, newest first, two per page: RQ's registry in reverse.
    let mut ids = Vec::new();
    let mut path = jobs_path("state=failed&limit=2");
    loop {
        let (status, page) = get_json(&app, &viewer, &path).await;
        assert_eq!(status, 200, "{page}");
        for job in page["jobs"].as_array().unwrap() {
            assert_eq!(job["name"], "rq_tasks.charge", "{job}");
            assert!(
                job["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("ValueError: card"),
                "{job}"
            );
            assert!(job["at"].is_string(), "failure time from ended_at: {job}");
            ids.push(job["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => {
                path = jobs_path(&format!(
                    "state=failed&limit=2&cursor={}",
                    next.replace(':', "%3A")
                ))
            }
            None => break,
        }
    }
    let mut listed: Vec<String> = serde_json::from_value(counts["failed_ids"].clone()).unwrap();
    listed.reverse();
    assert_eq!(ids, listed, "opsdeck's failed list is RQ's, newest first");
    let mut sorted = failed.clone();
    sorted.sort();
    ids.sort();
    assert_eq!(ids, sorted);

    let (_, acme) = get_json(&app, &viewer, &jobs_path("state=failed&tenant_id=acme")).await;
    assert_eq!(acme["jobs"].as_array().unwrap().len(), 2, "{acme}");
    let (_, globex) = get_json(&app, &viewer, &jobs_path("state=failed&q=globex")).await;
    assert_eq!(
        globex["jobs"].as_array().unwrap().len(),
        1,
        "the error names it: {globex}"
    );

    let (_, queued) = get_json(&app, &viewer, &jobs_path("state=waiting")).await;
    let shown: Vec<&str> = queued["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        shown, waiting,
        "oldest first, as workers take them: {queued}"
    );
    assert_eq!(queued["jobs"][1]["tenant_id"], "initech", "{queued}");
    let (_, done) = get_json(&app, &viewer, &jobs_path("state=completed")).await;
    assert_eq!(done["jobs"].as_array().unwrap().len(), 1, "{done}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rq_descriptions_and_tracebacks_come_out_redacted() {
    let rq = RqWorld::new();
    let ids = rq.failed_jobs(json!([charge("acme")])).await;
    let app = rq.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    polled_queue(&app, &viewer, |_| true).await;
    let (status, list) = get_json(&app, &viewer, &jobs_path("state=failed")).await;
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
            "4111 1111 1111 1111",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    let attempt = &job["attempts"][0];
    assert_eq!(
        attempt["error"], "ValueError: card [card] of [email] declined for acme, token [token]",
        "{job}"
    );
    let stack = attempt["stack"].as_str().unwrap();
    assert!(
        stack.contains("Traceback") && stack.contains("rq_tasks.py"),
        "the traceback, inflated: {stack}"
    );
    assert!(attempt["at"].is_string(), "{job}");
    assert_eq!(job["summary"]["tenant_id"], "acme", "{job}");
    let options = job["options"].to_string();
    assert!(
        options.contains("rq_tasks.charge('acme', 7, '[card]', '[email]', '[token]')"),
        "the description, redacted: {options}"
    );
    let keys: Vec<&str> = job["payload"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k[0].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["args[0]", "args[1]", "args[2]", "args[3]", "args[4]"],
        "{job}"
    );
    app.shutdown().await.expect("clean shutdown");
}

/// The source's error once a poll has failed.
async fn source_error(app: &TestApp, viewer: &str) -> Value {
    wait_for_async(Duration::from_secs(10), "the refusal", || async {
        let (_, overview) = get_json(app, viewer, "/ops/queues").await;
        let source = overview["sources"][0].clone();
        source["error"].is_string().then_some(source)
    })
    .await
}

#[tokio::test]
async fn rq_an_unknown_worker_version_or_job_layout_is_refused_and_left_alone() {
    let rq = RqWorld::new();
    let ids = rq.failed_jobs(json!([charge("acme")])).await;
    let mut redis = rq.redis();
    let worker = rq.key("worker", "future");
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(&worker)
        .arg("version")
        .arg("4.0.0")
        .cmd("SADD")
        .arg(format!("{}:workers", rq.prefix))
        .arg(&worker)
        .query(&mut redis)
        .unwrap();
    let app = rq.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source = source_error(&app, &viewer).await;
    let error = source["error"].as_str().unwrap();
    assert!(
        error.contains("4.0.0") && error.contains("RQ 1.x to 3.x"),
        "{source}"
    );
    assert_eq!(source["status"], "stale", "{source}");
    app.shutdown().await.expect("clean shutdown");

    // A job hash without RQ's fields: refused by lists, pages and actions alike.
    let _: () = redis::pipe()
        .cmd("DEL")
        .arg(&worker)
        .cmd("HDEL")
        .arg(rq.key("job", &ids[0]))
        .arg("data")
        .query(&mut redis)
        .unwrap();
    let app = rq.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source = source_error(&app, &viewer).await;
    assert!(
        source["error"].as_str().unwrap().contains(&ids[0]),
        "{source}"
    );
    let (status, body) = get_json(&app, &viewer, &jobs_path("state=failed")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("unsupported")),
        "{body}"
    );
    let connector = rq.connector().await;
    let err = connector
        .retry(
            &opsdeck_core::ids::QueueName::parse(QUEUE).unwrap(),
            &[opsdeck_core::ids::JobId::parse(&ids[0]).unwrap()],
            opsdeck_connectors::queues::ActGuard {
                state: opsdeck_core::queues::JobState::Failed,
                failed_not_after: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, opsdeck_connectors::queues::QueueError::Unsupported(_)),
        "{err}"
    );
    let failed: Vec<String> = redis::cmd("ZRANGE")
        .arg(rq.key("failed", QUEUE))
        .arg(0)
        .arg(-1)
        .query(&mut redis)
        .unwrap();
    assert_eq!(failed, ids, "nothing moved");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rq_an_unreachable_redis_is_stale() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let source = SourceConfig {
        poll_interval: Some(Duration::from_secs(1)),
        ..SourceConfig::system(
            SOURCE,
            opsdeck_connectors::queues::rq::Rq::new(
                &format!("redis://:s3cret-pw@127.0.0.1:{port}"),
                "rq",
            ),
        )
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source = wait_for_async(
        Duration::from_secs(10),
        "the source to be stale",
        || async {
            let (_, overview) = get_json(&app, &viewer, "/ops/queues").await;
            let source = overview["sources"][0].clone();
            (source["status"] == "stale" && source["error"].is_string()).then_some(source)
        },
    )
    .await;
    let text = source.to_string();
    assert!(
        text.contains("connect") || text.contains("unreachable"),
        "{source}"
    );
    assert!(!text.contains("s3cret-pw"), "{source}");
    let (status, body) = get_json(&app, &viewer, &jobs_path("state=failed")).await;
    assert_eq!(status, 503, "{body}");
    app.shutdown().await.expect("clean shutdown");
}

#[test]
fn rq_keys_are_checked_and_secrets_hidden() {
    use opsdeck_connectors::queues::SourceKeys;
    let keys = |value: Value| value.as_object().unwrap().clone();
    let parsed = SourceKeys::parse("rq", keys(json!({"url": "redis://:pw-123@cache:6379/1"})));
    let source = parsed.source().expect("url alone is enough");
    assert_eq!(source.target(), "redis://cache:6379/1 prefix rq");
    let settings = serde_json::to_string(&source.settings()).unwrap();
    assert!(!settings.contains("pw-123"), "{settings}");
    assert_eq!(source.secrets(), vec!["redis://:pw-123@cache:6379/1"]);
    let parsed = SourceKeys::parse(
        "rq",
        keys(json!({"url": "http://cache", "prefix": "my prefix", "queues": [""], "paused": true})),
    );
    let problems = parsed.source().unwrap_err();
    let text = format!("{problems:?}");
    assert!(text.contains("paused"), "an unknown key: {text}");
    let parsed = SourceKeys::parse(
        "rq",
        keys(json!({"url": "http://cache", "prefix": "my prefix", "queues": [""]})),
    );
    let problems = parsed.source().unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(fields, ["url", "prefix", "queues[0]"], "{problems:?}");
}
