//! What opsdeck shows of Celery queues, and what it refuses to do, with why.

use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_server::config::SourceConfig;
use opsdeck_server::ops::queues;
use opsdeck_server::ops::{Caller, Reason};
use serde_json::{Value, json};

use super::fixture::{CeleryWorld, SOURCE, charge, get_json, polled_queue, principal};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

fn jobs_path(queue: &str, query: &str) -> String {
    format!("/ops/queues/{SOURCE}/{queue}/jobs?{query}")
}

const SECRETS: [&str; 3] = [
    "jane@example.com",
    "4111 1111 1111 1111",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
];

#[tokio::test]
async fn celery_depth_in_flight_and_failures_match_celery() {
    let mut celery = CeleryWorld::new();
    let failed = celery.send(json!([charge("acme"), charge("globex")])).await;
    let states = celery.work(&["billing"], &failed).await;
    assert_eq!(states[&failed[0]], "FAILURE", "{states}");
    let waiting = celery
        .send(json!([
            {"task": "ok", "queue": "billing", "args": ["acme"]},
            {"task": "ok", "queue": "billing", "args": ["initech"], "priority": 6},
            {"task": "ok", "queue": "billing", "args": ["acme"], "priority": 9},
            {"task": "ok", "queue": "reports", "args": ["umbrella"]},
        ]))
        .await;
    let depth = celery.depth().await;
    assert_eq!(
        depth["sizes"],
        json!({"billing": 3, "reports": 1, "slow": 0}),
        "{depth}"
    );

    let app = celery.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let billing = polled_queue(&app, &viewer, "billing", |q| {
        q["counts"]["failed"]["count"] == 2
    })
    .await;
    assert_eq!(
        billing["counts"]["waiting"]["count"], depth["sizes"]["billing"],
        "{billing}"
    );
    assert_eq!(billing["counts"]["active"]["count"], 0, "{billing}");
    assert_eq!(billing["failures_last_hour"], 2, "{billing}");
    assert!(
        billing["oldest_waiting_seconds"].is_null(),
        "messages carry no send time"
    );
    let reports = polled_queue(&app, &viewer, "reports", |_| true).await;
    assert_eq!(reports["counts"]["waiting"]["count"], 1, "{reports}");
    assert_eq!(reports["counts"]["failed"]["count"], 0, "{reports}");
    let (_, overview) = get_json(&app, &viewer, "/ops/queues").await;
    assert_eq!(
        overview["sources"][0]["version"], "celery message protocol 2",
        "{overview}"
    );

    // The waiting list: every message of the queue and its priority siblings, next first.
    let (_, page) = get_json(&app, &viewer, &jobs_path("billing", "state=waiting")).await;
    let mut shown: Vec<String> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        shown[0], waiting[0],
        "the unprioritised message runs first: {page}"
    );
    shown.sort();
    let mut expected = waiting[..3].to_vec();
    expected.sort();
    assert_eq!(shown, expected, "{page}");
    assert_eq!(page["jobs"][0]["name"], "billing.ok");
    let (_, acme) = get_json(
        &app,
        &viewer,
        &jobs_path("billing", "state=waiting&tenant_id=acme"),
    )
    .await;
    assert_eq!(
        acme["jobs"].as_array().unwrap().len(),
        2,
        "tenants from the JSON body: {acme}"
    );

    // Failures from the backend, newest first, tenants from the extended result.
    let (_, page) = get_json(&app, &viewer, &jobs_path("billing", "state=failed")).await;
    let jobs = page["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{page}");
    assert_eq!(jobs[0]["id"], failed[1], "{page}");
    assert_eq!(
        jobs[1]["error"],
        "ValueError: card [card] of [email] declined for acme, token [token]"
    );
    let (_, globex) = get_json(
        &app,
        &viewer,
        &jobs_path("billing", "state=failed&tenant_id=globex"),
    )
    .await;
    assert_eq!(globex["jobs"].as_array().unwrap().len(), 1, "{globex}");

    // A message a real worker holds is in flight for its queue.
    let mut redis = celery.redis();
    let hold = format!("{}opsdeck-test:hold", celery.prefix);
    let _: () = redis::cmd("SET")
        .arg(&hold)
        .arg(1)
        .query(&mut redis)
        .unwrap();
    let held = celery
        .send(json!([{"task": "hold", "queue": "slow", "args": ["acme"]}]))
        .await;
    celery.start_worker(&["slow"]).await;
    let slow = polled_queue(&app, &viewer, "slow", |q| {
        q["counts"]["active"]["count"] == 1
    })
    .await;
    assert_eq!(slow["counts"]["waiting"]["count"], 0, "{slow}");
    assert_eq!(celery.depth().await["unacked"], 1);
    let (_, active) = get_json(&app, &viewer, &jobs_path("slow", "state=active")).await;
    assert_eq!(active["jobs"][0]["id"], held[0], "{active}");
    assert_eq!(active["jobs"][0]["tenant_id"], "acme", "{active}");
    let (status, page) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/slow/jobs/{}", held[0]),
    )
    .await;
    assert_eq!(
        (status, &page["summary"]["state"]),
        (200, &json!("active")),
        "{page}"
    );
    let billing_active = polled_queue(&app, &viewer, "billing", |_| true).await;
    assert_eq!(
        billing_active["counts"]["active"]["count"], 0,
        "counted by routing key"
    );
    let _: () = redis::cmd("DEL").arg(&hold).query(&mut redis).unwrap();
    polled_queue(&app, &viewer, "slow", |q| {
        q["counts"]["active"]["count"] == 0
    })
    .await;
    celery.stop_workers();
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn celery_failures_and_messages_come_out_redacted() {
    let celery = CeleryWorld::new();
    let failed = celery.send(json!([charge("acme")])).await;
    celery.work(&["billing"], &failed).await;
    let mut waiting = charge("acme");
    waiting["queue"] = json!("reports");
    let queued = celery.send(json!([waiting])).await;
    let app = celery.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    polled_queue(&app, &viewer, "billing", |q| {
        q["counts"]["failed"]["count"] == 1
    })
    .await;
    let mut texts = Vec::new();
    for path in [
        jobs_path("billing", "state=failed"),
        format!("/ops/queues/{SOURCE}/billing/jobs/{}", failed[0]),
        jobs_path("reports", "state=waiting"),
        format!("/ops/queues/{SOURCE}/reports/jobs/{}", queued[0]),
    ] {
        let (status, body) = get_json(&app, &viewer, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        texts.push(body);
    }
    for text in &texts {
        let text = text.to_string();
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    let job = &texts[1];
    let stack = job["attempts"][0]["stack"].as_str().unwrap();
    assert!(
        stack.contains("celery_app.py") && stack.contains("[card]"),
        "{stack}"
    );
    assert_eq!(job["summary"]["tenant_id"], "acme", "{job}");
    let keys: Vec<&str> = job["payload"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k[0].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["args[0]", "args[1]", "card", "email", "token"],
        "{job}"
    );
    let message = &texts[3];
    assert_eq!(message["summary"]["state"], "waiting", "{message}");
    let options = message["options"].to_string();
    assert!(
        options.contains("kwargsrepr") && options.contains("[email]"),
        "{options}"
    );
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn celery_retry_discard_and_pause_are_refused_with_why() {
    let celery = CeleryWorld::new();
    let failed = celery.send(json!([charge("acme")])).await;
    celery.work(&["billing"], &failed).await;
    let app = celery.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    polled_queue(&app, &viewer, "billing", |q| {
        q["counts"]["failed"]["count"] == 1
    })
    .await;
    let reason = Reason::parse("the card processor is back").unwrap();
    let ops = app.state.ops();
    let operator = principal(Role::Operator);
    let as_operator = Caller::new(&operator, None, None);
    let err = queues::retry_job(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        "billing",
        &failed[0],
    )
    .await
    .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (409, "not_possible"));
    assert!(
        format!("{err:?}").contains("no operation to retry"),
        "{err:?}"
    );
    let err = queues::discard_job(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        "billing",
        &failed[0],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "not_possible");
    let err = queues::set_paused(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        "billing",
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "not_possible");
    let viewer_principal = principal(Role::Viewer);
    let as_viewer = Caller::new(&viewer_principal, None, None);
    let err = queues::retry_job(
        &app.state,
        ops.act(&as_viewer, &reason),
        SOURCE,
        "billing",
        &failed[0],
    )
    .await
    .unwrap_err();
    assert_eq!(err.status().as_u16(), 403);

    let (_, overview) = get_json(&app, &viewer, "/ops/queues").await;
    let unavailable = &overview["sources"][0]["unavailable"];
    for action in ["retry", "discard", "pause", "bulk"] {
        assert!(unavailable[action].is_string(), "{action}: {overview}");
    }
    // The dashboard says why instead of hiding the buttons.
    let (_, operator_token) = app.mint_role(Role::Operator).await;
    for path in [
        format!("/queues/{SOURCE}/billing"),
        format!("/queues/{SOURCE}/billing/jobs/{}", failed[0]),
    ] {
        let page = app
            .client
            .get(app.url(&path))
            .bearer_auth(&operator_token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Celery keeps no failed set"),
            "{path} says why there is no retry: {page}"
        );
    }
    let queue_page = app
        .client
        .get(app.url(&format!("/queues/{SOURCE}/billing")))
        .bearer_auth(&operator_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        queue_page.contains("Celery has no queue pause"),
        "{queue_page}"
    );
    app.shutdown().await.expect("clean shutdown");

    // A read_only source refuses before anything else.
    let source = SourceConfig {
        read_only: true,
        ..celery.source()
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
    })
    .await;
    let ops = app.state.ops();
    let err = queues::retry_job(
        &app.state,
        ops.act(&as_operator, &reason),
        SOURCE,
        "billing",
        &failed[0],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "read_only");
    app.shutdown().await.expect("clean shutdown");
}

async fn source_error(app: &TestApp, viewer: &str) -> Value {
    wait_for_async(Duration::from_secs(10), "the source's error", || async {
        let (_, overview) = get_json(app, viewer, "/ops/queues").await;
        let source = overview["sources"][0].clone();
        (source["status"] == "stale" && source["error"].is_string()).then_some(source)
    })
    .await
}

#[tokio::test]
async fn celery_unknown_messages_and_results_are_refused() {
    let celery = CeleryWorld::new();
    let mut redis = celery.redis();
    let _: () = redis::cmd("RPUSH")
        .arg(format!("{}billing", celery.prefix))
        .arg(b"\x80\x04\x95pickled".as_slice())
        .query(&mut redis)
        .unwrap();
    let app = celery.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source = source_error(&app, &viewer).await;
    assert!(
        source["error"].as_str().unwrap().contains("not JSON"),
        "{source}"
    );
    let (status, body) = get_json(&app, &viewer, &jobs_path("billing", "state=waiting")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("unsupported")),
        "{body}"
    );
    app.shutdown().await.expect("clean shutdown");

    let _: () = redis::pipe()
        .cmd("DEL")
        .arg(format!("{}billing", celery.prefix))
        .cmd("SET")
        .arg(format!("{}celery-task-meta-0000", celery.prefix))
        .arg(b"\x80\x04\x95pickled".as_slice())
        .query(&mut redis)
        .unwrap();
    let app = celery.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source = source_error(&app, &viewer).await;
    assert!(
        source["error"]
            .as_str()
            .unwrap()
            .contains("result_serializer"),
        "{source}"
    );
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn celery_an_unreachable_redis_is_stale() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let source = SourceConfig {
        poll_interval: Some(Duration::from_secs(1)),
        ..SourceConfig::system(
            SOURCE,
            opsdeck_connectors::queues::celery::Celery::new(&format!(
                "redis://:s3cret-pw@127.0.0.1:{port}/2"
            )),
        )
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source = source_error(&app, &viewer).await;
    let text = source.to_string();
    assert!(
        text.contains("connect") || text.contains("unreachable"),
        "{source}"
    );
    assert!(!text.contains("s3cret-pw"), "{source}");
    let (status, body) = get_json(&app, &viewer, &jobs_path("celery", "state=waiting")).await;
    assert_eq!(status, 503, "{body}");
    app.shutdown().await.expect("clean shutdown");
}

#[test]
fn celery_keys_are_checked_and_secrets_hidden() {
    use opsdeck_connectors::queues::SourceKeys;
    let keys = |value: Value| value.as_object().unwrap().clone();
    let parsed = SourceKeys::parse(
        "celery",
        keys(json!({"url": "redis://:pw-1@broker/0", "result_backend": "redis://:pw-2@results/1"})),
    );
    let source = parsed.source().expect("a broker and a backend");
    assert_eq!(
        source.target(),
        "broker redis://broker/0, results redis://results/1"
    );
    let settings = serde_json::to_string(&source.settings()).unwrap();
    assert!(
        !settings.contains("pw-1") && !settings.contains("pw-2"),
        "{settings}"
    );
    assert!(
        settings.contains("\"queues\":[\"celery\"]"),
        "the default queue: {settings}"
    );
    assert_eq!(source.secrets().len(), 2);
    let parsed = SourceKeys::parse(
        "celery",
        keys(json!({"url": "redis://broker", "result_backend": "amqp://results", "queues": []})),
    );
    let problems = parsed.source().unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(fields, ["result_backend", "queues"], "{problems:?}");
}

#[tokio::test]
async fn celery_tenants_come_from_custom_headers_too() {
    use opsdeck_connectors::queues::{JobQuery, QueueType, SourceContext};
    use opsdeck_core::ids::{QueueName, SourceName, TenantId};
    use opsdeck_core::queues::{JobFilter, JobState, TenantPath};
    let celery = CeleryWorld::new();
    let ids = celery
        .send(json!([
            {"task": "ok", "queue": "reports", "args": [1], "headers": {"tenant_id": "acme"}},
            {"task": "ok", "queue": "reports", "args": [2], "headers": {"tenant_id": "globex"}},
        ]))
        .await;
    let connector = celery
        .celery()
        .connect(SourceContext {
            source: SourceName::parse(SOURCE).unwrap(),
            tenant_path: Some(TenantPath::parse("headers.tenant_id").unwrap()),
            read_timeout: Duration::from_secs(2),
        })
        .await
        .unwrap();
    let query = JobQuery {
        filter: JobFilter {
            state: JobState::Waiting,
            q: None,
            tenant_id: Some(TenantId::parse("globex").unwrap()),
        },
        cursor: None,
        limit: 10,
    };
    let page = connector
        .list_jobs(&QueueName::parse("reports").unwrap(), &query)
        .await
        .unwrap();
    let shown: Vec<&str> = page.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(shown, [ids[1].as_str()], "{page:?}");
}

/// Celery keeps no index of failures: they are found by scanning the result backend, a
/// bounded step per poll. Until a scan has gone round once, the failed list says it may be
/// incomplete; after, it does not.
#[tokio::test]
async fn celery_failed_lists_say_so_until_the_results_are_scanned_through() {
    use opsdeck_connectors::queues::{JobQuery, QueueType, SourceContext};
    use opsdeck_core::ids::{QueueName, SourceName};
    use opsdeck_core::queues::{JobFilter, JobState};
    let celery = CeleryWorld::new();
    // More results than one poll's scan looks at.
    let mut redis = celery.redis();
    for chunk in 0..15 {
        let mut pipe = redis::pipe();
        for n in 0..1_000 {
            pipe.cmd("SET")
                .arg(format!(
                    "{}celery-task-meta-filler-{chunk}-{n}",
                    celery.prefix
                ))
                .arg(r#"{"status": "SUCCESS", "result": null}"#)
                .ignore();
        }
        let _: () = pipe.query(&mut redis).unwrap();
    }
    let connector = celery
        .celery()
        .connect(SourceContext {
            source: SourceName::parse(SOURCE).unwrap(),
            tenant_path: None,
            read_timeout: Duration::from_secs(2),
        })
        .await
        .unwrap();
    let queue = QueueName::parse("billing").unwrap();
    let query = JobQuery {
        filter: JobFilter {
            state: JobState::Failed,
            q: None,
            tenant_id: None,
        },
        cursor: None,
        limit: 10,
    };
    connector.poll(true).await.unwrap();
    let first = connector.list_jobs(&queue, &query).await.unwrap();
    assert!(
        first.partial,
        "one poll cannot have scanned every result: {first:?}"
    );
    let mut polls = 1;
    loop {
        connector.poll(true).await.unwrap();
        polls += 1;
        if !connector.list_jobs(&queue, &query).await.unwrap().partial {
            break;
        }
        assert!(polls < 100, "the scan never went round");
    }
    assert!(polls >= 2, "{polls}");
}
